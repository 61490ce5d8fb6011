"""The strategy language: load a YAML file, check it, compile it into a ``Strategy``.

    strategy = load("strategies/banking_crisis.yaml")      # raises StrategyError on any problem
    evaluation = strategy.evaluate(observations, as_of, "BTC")

Loading runs three passes, each reporting every problem it finds with file, line and column:
YAML (syntax, duplicate keys), the JSON Schema (shape, unknown keys), and the compiler (metrics,
parameters, expressions, confirmations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import Catalogue
from signalops.errors import StrategyError, raise_collected
from signalops.strategy._yaml import Document, load_yaml, read_source
from signalops.strategy.compiler import Compiled, compile_checked, compile_document
from signalops.strategy.model import Execution, Strategy
from signalops.strategy.schema import check_schema, schema_path, strategy_schema

__all__ = [
    "Compiled",
    "Execution",
    "Strategy",
    "find_strategy_files",
    "load",
    "load_checked",
    "loads",
    "schema_path",
    "strategy_schema",
]

STRATEGY_SUFFIXES = (".yaml", ".yml")


def loads(text: str, file: str = "<string>", catalogue: Catalogue = BUILTIN) -> Strategy:
    """Compile strategy YAML given as text; ``file`` is the name errors will cite."""
    return compile_document(_document(text, file, catalogue), catalogue)


def load(path: str | Path, catalogue: Catalogue = BUILTIN) -> Strategy:
    """Compile a strategy file."""
    return loads(read_source(path, "strategy"), str(path), catalogue)


def load_checked(path: str | Path, catalogue: Catalogue = BUILTIN) -> Compiled:
    """``load``'s outcome as a value: the strategy or the errors, and the compiler's warnings
    even when it found errors (none when the YAML or the schema pass did: it did not run)."""
    try:
        doc = _document(read_source(path, "strategy"), str(path), catalogue)
    except StrategyError as error:
        return Compiled(error=error)
    return compile_checked(doc, catalogue)


def _document(text: str, file: str, catalogue: Catalogue) -> Document:
    """The YAML passes and the schema pass: the document the compiler reads."""
    doc = load_yaml(text, file)
    raise_collected(check_schema(doc, tuple(catalogue.sources)))
    return doc


def find_strategy_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders expanded to their ``*.yaml``/``*.yml`` files, sorted, recursively.

    A file named twice (or inside a folder also given) is yielded once.
    """
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in STRATEGY_SUFFIXES and p.is_file()
            )
        else:
            found = [path]
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file
