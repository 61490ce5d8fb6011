"""A backtest without --report writes ``reports/<file name>``: the folder ``make demo`` names and
the ``audit verify``/``audit replay`` help examples read.

Regression test: the default was ``reports/<strategy name>`` (``reports/Banking_Crisis_Dip``)
while ``make demo`` passed ``reports/banking_crisis_dip``: one strategy file got two folders,
which clash on a case-insensitive disk, and the help's example path only existed after
``make demo``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
# Each `make demo` backtest: its strategy file and the folder it reports to.
DEMO_BACKTEST = re.compile(
    r"signalops backtest strategies/(?P<file>\w+)\.yaml .*--report \$\(DEMO_REPORTS\)/(?P<to>\S+)"
)


def test_make_demo_reports_each_strategy_file_to_its_default_folder():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = [m.group("file", "to") for m in DEMO_BACKTEST.finditer(makefile)]

    assert "\nDEMO_REPORTS := reports\n" in makefile
    assert len(demo) == 4
    assert all(folder == file for file, folder in demo), demo


def test_a_backtest_without_report_writes_where_the_help_examples_read(
    in_tmp: Path, replay_dir: Path
):
    result = run(
        "backtest", DIP, "--from", "2023-03-08", "--to", "2023-03-12", "--data", str(replay_dir)
    )

    assert result.exit_code == 0, result.output
    assert "report: reports/banking_crisis_dip/report.html" in result.stdout.splitlines()
    assert [p.name for p in (in_tmp / "reports").iterdir()] == ["banking_crisis_dip"]
    for command in (("audit", "verify"), ("audit", "replay")):
        shown = run(*command, "--help").stdout
        (example,) = [line.strip() for line in shown.splitlines() if "--audit reports/" in line]
        assert run(*shlex.split(example)[1:]).exit_code == 0, example


def test_stress_without_report_writes_beside_the_files_backtest_report(
    in_tmp: Path, replay_dir: Path
):
    result = run("stress", DIP, "--data", str(replay_dir), "--scenario", "venue_rejects_48h")

    assert result.exit_code == 0, result.output
    assert (in_tmp / "reports" / "banking_crisis_dip" / "stress" / "venue_rejects_48h").is_dir()
