"""What ``signalops init DIR`` writes: a working folder from the files the package carries.

The folder needs nothing from the source checkout::

    DIR/signalops.yaml        a commented config (the audit log and kill switch live in DIR)
    DIR/strategies/*.yaml     the example strategies
    DIR/examples/data/        a small sample of the bundled real data, with its provenance
    DIR/examples/*.yaml       the README's example configs that run on that sample

``examples/data`` and the default snapshot folder ``examples/replay`` are the paths every
command and the README already use, so the tour runs there as written. ``NEXT_STEPS`` is that
tour; the install test runs exactly these commands.

Where the files come from: an installed wheel carries them under ``signalops/_bundled`` (the
strategies are copied there from the checkout's ``strategies/`` when the wheel is built, as the
schemas are, and the example configs from ``examples/``); a checkout reads ``strategies/`` and
``examples/`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from signalops.adapters.bundled import DEFAULT_DATA_DIR
from signalops.errors import InputError

CONFIG_FILE = "signalops.yaml"
STRATEGIES = "strategies"
SAMPLE_DIR = DEFAULT_DATA_DIR  # examples/data, where `signalops data import` looks
EXAMPLES = "examples"
# The README's example configs whose commands run on the sample (the equities and sectors ones
# need data or history the sample leaves out): a README command names them by these paths.
EXAMPLE_CONFIGS = ("signalops.together.yaml",)

NEXT_STEPS = (
    "signalops validate signalops.yaml strategies/",
    "signalops data import",
    "signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-13",
    "signalops backtest strategies/banking_crisis_dip.yaml --from 2023-01-01 --to 2023-06-30",
    "signalops run strategies/banking_crisis_dip.yaml --replay examples/replay "
    "--from 2023-03-01 --to 2023-03-31 --every 1d",
    "signalops why BTC --at 2023-03-10",
    "signalops dashboard --replay examples/replay",
)


@dataclass(frozen=True)
class Written:
    """What ``init`` wrote: paths relative to the folder."""

    folder: Path
    files: tuple[Path, ...]

    @property
    def strategies(self) -> int:
        return sum(1 for f in self.files if f.parts[0] == STRATEGIES)

    @property
    def examples(self) -> tuple[Path, ...]:
        """The example configs, as ``examples/signalops.together.yaml``."""
        return tuple(f for f in self.files if f.parent == Path(EXAMPLES))

    @property
    def sample_files(self) -> int:
        return sum(1 for f in self.files if f.parts[: len(SAMPLE_DIR.parts)] == SAMPLE_DIR.parts)

    @property
    def sample_bytes(self) -> int:
        return sum(
            (self.folder / f).stat().st_size
            for f in self.files
            if f.parts[: len(SAMPLE_DIR.parts)] == SAMPLE_DIR.parts
        )


def bundled() -> Traversable:
    """``signalops/_bundled``: the config template and the sample (and, in a wheel, the
    strategies)."""
    return resources.files("signalops") / "_bundled"


def strategies_source() -> Traversable:
    packaged = bundled() / STRATEGIES
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / STRATEGIES  # a source checkout


def examples_source() -> Traversable:
    packaged = bundled() / EXAMPLES
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / EXAMPLES  # a source checkout


def sample_dir() -> Path:
    """The sample data as a folder on disk (``signalops data import --from`` reads folders)."""
    return Path(str(bundled() / "sample"))


def init_folder(folder: Path, *, force: bool = False) -> Written:
    """Write the working folder; ``InputError`` (nothing written) when a file it would write
    exists already, unless ``force``."""
    plan = dict(_plan())
    existing = sorted(name for name in plan if (folder / name).exists())
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InputError(
            f"{folder / existing[0]} exists{more}: nothing written "
            "(--force replaces the files init writes, and only those)"
        )
    for name, source in plan.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return Written(folder, tuple(sorted(plan)))


def _plan() -> Iterator[tuple[Path, Traversable]]:
    yield Path(CONFIG_FILE), bundled() / CONFIG_FILE
    for strategy in sorted(strategies_source().iterdir(), key=lambda t: t.name):
        if strategy.name.endswith((".yaml", ".yml")):
            yield Path(STRATEGIES) / strategy.name, strategy
    for name in EXAMPLE_CONFIGS:
        yield Path(EXAMPLES) / name, examples_source() / name
    yield from _tree(bundled() / "sample", SAMPLE_DIR)


def _tree(source: Traversable, into: Path) -> Iterator[tuple[Path, Traversable]]:
    for entry in sorted(source.iterdir(), key=lambda t: t.name):
        if entry.is_dir():
            yield from _tree(entry, into / entry.name)
        else:
            yield into / entry.name, entry
