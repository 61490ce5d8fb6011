"""Snapshot files written aside and moved into place only when a whole import succeeded.

An import that fails half way (a bad row, a missing file) must leave the snapshot folder as it
was: no ``*.jsonl.tmp``, no source replaced while another failed, no folder created for nothing.
The new files are written into a hidden folder inside the target (same file system, so the final
``rename`` is atomic per file) and that folder is always removed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signalops.adapters.snapshots import SnapshotStore


@contextmanager
def staged(out_dir: Path) -> Iterator[SnapshotStore]:
    """A store to write into; its files replace ``out_dir``'s only if the block raises nothing."""
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    committed = False
    try:
        yield SnapshotStore(stage)
        for path in sorted(stage.glob("*.jsonl")):
            path.replace(out_dir / path.name)
        committed = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not committed and not any(out_dir.iterdir()):
            out_dir.rmdir()
