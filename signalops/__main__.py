"""``python -m signalops`` is the ``signalops`` command."""

from signalops.cli import main

main()
