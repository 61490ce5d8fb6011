"""The strategy language: load a YAML file, check it, compile it into a ``Strategy``.

    strategy = load("strategies/banking_crisis.yaml")      # raises StrategyError on any problem
    evaluation = strategy.evaluate(observations, as_of, "BTC")

Loading runs three passes, each reporting every problem it finds with file, line and column:
YAML (syntax, duplicate keys), the JSON Schema (shape, unknown keys), and the compiler (metrics,
parameters, expressions, confirmations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import Catalogue
from signalops.errors import raise_collected
from signalops.strategy._yaml import load_yaml, read_source
from signalops.strategy.compiler import compile_document
from signalops.strategy.model import Execution, Strategy
from signalops.strategy.schema import check_schema, schema_path, strategy_schema

__all__ = [
    "Execution",
    "Strategy",
    "find_strategy_files",
    "load",
    "loads",
    "schema_path",
    "strategy_schema",
]

STRATEGY_SUFFIXES = (".yaml", ".yml")


def loads(text: str, file: str = "<string>", catalogue: Catalogue = BUILTIN) -> Strategy:
    """Compile strategy YAML given as text; ``file`` is the name errors will cite."""
    doc = load_yaml(text, file)
    raise_collected(check_schema(doc, tuple(catalogue.sources)))
    return compile_document(doc, catalogue)


def load(path: str | Path, catalogue: Catalogue = BUILTIN) -> Strategy:
    """Compile a strategy file."""
    return loads(read_source(path, "strategy"), str(path), catalogue)


def find_strategy_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders expanded to their ``*.yaml``/``*.yml`` files, sorted, recursively.

    A file named twice (or inside a folder also given) is yielded once.
    """
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in STRATEGY_SUFFIXES and p.is_file()
            )
        else:
            found = [path]
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file
