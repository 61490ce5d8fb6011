"""``validate`` and ``run`` warn of config entries that would be ignored or go nowhere, taken
with the strategies: a capital under a misspelt strategy name, capital past the account, two
files of one strategy name (``run`` refuses them), alerts with no webhook, a webhook whose
variable is unset.

Regression tests: each ran silently, the first sign being a strategy sharing the whole account,
every BUY denied MAX_EXPOSURE, two strategies sharing one book's cooldown, or a halt nobody
heard of.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

DIP = (STRATEGIES / "banking_crisis_dip.yaml").read_text(encoding="utf-8")
NAME = "Banking_Crisis_Dip"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dip.yaml").write_text(DIP, encoding="utf-8")
    return tmp_path


def config(in_tmp: Path, text: str) -> None:
    (in_tmp / "signalops.yaml").write_text(text, encoding="utf-8")


def test_a_capital_under_a_misspelt_strategy_name_is_told_the_strategy_it_means(in_tmp: Path):
    config(in_tmp, f"strategies: {{{NAME}p: {{capital: 5000}}}}\n")

    result = run("validate", "dip.yaml")

    assert (result.exit_code, result.stderr) == (
        0,
        f"warning: signalops.yaml: strategies: {NAME}p is no strategy here (did you mean "
        f"'{NAME}'?): its capital is not applied, and {NAME} shares the whole account\n",
    )


def test_capital_past_the_paper_account_is_told(in_tmp: Path):
    config(in_tmp, f"strategies: {{{NAME}: {{capital: 80%}}, Other: {{capital: 9000}}}}\n")

    result = run("validate", "dip.yaml")

    assert (result.exit_code, result.stderr) == (
        0,
        "warning: signalops.yaml: strategies: the capital given to strategies adds up to "
        "17,000.00, more than the paper account's 10,000.00: the books cannot all be funded (a "
        "book past the account has every BUY denied MAX_EXPOSURE)\n",
    )


def test_two_files_of_one_strategy_name_are_warned_of_and_refused_together(
    in_tmp: Path, replay_dir: Path
):
    (in_tmp / "copy.yaml").write_text(DIP, encoding="utf-8")

    checked = run("validate", "dip.yaml", "copy.yaml")
    ran = run(
        "run", "dip.yaml", "copy.yaml", "--replay", str(replay_dir), "--from", "2023-03-10",
        "--audit", "run.db",
    )  # fmt: skip

    both = f"dip.yaml and copy.yaml both name strategy {NAME}: one file per name (they would "
    both += "share one book, its positions and its cooldown)"
    assert (checked.exit_code, checked.stderr) == (
        0,
        f"warning: {both}; run refuses them together\n",
    )
    assert (ran.exit_code, ran.stderr) == (1, f"error: {both}\n")
    assert not (in_tmp / "run.db").exists()


def test_alerts_with_no_webhook_and_a_webhook_without_its_variable_are_told(
    in_tmp: Path, replay_dir: Path
):
    config(in_tmp, "alerts: {on: [halt, fill]}\n")
    nowhere = run("validate", "dip.yaml")
    config(in_tmp, "notify:\n  webhooks: [{kind: slack, url_env: SLACK_WEBHOOK_URL}]\n")
    unset = run(
        "run", "dip.yaml", "--replay", str(replay_dir), "--from", "2023-03-10", "--audit", "r.db"
    )

    assert (nowhere.exit_code, nowhere.stderr) == (
        0,
        "warning: signalops.yaml: alerts on fill, halt but notify has no webhooks: they are "
        "posted nowhere\n",
    )
    assert unset.exit_code == 0, unset.output
    assert (
        "notify webhook slack reads $SLACK_WEBHOOK_URL, which is not set: approvals and alerts "
        "to it are not delivered"
    ) in unset.stderr


def test_another_runners_strategy_with_its_own_capital_is_no_misspelling(in_tmp: Path):
    """Momentum_ETH beside a running Momentum_BTC, each with its capital, is another runner's
    strategy in a shared config: it was told 'did you mean Momentum_BTC?'."""
    (in_tmp / "btc.yaml").write_text(DIP.replace(NAME, "Momentum_BTC"), encoding="utf-8")
    config(in_tmp, "strategies: {Momentum_BTC: {capital: 50%}, Momentum_ETH: {capital: 50%}}\n")

    result = run("validate", "btc.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
