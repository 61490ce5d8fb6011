"""Check many strategy files in one pass: each file's compiled strategy, or its errors.

``signalops validate`` reports every file, valid or not, so one bad file must not stop the
others: the errors are collected here as values, one per file. A config file met on the way
(``signalops.yaml``, named or inside a folder) is checked against the config schema instead of
being reported as a strategy with unknown keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import Catalogue
from signalops.errors import InputError, StrategyError
from signalops.strategy import find_strategy_files, load_checked
from signalops.strategy._yaml import load_yaml, read_source
from signalops.strategy.model import Strategy

if TYPE_CHECKING:
    from signalops.config import Config
    from signalops.evaluation.nodes import Predicate

CONFIG_NAME_PREFIX = "signalops"  # signalops.yaml, signalops.equities.yaml, signalops-live.yml


@dataclass(frozen=True)
class FileCheck:
    """One file: its strategy (or, for a config file, its config) when it compiles, else the
    error (a group for several); ``is_config`` tells a config file whether it is valid or not.
    ``warnings`` and ``leaves``: the compiler's warnings and the conditions it compiled, a
    strategy's whether or not it has errors (``signalops validate`` shows both)."""

    file: Path
    strategy: Strategy | None = None
    error: StrategyError | None = None
    config: Config | None = None
    is_config: bool = False
    warnings: tuple[StrategyError, ...] = ()
    leaves: tuple[Predicate, ...] = ()


def check_files(
    paths: Sequence[str | Path], catalogue: Catalogue = BUILTIN, config: str | Path | None = None
) -> list[FileCheck]:
    """Compile every file (folders expanded); ``InputError`` when there is no file at all.

    ``config`` is a file known to be a config (``--config``), checked as one whatever it holds.
    """
    files = _found(paths)
    known = None if config is None else Path(config).resolve()
    return [_check(file, catalogue, file.resolve() == known) for file in files]


def strategy_files(paths: Sequence[str | Path]) -> tuple[Path, ...]:
    """The strategies ``signalops run`` is given: the files ``check_files`` finds, less the
    config files it finds inside folders (a workspace's ``signalops.yaml`` beside its
    strategies is what configures the run, not one of them); ``InputError`` when none is left.

    A file named outright is kept whatever it holds: the strategy loader says what is wrong
    with it, as for any file named on its own.
    """
    named = {Path(path).resolve() for path in paths if not Path(path).is_dir()}
    found = _found(paths)
    files = tuple(file for file in found if file.resolve() in named or not is_config_file(file))
    if not files:
        configs = ", ".join(str(file) for file in found)
        raise InputError(
            f"no strategy files (*.yaml, *.yml) found in {_listed(paths)}, only config "
            f"files ({configs})"
        )
    return files


def _found(paths: Sequence[str | Path]) -> list[Path]:
    files = list(find_strategy_files(paths))
    if not files:
        raise InputError(f"no strategy files (*.yaml, *.yml) found in {_listed(paths)}")
    return files


def _listed(paths: Sequence[str | Path]) -> str:
    return ", ".join(str(path) for path in paths)


def is_config_file(file: Path) -> bool:
    """A config rather than a strategy: no ``strategy:`` key, and either named ``signalops*``
    or made only of config sections (``risk:``, ``venues:``...). Unreadable YAML is left to the
    strategy reader, which reports it with its position."""
    document = _top_level(file)
    if document is None or "strategy" in document:
        return False
    if file.name.startswith(CONFIG_NAME_PREFIX):
        return True
    from signalops.config import config_schema

    return bool(document) and set(document) <= set(config_schema()["properties"])


def _top_level(file: Path) -> dict[Any, Any] | None:
    # The strategy reader's own YAML loader: bounded in size and depth, as for any input.
    try:
        document = load_yaml(read_source(file, "strategy"), str(file)).data
    except StrategyError:
        return None
    return document if isinstance(document, dict) else None


def _check(file: Path, catalogue: Catalogue, config: bool = False) -> FileCheck:
    if config or is_config_file(file):
        return _check_config(file)
    compiled = load_checked(file, catalogue)
    if compiled.strategy is not None:
        _run_once(compiled.strategy)
    return FileCheck(
        file,
        strategy=compiled.strategy,
        error=compiled.error,
        warnings=compiled.warnings,
        leaves=compiled.leaves,
    )


# Any fixed time: with no data at all, every leaf is UNKNOWN whatever the time.
_SOME_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _run_once(strategy: Strategy) -> None:
    """Evaluate the strategy once with no data: its evaluator is generated on first use, and a
    file that validates must be one whose evaluator compiles and runs."""
    tree = strategy.tree
    tree.evaluate_aligned((None,) * len(tree.metrics), _SOME_TIME)


def _check_config(file: Path) -> FileCheck:
    from signalops.config import load_config

    try:
        config = load_config(file)
        return FileCheck(file, config=config, is_config=True, warnings=config.warnings)
    except StrategyError as error:  # a ConfigError, with file:line:column
        return FileCheck(file, error=error, is_config=True)
