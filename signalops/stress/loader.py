"""Scenario files: read like strategies and configs, with every error at its file:line:column.

    name: usdc_depeg_venue_rejects
    description: "the venue refuses every order for two days of the March 2023 crisis"
    from: 2023-03-01
    to: 2023-03-31
    shocks:
      - venue_rejects: {from: 2023-03-10, hours: 48}

The file is YAML with positions (``signalops.strategy._yaml``: duplicate keys are errors, dates
stay text), checked against ``schemas/stress.schema.json`` (unknown keys get "did you mean"),
and against what the schema cannot say: times that are real dates, a window that does not
end before it starts, shocks inside the window, one kind per shock, a source that exists.
Both in one pass: the meaning of every value the schema took is checked beside the schema's
errors (``pct: 20%`` and ``source: onchian`` are told together), as a strategy file lists
every mistake at once.

The bundled scenarios live in the checkout's ``scenarios/`` folder; the wheel carries a copy
under ``signalops/_bundled/scenarios`` (``pyproject.toml``), as it carries the strategies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from signalops.adapters import registry
from signalops.canonical import iso
from signalops.catalogue.spec import parse_duration
from signalops.config import schema_problems
from signalops.errors import InputError, StrategyError, raise_collected
from signalops.strategy._yaml import Document, load_yaml, read_source
from signalops.strategy.schema import did_you_mean, schema_path
from signalops.stress.scenario import (
    HISTORICAL,
    Gap,
    Outage,
    PredictionJump,
    Scenario,
    Shock,
    VenueRejects,
)

SCHEMA_FILE = "stress.schema.json"
SCENARIOS = "scenarios"
SUFFIXES = (".yaml", ".yml")
KINDS = ("gap", "prediction_jump", "outage", "venue_rejects")

Path_ = tuple[str | int, ...]


# --- files -----------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in a file; any problem is a ``StrategyError`` with its position."""
    return loads_scenario(read_source(path, "scenario"), str(path))


def loads_scenario(text: str, file: str = "<string>") -> Scenario:
    """A scenario given as YAML text (``file`` names it in errors)."""
    doc = load_yaml(text, file)
    problems = check_scenario_schema(doc)
    reader = _Reader(doc, _refused(doc) if problems else None)
    scenario = reader.scenario()
    found = {str(e): e for e in sorted([*problems, *reader.errors], key=_place)}
    raise_collected(list(found.values()))
    assert scenario is not None  # no error: every value was read
    return scenario


def bundled_dir() -> Traversable:
    """The bundled scenarios: the wheel's copy, else the checkout's ``scenarios/``."""
    packaged = resources.files("signalops") / "_bundled" / SCENARIOS
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / SCENARIOS


def bundled_scenarios() -> list[Scenario]:
    """Every bundled scenario: the historical ones by date, then the synthetic ones by date."""
    folder = bundled_dir()
    found = [
        loads_scenario(f.read_text(encoding="utf-8"), f"{SCENARIOS}/{f.name}")
        for f in folder.iterdir()
        if f.name.endswith(SUFFIXES)
    ]
    return sorted(found, key=lambda s: (s.kind != HISTORICAL, s.start, s.name))


def select(chosen: Sequence[str]) -> list[Scenario]:
    """The scenarios ``chosen`` names, in that order: each a bundled scenario's name or a file
    (a path that exists, or one ending in .yaml/.yml); none chosen: every bundled scenario.

    ``InputError`` for a name no bundled scenario has, or two scenarios with one name (their
    audit logs would share a folder)."""
    if not chosen:
        found = bundled_scenarios()
    else:
        bundled: dict[str, Scenario] | None = None
        found = []
        for item in chosen:
            if Path(item).is_file() or item.endswith(SUFFIXES):
                found.append(load_scenario(item))
                continue
            if bundled is None:
                bundled = {s.name: s for s in bundled_scenarios()}
            if item not in bundled:
                hint = did_you_mean(item, sorted(bundled))
                raise InputError(
                    f"no bundled scenario '{item}'"
                    + (f" ({hint})" if hint else f" (bundled: {', '.join(sorted(bundled))})")
                )
            found.append(bundled[item])
    names = [s.name for s in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"scenario '{twice[0]}' is chosen twice (names must differ)")
    return found


# --- the schema ------------------------------------------------------------------------------


@cache
def stress_schema() -> dict[str, Any]:
    return json.loads(schema_path(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(stress_schema())


def check_scenario_schema(doc: Document) -> list[StrategyError]:
    """Every schema problem of a scenario document, in source order, worded as for strategies
    and configs (``signalops.config.schema_problems``)."""
    return schema_problems(doc, _validator())


def _refused(doc: Document) -> frozenset[Path_]:
    """The values the schema refused (a type, a pattern, a bound): their meaning is not read.
    A missing key is not there to read, and an unknown one is never read."""
    return frozenset(
        tuple(error.absolute_path)
        for error in _validator().iter_errors(doc.data)
        if error.validator not in ("required", "additionalProperties")
    )


def _place(error: StrategyError) -> tuple[int, int]:
    return error.line, error.column


# --- meaning ---------------------------------------------------------------------------------


class _Reader:
    """A document to a ``Scenario``, collecting what the schema cannot check. ``refused``: the
    paths of the values a schema-invalid document's schema errors are about (None: the document
    is schema-valid); only the others are read, so that the meaning of the rest is checked in
    the same pass."""

    def __init__(self, doc: Document, refused: frozenset[Path_] | None = None) -> None:
        self.doc = doc
        self.valid = refused is None
        self.refused = refused or frozenset()
        self.errors: list[StrategyError] = []

    def readable(self, path: Path_) -> bool:
        """Whether the value at ``path`` is there and the schema refused neither it nor what
        holds it."""
        if any(path[: len(bad)] == bad for bad in self.refused):
            return False
        value: Any = self.doc.data
        for key in path:
            if isinstance(value, dict):
                there = key in value
            else:
                there = isinstance(value, list) and isinstance(key, int) and key < len(value)
            if not there:
                return False
            value = value[key]
        return True

    def scenario(self) -> Scenario | None:
        """The scenario; None when anything is wrong (``errors``, or the schema's, say what)."""
        data = self.doc.data
        start, end = self.time(("from",)), self.time(("to",))
        if start is not None and end is not None and end < start:
            self.fail(f"the window ends ({iso(end)}) before it starts ({iso(start)})", ("to",))
        every = None
        if self.readable(("every",)):
            seconds = parse_duration(data["every"])
            if seconds is None:
                self.fail(f"'{data['every']}' is not a positive duration", ("every",))
            else:
                every = timedelta(seconds=seconds)
        shocks = []
        count = len(data["shocks"]) if self.readable(("shocks",)) else 0
        for i in range(count):
            shock = self.shock(i, start, end) if self.readable(("shocks", i)) else None
            if shock is not None:
                shocks.append(shock)
        if self.errors or not self.valid or start is None or end is None:
            return None
        return Scenario(
            name=data["name"],
            start=start,
            end=end,
            shocks=tuple(shocks),
            description=data.get("description", ""),
            every=every,
            file=self.doc.file,
        )

    def shock(self, i: int, start: datetime | None, end: datetime | None) -> Shock | None:
        """Shock ``i``, its meaning checked; None when something in it is wrong (or was not
        read: the schema told what)."""
        item: dict[str, Any] = self.doc.data["shocks"][i]
        kinds = [kind for kind in item if kind in KINDS]  # the schema tells of any other key
        if len(kinds) > 1:
            self.fail(
                f"a shock is one of {', '.join(KINDS)}: '{kinds[0]}' and '{kinds[1]}' here "
                "(give each its own list item)",
                ("shocks", i, kinds[1]),
                key=True,
            )
            return None
        if not kinds or not self.readable(("shocks", i, kinds[0])):
            return None
        kind = kinds[0]
        path: Path_ = ("shocks", i, kind)
        body = item[kind]
        moment: Path_ = (*path, "at" if kind in ("gap", "prediction_jump") else "from")
        when = self.time(moment)
        if when is not None and start is not None and end is not None and not start <= when <= end:
            self.fail(
                f"{iso(when)} is outside the scenario's window ({iso(start)} to {iso(end)})",
                moment,
            )
        if kind == "gap":
            if self.readable((*path, "pct")) and body["pct"] == 0:
                self.fail("a gap of 0% changes nothing", (*path, "pct"))
            if when is None or not self.readable_all(path, "asset", "pct"):
                return None
            return Gap(asset=body["asset"], at=when, pct=float(body["pct"]))
        if kind == "prediction_jump":
            if when is None or not self.readable_all(path, "market", "to"):
                return None
            outcome = str(body.get("outcome", "yes")).strip().lower()
            return PredictionJump(str(body["market"]), when, float(body["to"]), outcome)
        if kind == "outage":
            source = self.source((*path, "source")) if self.readable((*path, "source")) else None
            if when is None or source is None or not self.readable_all(path, "hours"):
                return None
            return Outage(source, when, float(body["hours"]))
        if when is None or not self.readable_all(path, "hours"):
            return None
        return VenueRejects(when, float(body["hours"]))

    def readable_all(self, path: Path_, *keys: str) -> bool:
        return all(self.readable((*path, key)) for key in keys)

    def source(self, path: Path_) -> str | None:
        """The data source at ``path``; None when no source has that name (told)."""
        name: str = self.doc.data["shocks"][path[1]][path[2]]["source"]
        known = sorted(registry.catalogue().sources)
        if name not in known:
            hint = did_you_mean(name, known) or "sources: " + ", ".join(known)
            self.fail(f"no data source '{name}'", path, hint=hint)
            return None
        return name

    def time(self, path: Path_) -> datetime | None:
        """The time at ``path``; None when it is not one (told) or was not read."""
        if not self.readable(path):
            return None
        value: Any = self.doc.data
        for key in path:
            value = value[key]
        text = str(value)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"'{text}' is not a real date or time", path)
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def fail(
        self, message: str, path: Path_, *, hint: str | None = None, key: bool = False
    ) -> None:
        at = self.doc.key_mark(path) if key else None
        self.errors.append(self.doc.error(message, path, at=at, hint=hint))


__all__ = [
    "KINDS",
    "SCENARIOS",
    "bundled_dir",
    "bundled_scenarios",
    "check_scenario_schema",
    "load_scenario",
    "loads_scenario",
    "select",
    "stress_schema",
]
