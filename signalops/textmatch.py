"""News queries: a phrase, or a ``/regex/`` that runs on RE2 so that no pattern can hang.

A backtracking engine (Python's ``re``) takes exponential time on patterns such as
``/(a+)+$/``: 42 s on a 28-character headline, with the run loop stuck behind it. RE2 matches in
time linear in the text for every pattern it accepts; it refuses what cannot be matched that way
(backreferences, lookaround), and the strategy compiler reports that at the parameter's line
and column, before anything runs.

A phrase (no slashes) matches its words in order at word boundaries, whitespace between them
free; it is built here from escaped literals, so Python's ``re`` is linear on it too.
"""

from __future__ import annotations

import re
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
