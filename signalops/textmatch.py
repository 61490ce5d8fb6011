"""News queries: a phrase, or a ``/regex/`` that runs on RE2 so that no pattern can hang.

A backtracking engine (Python's ``re``) takes exponential time on patterns such as
``/(a+)+$/``: 42 s on a 28-character headline, with the run loop stuck behind it. RE2 matches in
time linear in the text for every pattern it accepts; it refuses what cannot be matched that way
(backreferences, lookaround), and the strategy compiler reports that at the parameter's line
and column, before anything runs.

A phrase (no slashes) matches its words in order at word boundaries, whitespace between them
free; it is built here from escaped literals, so Python's ``re`` is linear on it too.

Names as well: :func:`closest` is the "did you mean" of a name against the ones that exist (an
asset the config serves, a recorded series, a stablecoin DeFiLlama lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

import re2

_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr through absl
_OPTIONS.max_mem = 8 << 20  # a pattern whose automaton needs more is refused, not run


class Matcher(Protocol):
    def search(self, text: str) -> object | None: ...


def is_pattern(query: str) -> bool:
    text = query.strip()
    return len(text) >= 2 and text.startswith("/") and text.endswith("/")


def compile_query(query: str) -> Matcher:
    """The matcher for ``query``; ``ValueError`` with the reason when it cannot be one."""
    text = query.strip()
    if is_pattern(text):
        pattern = text[1:-1]
        if not pattern:
            raise ValueError("empty regular expression '//'")
        try:
            return re2.compile(pattern, _OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise ValueError(
                f"invalid regular expression {text}: {reason} (patterns run on RE2, which "
                "matches in linear time: no backreferences or lookaround)"
            ) from None
    words = text.split()
    if not words:
        raise ValueError("empty news query")
    phrase = r"\s+".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w){phrase}(?!\w)", re.IGNORECASE)


def check_query(query: str) -> None:
    """The compiler's check of a ``query`` parameter (raises ``ValueError``)."""
    compile_query(query)


def closest(word: str, names: Iterable[str]) -> str | None:
    """The name ``word`` most likely misspells, or None when none is near enough.

    A name equal but for case comes first (``aapl`` -> ``AAPL``). Otherwise the nearest by edits
    (a letter added, dropped, changed, or two neighbours swapped: ``USCD`` -> ``USDC``), at most
    1 for a word of up to 5 characters and 2 for a longer one, and none for a word of 1 or 2
    characters, where one edit turns anything into anything; ties go to the earlier name, so
    callers list the likelier names first.
    """
    folded = word.casefold()
    candidates = [name for name in names if name != word]
    for name in candidates:
        if name.casefold() == folded:
            return name
    limit = 0 if len(folded) < 3 else 1 if len(folded) <= 5 else 2
    best: tuple[int, str] | None = None
    for name in candidates:
        distance = _edits(folded, name.casefold(), limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, name)
    return best[1] if best else None


def spelled(word: str, names: Iterable[str]) -> str:
    """``word`` as ``names`` spell it: the one name equal to it but for case, when it is not
    one of them itself and exactly one is (``btc`` -> ``BTC``); else ``word`` as given."""
    known = list(names)
    if word in known:
        return word
    same = [name for name in known if name.casefold() == word.casefold()]
    return same[0] if len(same) == 1 else word


def _edits(a: str, b: str, limit: int) -> int:
    """Edits from ``a`` to ``b`` (optimal string alignment: insert, delete, substitute, swap two
    neighbours); any answer above ``limit`` is ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i, *([0] * len(b))]
        for j, other in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if before is not None and j > 1 and char == b[j - 2] and a[i - 2] == other:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)
