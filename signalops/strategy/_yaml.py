"""YAML with source positions.

PyYAML's composer gives every node a start mark; we walk the node graph ourselves so that each value
in the resulting plain-Python document keeps the line and column it came from, keyed by its JSON
path.
That map is what lets every later error (schema, compiler, expression) point into the file.

Two deliberate departures from PyYAML's defaults, both to avoid silent surprises in a trading file:
- duplicate keys are errors (PyYAML keeps the last one without a word);
- only ``true``/``false`` are booleans and dates stay strings (YAML 1.1 turns ``no``, ``on`` and
  ``2024-11-06`` into booleans and dates, which is never what a strategy author meant).
"""

from __future__ import annotations

import pathlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import yaml
from yaml import events as _events
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from signalops.errors import StrategyError

Path = tuple[str | int, ...]

# A strategy never nests anywhere near this deep (rules[0].conditions[0].all[0].not is 7 levels);
# much deeper documents would exhaust the Python stack in the recursive passes that follow (JSON
# Schema validation takes ~15 frames per level of nested conditions).
MAX_DEPTH = 32
_TOO_DEEP = f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
# Aliases can make a few lines expand into billions of values ("billion laughs"); no real strategy
# comes near this many values, so past it the file is refused instead of hanging the loader.
MAX_VALUES = 100_000
# The line breaks PyYAML counts in its marks (lines, columns), so that positions we compute from
# character offsets agree with the ones PyYAML reports.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


class _TooDeep(Exception):
    """The composer reached a node inside more than ``MAX_DEPTH`` collections."""

    def __init__(self, mark: yaml.Mark, path: Path) -> None:
        super().__init__()
        self.mark = mark
        self.path = path


class _Loader(yaml.SafeLoader):
    """SafeLoader whose implicit scalar types follow YAML 1.2's core schema for booleans, and
    whose composer refuses a node nested deeper than ``MAX_DEPTH`` before it recurses into it
    (PyYAML's composer recurses once per level: ``[[[[...`` would otherwise take seconds to
    exhaust the Python stack)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # One step per enclosing collection; None for a mapping key (a key is one level inside
        # its mapping, so ``? ? ? ...`` cannot recurse unbounded, but it is not in the path).
        self._path: list[str | int | None] = []

    def compose_node(
        self, parent: yaml.Node | None, index: int | yaml.Node | None
    ) -> yaml.Node | None:
        # ``index`` is a sequence position, a mapping value's key node, or None (a key, the root);
        # PyYAML's stubs say only ``int``.
        step = index.value if isinstance(index, yaml.Node) else index
        if parent is not None:
            self._path.append(step if isinstance(step, str | int) or step is None else "")
        try:
            if len(self._path) > MAX_DEPTH:
                path = tuple(step for step in self._path if step is not None)
                raise _TooDeep(self.peek_event().start_mark, path)
            return super().compose_node(parent, cast(int, index))
        finally:
            if parent is not None:
                self._path.pop()


_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


try:  # PyYAML's wheels carry libyaml; a build without it only loses speed
    from yaml._yaml import CParser

    class _CLoader(CParser, SafeConstructor, Resolver):
        """libyaml's parser with ``_Loader``'s scalar types (the fast path's events)."""

        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _LIBYAML = False


# Text the fast path leaves to PyYAML's own reader and scanner: characters YAML forbids (the
# reader's error names them), tabs and byte-order marks (where libyaml and PyYAML are known to
# disagree on what is allowed), directives (libyaml refuses %YAML 1.3, PyYAML accepts it), and a
# comment right after a block scalar's indicator (``|#``: libyaml reads a comment, PyYAML refuses).
_PYTHON_READER_ONLY = re.compile(
    "[^\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
    "|^%|[|>][-+0-9]*#",
    re.MULTILINE,
)
_LINE_ENDS = ("\n", "\r", "\x85", "\u2028", "\u2029")


class _Unsure(Exception):
    """The fast path met something it may read differently from PyYAML."""


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Mark(NamedTuple):
    """A 1-based position in a source file; ``index`` is the 0-based character offset.

    A NamedTuple rather than a frozen dataclass: a large file has tens of thousands of marks,
    and a NamedTuple is made three times faster.
    """

    line: int
    column: int
    index: int  # type: ignore[assignment]  # shadows tuple.index(), which no one calls on a Mark


@dataclass(slots=True)
class Document:
    """A loaded YAML document: plain data plus where each value and each key came from."""

    data: Any
    text: str
    file: str
    values: dict[Path, tuple[Mark, Mark]] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    styles: dict[Path, str | None] = field(default_factory=dict)
    _line_starts: list[int] | None = field(default=None, repr=False, compare=False)
    _scalar_pieces: dict[Path, list[tuple[int, int, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def mark(self, path: Path) -> Mark:
        """Where the value at ``path`` starts; falls back to the nearest enclosing value."""
        while path:
            if path in self.values:
                return self.values[path][0]
            path = path[:-1]
        return self.values.get((), (Mark(1, 1, 0), Mark(1, 1, 0)))[0]

    def key_mark(self, path: Path) -> Mark:
        """Where the key of the mapping entry at ``path`` starts (the value's mark otherwise)."""
        return self.keys.get(path) or self.mark(path)

    def line_text(self, line: int) -> str | None:
        lines = self.text.splitlines()
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return None

    def error(
        self,
        message: str,
        path: Path,
        *,
        at: Mark | None = None,
        hint: str | None = None,
        expected: tuple[str, ...] = (),
        strategy_relative: bool = True,
    ) -> StrategyError:
        mark = at or self.mark(path)
        return StrategyError(
            message,
            file=self.file,
            line=mark.line,
            column=mark.column,
            path=format_path(path, strategy_relative=strategy_relative),
            hint=hint,
            source_line=self.line_text(mark.line),
            expected=expected,
        )

    def offset_mark(self, path: Path, offset: int) -> Mark:
        """Position in the file of character ``offset`` of the string scalar at ``path``.

        Exact for plain, quoted and literal-block scalars; for anything we cannot map back (escapes,
        folded blocks) the scalar's own start is the honest fallback.
        """
        start = self.values[path][0]
        for consumed, length, found in self._pieces(path):
            if found < 0:
                return start
            if consumed <= offset <= consumed + length:
                return self._mark_at(start.index + found + (offset - consumed))
        return start

    def _pieces(self, path: Path) -> list[tuple[int, int, int]]:
        """Each line of the string at ``path``: (offset in the value, length, offset in the
        source slice), up to the first line not found verbatim (found -1). Worked out once per
        scalar: a compiler asks for many offsets in the same expression."""
        pieces = self._scalar_pieces.get(path)
        if pieces is not None:
            return pieces
        pieces = []
        start, end = self.values[path]
        value = _get(self.data, path)
        if isinstance(value, str):
            raw = self.text[start.index : end.index]
            # Walk the value line by line, finding each line inside the raw source slice.
            cursor = 0
            consumed = 0
            for piece in value.split("\n"):
                found = raw.find(piece, cursor) if piece else cursor
                pieces.append((consumed, len(piece), found))
                if found < 0:
                    break
                consumed += len(piece) + 1
                cursor = found + len(piece)
        self._scalar_pieces[path] = pieces
        return pieces

    def _mark_at(self, index: int) -> Mark:
        # Not just "\n": PyYAML also breaks lines at \r, NEL, LS and PS, and line_text() (via
        # splitlines) agrees with it, so counting "\n" alone would point at the wrong line.
        # The line starts are found once per document: rescanning the text for every mark made
        # compiling quadratic in the file's size (3,000 conditions took 13 s).
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in _LINE_BREAK.finditer(self.text))]
        line = bisect_right(self._line_starts, index)  # the starts at or before index
        return Mark(line, index - self._line_starts[line - 1] + 1, index)


def _get(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def format_path(path: Path, *, strategy_relative: bool = True) -> str:
    """``('strategy', 'rules', 1, 'conditions', 0)`` -> ``rules[1].conditions[0]``.

    Paths are shown relative to the ``strategy`` mapping because that is where every author's
    attention is; the document root itself has no path.
    """
    if strategy_relative and path[:1] == ("strategy",):
        path = path[1:]
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += ("." if text else "") + str(key)
    return text


# A strategy or config is a few kilobytes; a file this big is a mistake or an attack, and
# parsing it would take seconds to minutes before any error could be reported.
MAX_SOURCE_BYTES = 512 * 1024


def read_source(path: str | pathlib.Path, what: str) -> str:
    """A YAML file's text; a file that cannot be read is a ``StrategyError`` naming it.

    ``what`` says what the file should have been ("strategy", "config") in the message.
    """
    name = str(path)
    try:
        size = pathlib.Path(path).stat().st_size
        if size > MAX_SOURCE_BYTES and pathlib.Path(path).is_file():
            raise _too_big(size, what, name)
        return pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StrategyError("no such file", file=name) from None
    except IsADirectoryError:
        raise StrategyError(f"is a directory, not a {what} file", file=name) from None
    except UnicodeDecodeError as exc:
        raise StrategyError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name
        ) from None
    except OSError as exc:
        raise StrategyError(f"cannot read: {exc.strerror}", file=name) from None


def _too_big(size: int, what: str, file: str) -> StrategyError:
    return StrategyError(
        f"{size:,} bytes is over the {MAX_SOURCE_BYTES:,}-byte limit for a {what} file",
        file=file,
    )


def load_yaml(text: str, file: str) -> Document:
    """Parse one YAML document, keeping positions; every problem is a ``StrategyError``."""
    if len(text) > MAX_SOURCE_BYTES:  # characters: at least as many bytes
        raise _too_big(len(text.encode("utf-8")), "YAML", file)
    return _load_fast(text, file) or _load_python(text, file)


def _load_python(text: str, file: str) -> Document:
    """PyYAML's pure-Python reader, scanner and parser: the reference for every error."""
    doc = Document(None, text, file)
    try:
        # The reader checks the whole text for characters YAML forbids as soon as it is built.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(doc, exc) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise StrategyError("the file is empty", file=file, line=1, column=1)
        doc.data = _Builder(doc, loader).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        raise StrategyError(
            f"invalid YAML: {problem}",
            file=file,
            line=line,
            column=column,
            hint=_plain_hint(problem),
            source_line=doc.line_text(line),
        ) from None
    except yaml.YAMLError as exc:
        raise StrategyError(f"invalid YAML: {exc}", file=file) from None
    except _TooDeep as exc:
        raise doc.error(_TOO_DEEP, exc.path, at=_mark(exc.mark)) from None
    finally:
        loader.dispose()
    return doc


# PyYAML's words for the usual slips, said plainly: a line indented more or less than its
# neighbours, a key without its ':', a value holding ': ' unquoted.
_PLAIN_HINTS = (
    ("expected <block end>", "check the indentation of this line against the one above"),
    (
        "mapping values are not allowed",
        "check the indentation of this line against the one above; a value that holds ': ' "
        "goes in quotes",
    ),
    (
        "could not find expected ':'",
        "a line above has a key without its ':', or is indented differently from its neighbours",
    ),
)


def _plain_hint(problem: str) -> str | None:
    return next((hint for words, hint in _PLAIN_HINTS if problem.startswith(words)), None)


def _load_fast(text: str, file: str) -> Document | None:
    """The document built from libyaml's events; None when libyaml is not there, the text holds
    something libyaml might read differently, or anything at all is amiss.

    The pure-Python path then reads the file again and reports every problem, so each error
    message and position is PyYAML's as before; for a file both read, the two give the same
    values, marks and styles (tests/test_compile_scaling.py compares them on generated, real
    and randomly damaged files).
    """
    if not _LIBYAML or _PYTHON_READER_ONLY.search(text):
        return None
    doc = Document(None, text, file)
    loader = None
    try:
        loader = _CLoader(text)
        doc.data = _EventBuilder(doc, loader).document()
    except Exception:  # the pure-Python path reports every problem
        return None
    finally:
        if loader is not None:
            loader.dispose()
    return doc


class _EventBuilder:
    """Values and positions straight from the event stream, as ``_Builder`` makes them from
    PyYAML's nodes, ~5x faster than composing nodes first.

    It raises ``_Unsure`` (and the file goes to PyYAML) for whatever it does not build the same
    way: anchors and aliases, a node nested deeper than MAX_DEPTH, more than MAX_VALUES values,
    merge keys, keys that are not scalars, duplicate keys, and the spots where libyaml's events
    differ from PyYAML's: an empty scalar tagged '!' (a str for libyaml, null for PyYAML), and in a
    flow collection a plain scalar holding '?' (PyYAML ends it there) or an empty one (placed
    elsewhere).
    """

    def __init__(self, doc: Document, loader: _CLoader) -> None:
        self.doc = doc
        self.loader = loader
        self.next = loader.get_event
        self.count = 0
        self.flow = 0  # how many flow collections ([...], {...}) enclose the current node
        # libyaml ends a text that has no final line break with a virtual one, so a mark at the
        # very end is on the next line there and on the last line in PyYAML; -1: none to correct.
        self.eof = -1 if doc.text.endswith(_LINE_ENDS) else len(doc.text)

    def document(self) -> Any:
        take = self.next
        if type(take()) is not _events.StreamStartEvent:
            raise _Unsure
        if type(take()) is not _events.DocumentStartEvent:
            raise _Unsure  # an empty file among others
        data = self.node(take(), (), 0)
        if type(take()) is not _events.DocumentEndEvent:
            raise _Unsure
        if type(take()) is not _events.StreamEndEvent:
            raise _Unsure  # a second document
        return data

    def node(self, event: Any, path: Path, depth: int) -> Any:
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_VALUES or event.anchor is not None:
            raise _Unsure
        kind = type(event)
        doc = self.doc
        if kind is _events.ScalarEvent:
            doc.values[path] = (self.mark(event.start_mark), self.mark(event.end_mark))
            doc.styles[path] = event.style or None  # libyaml says '' for plain, PyYAML None
            return self.scalar(event)
        start = self.mark(event.start_mark)
        doc.values[path] = (start, start)  # keeps _Builder's order: a collection before its items
        flow = 1 if event.flow_style else 0
        self.flow += flow
        take = self.next
        if kind is _events.SequenceStartEvent:
            items: list[Any] = []
            end = take()
            while type(end) is not _events.SequenceEndEvent:
                items.append(self.node(end, (*path, len(items)), depth + 1))
                end = take()
            result: Any = items
        elif kind is _events.MappingStartEvent:
            result = {}
            end = self.mapping(result, path, depth)
        else:
            raise _Unsure  # an alias
        self.flow -= flow
        doc.values[path] = (start, self.mark(end.end_mark))
        return result

    def mapping(self, result: dict[str, Any], path: Path, depth: int) -> Any:
        """Fill ``result`` with the mapping's entries; the event that ends it."""
        take = self.next
        keys = self.doc.keys
        event = take()
        while type(event) is not _events.MappingEndEvent:
            if type(event) is not _events.ScalarEvent or event.anchor is not None:
                raise _Unsure
            if depth + 1 > MAX_DEPTH:
                raise _Unsure
            key = self.scalar(event, key=True)
            if not isinstance(key, str):
                key = str(event.value)
            if key in result:
                raise _Unsure
            keys[(*path, key)] = self.mark(event.start_mark)
            result[key] = self.node(take(), (*path, key), depth + 1)
            event = take()
        return event

    def scalar(self, event: Any, *, key: bool = False) -> Any:
        value = event.value
        tag = event.tag
        if tag == "!" or (self.flow and not event.style and (not value or "?" in value)):
            raise _Unsure
        if tag is None:
            tag = self.loader.resolve(yaml.ScalarNode, value, event.implicit)
        if tag == _STR_TAG:
            return value
        if key and tag == _MERGE_TAG:
            raise _Unsure
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        return self.loader.construct_object(node, deep=True)

    def mark(self, mark: Any) -> Mark:
        if mark.index == self.eof:
            return self.doc._mark_at(mark.index)
        return Mark(mark.line + 1, mark.column + 1, mark.index)


def _reader_error(doc: Document, exc: yaml.reader.ReaderError) -> StrategyError:
    """A character YAML does not allow (e.g. a NUL or another control character)."""
    mark = doc._mark_at(min(max(exc.position, 0), len(doc.text)))
    character = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return doc.error(
        f"invalid YAML: the character {ord(character):#06x} is not allowed in a YAML file",
        (),
        at=mark,
        hint="remove it, or write it as an escape such as \\x07 inside double quotes",
    )


class _Builder:
    def __init__(self, doc: Document, loader: _Loader) -> None:
        self.doc = doc
        self.loader = loader
        self.active: set[int] = set()  # node ids on the current path, to refuse recursive aliases
        self.count = 0  # values built so far, aliases expanded

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if len(path) > MAX_DEPTH:  # reached through an alias: the composer saw it shallower
            raise self._error(_TOO_DEEP, node.start_mark, path)
        if self.count > MAX_VALUES:
            raise self._error(
                f"the document has more than {MAX_VALUES} values (YAML aliases expanding?)",
                node.start_mark,
                path,
            )
        self.doc.values[path] = (_mark(node.start_mark), _mark(node.end_mark))
        if isinstance(node, yaml.ScalarNode):
            self.doc.styles[path] = node.style
            return self._scalar(node, path)
        if id(node) in self.active:
            raise self._error("a YAML alias refers to itself", node.start_mark, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise self._error("unsupported YAML node", node.start_mark, path)  # pragma: no cover

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._error(
                    "YAML merge keys ('<<') are not supported; use params and defaults",
                    key_node.start_mark,
                    path,
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error("a mapping key must be a plain string", key_node.start_mark, path)
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                # 1: x or true: y would silently become non-string keys; JSON has only strings.
                key = str(key_node.value)
            if key in first_seen:
                seen = first_seen[key]
                raise self._error(
                    f"duplicate key '{key}'",
                    key_node.start_mark,
                    path,
                    hint=f"first defined at line {seen.line + 1}",
                )
            first_seen[key] = key_node.start_mark
            self.doc.keys[(*path, key)] = _mark(key_node.start_mark)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor.construct_yaml_str returns, without its cost
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception:
            # An explicit tag whose text does not fit it (!!int abc, !!bool maybe, !!timestamp x)
            # makes PyYAML's constructors fail with ValueError, KeyError or AttributeError.
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self._error(
                f"invalid YAML: {node.value!r} is not a valid {tag}", node.start_mark, path
            ) from None

    def _error(
        self, message: str, mark: yaml.Mark, path: Path, hint: str | None = None
    ) -> StrategyError:
        return self.doc.error(message, path, at=_mark(mark), hint=hint)


def _mark(mark: yaml.Mark) -> Mark:
    return Mark(mark.line + 1, mark.column + 1, mark.index)
