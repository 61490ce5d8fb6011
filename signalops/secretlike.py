"""What a secret pasted into a file looks like, and text with it masked.

Strategy and config files hold no secrets (a webhook names the environment variable that holds
its URL), so a secret in one was pasted there by mistake, and the error that points at it must
not print it back: ``validate`` runs in CI logs. Masked: a URL's credentials (``user:pass@``),
a URL whose path or query carries a token-like piece (Slack's and Discord's webhooks; a feed's
URL has none and is kept), a Telegram bot token and a Slack token. A URL keeps its scheme and
host (which service), a token its first four characters.
"""

from __future__ import annotations

import re

_URL = re.compile(r"https?://[^\s'\"<>]+")
_TOKENS = re.compile(
    r"\b[0-9]{6,}:[A-Za-z0-9_-]{20,}"  # a Telegram bot token
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # a Slack token
)
_PIECE = re.compile(r"[A-Za-z0-9_-]+")


def masked(text: str) -> str:
    """``text`` with what looks like a secret masked (see the module docstring)."""
    return _URL.sub(_url_masked, _TOKENS.sub(lambda m: m.group(0)[:4] + "…", text))


def _url_masked(found: re.Match[str]) -> str:
    url = found.group(0)
    scheme, _, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    _, at, host = authority.rpartition("@")
    if at or any(_token_like(piece) for piece in _PIECE.findall(tail)):
        return f"{scheme}://{host}/…" if slash or at else f"{scheme}://{host}"
    return url


def _token_like(piece: str) -> bool:
    """Long, or letters with digits (``SLACKSECRETzq81``; not ``outboundfeeds``)."""
    mixed = any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece)
    return len(piece) >= 20 or (len(piece) >= 10 and mixed)


__all__ = ["masked"]
