"""Number literals of the strategy language: ``100M``, ``5%``, ``2.5k``, ``1e6``.

Below the compiler and the vote and sweep parsers, which all read them the same way.
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?([%kKMBT]?)$")
_SCALE = {"": 1.0, "%": 0.01, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_number(text: str) -> float | None:
    """``'100M'`` -> 1e8, ``'5%'`` -> 0.05; None when ``text`` is not a number."""
    match = _NUMBER.match(text.strip().replace("_", ""))
    if not match:
        return None
    suffix = match.group(1)
    body = text.strip().replace("_", "")[: len(text.strip().replace("_", "")) - len(suffix)]
    value = float(body) * _SCALE[suffix]
    return value if math.isfinite(value) else None


__all__ = ["parse_number"]
