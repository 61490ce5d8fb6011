"""canonical_json_of_plain (orjson) writes exactly the bytes canonical_json (stdlib) writes.

Hashes in every audit log depend on it: a single differing byte would make every record written
by the fast path fail verification against the stdlib one. orjson and Python's ``repr`` format
some floats differently (below 1e-4, exponents); those must take the stdlib path.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import pytest

from signalops.canonical import canonical_json, canonical_json_of_plain

AWKWARD = [
    1e-05,
    -8.446148191750935e-05,
    3.0129229632803075e-09,
    1e16,
    -1.5e300,
    5e-324,
    1.7976931348623157e308,
    0.0001,
    9999999999999998.0,
    2**64,
    -(2**70),
]


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_a_float_or_int_orjson_writes_differently_comes_out_as_the_stdlib_writes_it(value):
    for shape in (value, [value], {"k": value}, {"a": [1, {"b": value}]}):
        assert canonical_json_of_plain(shape) == canonical_json(shape)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        keys = ["a", "B", "é", "𝄞", "\u2028", "k" + str(rng.randint(0, 99))]
        return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 3 and roll < 0.35:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    kind = rng.randint(0, 6)
    if kind == 0:
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        return bits if math.isfinite(bits) else 1.5
    if kind == 1:
        return rng.uniform(-1e-3, 1e-3)
    if kind == 2:
        return rng.randint(-(2**70), 2**70)
    if kind == 3:
        return 'x\x00\x1f"\\é\u2028' + str(rng.random())
    if kind == 4:
        return rng.choice([None, True, False])
    if kind == 5:
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 9))
    return rng.randint(-1000, 1000)


def test_twenty_thousand_random_documents_encode_to_the_same_text_both_ways():
    rng = random.Random(20261202)
    for _ in range(20_000):
        value = _random_value(rng)
        assert canonical_json_of_plain(value) == canonical_json(value), value
