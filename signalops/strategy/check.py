"""Check many strategy files in one pass: each file's compiled strategy, or its errors.

``signalops validate`` reports every file, valid or not, so one bad file must not stop the
others: the errors are collected here as values, one per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import Catalogue
from signalops.errors import InputError, StrategyError
from signalops.strategy import find_strategy_files, load
from signalops.strategy.model import Strategy


@dataclass(frozen=True)
class FileCheck:
    """One file: its strategy when it compiles, else the error (a group for several)."""

    file: Path
    strategy: Strategy | None = None
    error: StrategyError | None = None


def check_files(paths: Sequence[str | Path], catalogue: Catalogue = BUILTIN) -> list[FileCheck]:
    """Compile every file (folders expanded); ``InputError`` when there is no file at all."""
    files = list(find_strategy_files(paths))
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise InputError(f"no strategy files (*.yaml, *.yml) found in {where}")
    return [_check(file, catalogue) for file in files]


def _check(file: Path, catalogue: Catalogue) -> FileCheck:
    try:
        return FileCheck(file, strategy=load(file, catalogue))
    except StrategyError as error:
        return FileCheck(file, error=error)
