"""The hash chain: each record commits to its own content and to the record before it.

``hash`` = sha256 (hex) of the canonical JSON of the record *without* ``hash`` but *with*
``seq`` and ``prev_hash``. Editing any field changes the hash; re-computing the hash after an
edit changes what the next record's ``prev_hash`` should have been, so an edit can only hide by
rewriting every later record, and the store's chain head catches even that (see ``verify``).

The hash is plain hex (not ``sha256:...`` like content hashes) so that ``prev_hash`` of the
first record can be ``GENESIS``, 64 zeros.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from signalops.canonical import canonical_json_of_plain

GENESIS = "0" * 64
SEALED_FIELDS = ("seq", "prev_hash", "hash")
# Records are plain JSON data (the builders' json_safe output, or a stored body read back):
# canonical JSON through orjson, byte for byte what ``canonical_json`` writes.
_encode = canonical_json_of_plain


def record_hash(record: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``record`` minus its ``hash`` field."""
    content = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(_encode(content).encode("utf-8")).hexdigest()


def seal(record: Mapping[str, Any], prev_hash: str, seq: int) -> dict[str, Any]:
    """A new dict: ``record`` placed at ``seq`` after the record whose hash is ``prev_hash``."""
    already = [name for name in SEALED_FIELDS if name in record]
    if already:
        raise ValueError(f"record {record.get('id')} is already sealed ({', '.join(already)})")
    if seq < 1:
        raise ValueError("seq starts at 1")
    sealed = {**record, "seq": seq, "prev_hash": prev_hash}
    sealed["hash"] = record_hash(sealed)
    return sealed


def _join(left: str, right: str) -> str:
    """Two canonical JSON objects with disjoint keys, the left ones all sorting first: merged."""
    if left == "{}":
        return right
    if right == "{}":
        return left
    return left[:-1] + "," + right[1:]


def seal_to_json(record: Mapping[str, Any], prev_hash: str, seq: int) -> tuple[dict[str, Any], str]:
    """``seal`` plus the sealed record's canonical JSON, serialising the record only once.

    The same bytes as ``canonical_json(seal(...))`` (a test holds them equal): the members
    sorting before ``hash`` and those after it are serialised separately, then joined without
    ``hash`` (to hash them) and with it (to store them). Bulk appends spend most of their time
    serialising; this halves it.
    """
    already = [name for name in SEALED_FIELDS if name in record]
    if already:
        raise ValueError(f"record {record.get('id')} is already sealed ({', '.join(already)})")
    if seq < 1:
        raise ValueError("seq starts at 1")
    sealed = {**record, "seq": seq, "prev_hash": prev_hash}
    before = _encode({k: v for k, v in sealed.items() if k < "hash"})
    after = _encode({k: v for k, v in sealed.items() if k > "hash"})
    digest = hashlib.sha256(_join(before, after).encode("utf-8")).hexdigest()
    sealed["hash"] = digest
    return sealed, _join(_join(before, f'{{"hash":"{digest}"}}'), after)


def check(record: Mapping[str, Any]) -> bool:
    """Whether ``record``'s own hash matches its content (its links are ``verify``'s job)."""
    stated = record.get("hash")
    return isinstance(stated, str) and stated == record_hash(record)
