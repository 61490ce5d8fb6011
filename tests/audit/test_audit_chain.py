"""Sealing: seq, prev_hash and a hash over the canonical JSON of everything else."""

from __future__ import annotations

import hashlib

import pytest
from audit_scenarios import SCENARIOS

from signalops.audit.chain import GENESIS, check, record_hash, seal, seal_to_json
from signalops.canonical import canonical_json


def test_genesis_is_64_zeros():
    assert GENESIS == "0" * 64


def test_seal_adds_seq_prev_hash_and_the_sha256_of_the_canonical_json_without_hash():
    record = SCENARIOS.record("buy")
    sealed = seal(record, GENESIS, 1)
    assert sealed["seq"] == 1 and sealed["prev_hash"] == GENESIS
    unhashed = {k: v for k, v in sealed.items() if k != "hash"}
    expected = hashlib.sha256(canonical_json(unhashed).encode("utf-8")).hexdigest()
    assert sealed["hash"] == expected == record_hash(sealed)
    assert "hash" not in record  # the input is left alone


def test_sealed_record_checks_and_any_edit_breaks_the_check():
    sealed = seal(SCENARIOS.record("buy"), GENESIS, 1)
    assert check(sealed)
    assert not check({**sealed, "verdict": "HOLD"})
    assert not check({**sealed, "seq": 2})
    assert not check({**sealed, "prev_hash": "1" * 64})
    observations = [dict(entry) for entry in sealed["observations"]]
    observations[0]["value"] = 35.0
    assert not check({**sealed, "observations": observations})
    # A trace added to a compact record is not part of what was sealed: it breaks the check.
    assert not check({**sealed, "trace": {"leaves": []}})


def test_record_without_a_hash_does_not_check():
    assert not check(SCENARIOS.record("hold"))


def test_hash_depends_on_position_in_the_chain():
    record = SCENARIOS.record("hold")
    assert seal(record, GENESIS, 1)["hash"] != seal(record, GENESIS, 2)["hash"]
    assert seal(record, GENESIS, 1)["hash"] != seal(record, "a" * 64, 1)["hash"]


def test_sealing_a_sealed_record_is_refused():
    sealed = seal(SCENARIOS.record("hold"), GENESIS, 1)
    with pytest.raises(ValueError, match="already sealed"):
        seal(sealed, sealed["hash"], 2)
    with pytest.raises(ValueError, match="already sealed"):
        seal_to_json(sealed, sealed["hash"], 2)


def test_seq_below_one_is_refused():
    with pytest.raises(ValueError, match="seq starts at 1"):
        seal(SCENARIOS.record("hold"), GENESIS, 0)


@pytest.mark.parametrize(
    "record",
    [
        {"kind": "x"},  # nothing sorts before "hash" (kind, prev_hash, seq all after it)
        {"a": 1, "b": [1.5, None, "ü"]},  # every key before "hash"
        {"z": {"y": 1}, "id": "é"},  # every key after "hash"
        {"hasg": 1, "hasi": 2, "hash_": 3, "has": 4},  # keys right next to "hash"
    ],
)
def test_fast_seal_writes_exactly_the_canonical_json_of_the_sealed_record(record):
    sealed, body = seal_to_json(record, GENESIS, 7)
    assert sealed == seal(record, GENESIS, 7)
    assert body == canonical_json(sealed)


def test_fast_seal_matches_for_real_decision_records():
    for situation in ("buy", "blocked", "denied", "hold", "pending"):
        record = SCENARIOS.record(situation)
        sealed, body = seal_to_json(record, "f" * 64, 12)
        assert body == canonical_json(seal(record, "f" * 64, 12))
        assert check(sealed)
