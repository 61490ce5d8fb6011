"""The JSON Schema of audit records (``schemas/decision.schema.json``), loaded once.

The schema file is the single source of truth for the record format; ``record_errors`` is for
tests, exports and tools that accept records from elsewhere. The store does not validate every
append against it: bulk loads of a million records would pay for it on every row, and records
built by ``signalops.audit.record`` conform by construction (the tests check that they do).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from signalops.strategy.schema import schema_path

SCHEMA_FILE = "decision.schema.json"


@cache
def record_schema() -> dict[str, Any]:
    return json.loads(schema_path(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def record_validator() -> Draft202012Validator:
    return Draft202012Validator(record_schema())


def record_errors(record: Any) -> list[str]:
    """Every way ``record`` breaks the schema, as ``path: message``; empty when it conforms."""
    errors = sorted(record_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in errors]
