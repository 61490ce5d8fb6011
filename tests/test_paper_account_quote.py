"""The currency of a workspace's paper account: the venues' quote of what its first run trades,
``paper.quote`` when the config says it, and an account that keeps the currency it was made in.

Runs are ``signalops run --replay`` of the bundled data (the AAPL trend fixture fills on
2022-01-04 and 2022-01-20 on the equities config, whose stocks venue quotes in USD).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT

from bench.audit_records import synthetic_records
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.cli import cli
from signalops.config import PaperConfig, load_config
from signalops.errors import ConfigError, DataNotFound, ExecutionError
from signalops.orders import Mode, OrderIntent, client_order_id, decision_id
from signalops.side import Side
from signalops.workspace import build_pipeline, load_strategies, open_workspace

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
AAPL_TREND = ROOT / "tests" / "fixtures" / "aapl_trend.yaml"
CRYPTO = ROOT / "strategies" / "technical_baseline.yaml"


def config_with(tmp_path: Path, extra: str = "", stocks_quote: str = "USD") -> Path:
    """The equities config (its stocks venue quoted in ``stocks_quote``) and ``extra``."""
    text = EQUITIES.read_text(encoding="utf-8")
    text = text.replace(
        "{exchange: yfinance, quote: USD}", f"{{exchange: yfinance, quote: {stocks_quote}}}"
    )
    path = tmp_path / "signalops.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def run(
    replay_dir: Path, audit: Path, config: Path, strategy: Path = AAPL_TREND, to: str = "2022-01-21"
) -> Result:
    """``to``: a run that an earlier one goes on from in its log decides up to the day the
    other starts (a replay deciding before a log's newest decision is refused)."""
    args = [
        "run", str(strategy), "--replay", str(replay_dir), "--from", "2022-01-03",
        "--to", to, "--every", "1d", "--mode", "paper", "--audit", str(audit),
        "--config", str(config),
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, prog_name="signalops")


def fills(audit: Path) -> list[tuple[str, str]]:
    """(quote, message) of each filled decision's execution."""
    with AuditLog.open_readonly(audit) as log:
        return [
            (record["execution"]["details"]["quote"], record["execution"]["message"])
            for _, record in log.records_of_kind("decision")
            if (record["execution"] or {}).get("status") == "FILLED"
        ]


def account_quote(audit: Path) -> str:
    with AuditLog.open_readonly(audit) as log:
        account = log.paper_ledger().account()
    assert account is not None
    return account[1]


def test_a_stock_run_makes_its_paper_account_in_the_stock_venues_quote(
    replay_dir: Path, tmp_path: Path
) -> None:
    result = run(replay_dir, tmp_path / "a.db", config_with(tmp_path))
    assert result.exit_code == 0, result.output
    assert account_quote(tmp_path / "a.db") == "USD"
    found = fills(tmp_path / "a.db")
    assert [quote for quote, _ in found] == ["USD", "USD"]
    assert all(" USD (fee " in message for _, message in found)


def test_paper_quote_in_the_config_names_the_account_currency_its_venues_quote(
    replay_dir: Path, tmp_path: Path
) -> None:
    config = config_with(tmp_path, "paper: {quote: EUR}\n", stocks_quote="EUR")
    result = run(replay_dir, tmp_path / "a.db", config)
    assert result.exit_code == 0, result.output
    assert account_quote(tmp_path / "a.db") == "EUR"
    assert [quote for quote, _ in fills(tmp_path / "a.db")] == ["EUR", "EUR"]


def test_paper_quote_other_than_the_venues_is_refused_before_the_log_is_made(
    replay_dir: Path, tmp_path: Path
) -> None:
    """It made a EUR account and booked AAPL's USD closes as EUR (``test_mixed_quotes``)."""
    result = run(replay_dir, tmp_path / "a.db", config_with(tmp_path, "paper: {quote: EUR}\n"))
    assert result.exit_code == 1
    assert result.output.startswith("error: paper.quote is EUR but AAPL is quoted in USD ")
    assert not (tmp_path / "a.db").exists()


def test_an_account_made_in_usdt_stays_in_usdt_when_a_later_run_trades_stocks(
    replay_dir: Path, tmp_path: Path
) -> None:
    """A ledger made before the venues named its currency (or by a crypto run) is not changed
    under its fills: the inferred quote is only a new account's."""
    audit, config = tmp_path / "a.db", config_with(tmp_path)
    assert run(replay_dir, audit, config, CRYPTO, to="2022-01-03").exit_code == 0
    assert account_quote(audit) == "USDT"
    result = run(replay_dir, audit, config)
    assert result.exit_code == 0, result.output
    assert account_quote(audit) == "USDT"
    assert [quote for quote, _ in fills(audit)][-2:] == ["USDT", "USDT"]


def test_paper_quote_that_is_not_the_accounts_currency_stops_the_run_before_a_cycle(
    replay_dir: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "a.db"
    assert run(replay_dir, audit, config_with(tmp_path)).exit_code == 0
    with AuditLog.open_readonly(audit) as log:
        before = log.head()
    config = config_with(tmp_path, "paper: {quote: EUR}\n", stocks_quote="EUR")
    result = run(replay_dir, audit, config)
    assert result.exit_code == 1
    assert result.output == (
        f"error: paper ledger in the audit log {audit} is in USD, not EUR: an account keeps the "
        "currency it was made in; to start over, run with a new --audit file\n"
    )
    with AuditLog.open_readonly(audit) as log:
        assert log.head() == before


KRAKEN_EUR = """\
venues:
  kraken: {exchange: kraken, quote: EUR}
assets:
  BTC: {venue: kraken}
"""


def ledger_in_usdt_not_eur(audit: Path) -> str:
    return (
        f"error: paper ledger in the audit log {audit} is in USDT, not EUR: BTC is quoted in "
        "EUR (venue kraken), and SignalOps converts no currency: its prices would be booked as "
        "USDT; an account keeps the currency it was made in; to start over, run with a new "
        "--audit file\n"
    )


def test_a_run_whose_venues_quote_another_currency_than_the_account_stops_before_a_cycle(
    replay_dir: Path, tmp_path: Path
) -> None:
    """Regression: a BTC run on Binance made the account in USDT; a run with BTC on Kraken in
    EUR into the same log then booked EUR prices in it (exit 0): only ``paper.quote`` was held
    against an account made earlier, and that run's venues were never."""
    audit, kraken = tmp_path / "a.db", tmp_path / "kraken.yaml"
    kraken.write_text(KRAKEN_EUR, encoding="utf-8")
    assert run(replay_dir, audit, config_with(tmp_path), CRYPTO).exit_code == 0
    with AuditLog.open_readonly(audit) as log:
        before = log.head()
    result = run(replay_dir, audit, kraken, CRYPTO)
    assert result.exit_code == 1
    assert result.output == ledger_in_usdt_not_eur(audit)
    with AuditLog.open_readonly(audit) as log:
        assert log.head() == before


def test_approving_on_venues_in_another_currency_than_the_account_is_refused_unanswered(
    replay_dir: Path, tmp_path: Path
) -> None:
    """An approval trades through the same pipeline: the notify run made the account in USDT,
    and an approval answered with BTC on Kraken in EUR would have filled in it."""
    audit, kraken = tmp_path / "a.db", tmp_path / "kraken.yaml"
    kraken.write_text(KRAKEN_EUR, encoding="utf-8")
    strategy = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
    made = CliRunner().invoke(
        cli,
        ["run", str(strategy), "--mode", "notify", "--replay", str(replay_dir), "--from",
         "2023-03-10", "--audit", str(audit), "--config", str(config_with(tmp_path))],
    )  # fmt: skip
    assert "(1 awaiting approval)" in made.output, made.output
    assert account_quote(audit) == "USDT"
    with AuditLog.open_readonly(audit) as log:
        (pending,) = log.pending_approvals(datetime(2023, 3, 10, 0, 1, tzinfo=UTC))
        before = log.head()
    result = CliRunner().invoke(
        cli,
        ["approve", str(pending.approval_id), "--replay", str(replay_dir), "--at",
         "2023-03-10T00:05:00Z", "--audit", str(audit), "--config", str(kraken)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == ledger_in_usdt_not_eur(audit)
    with AuditLog.open_readonly(audit) as log:
        assert log.head() == before


def test_a_usdt_account_trading_stocks_in_usd_says_they_are_added_at_par_in_usdt(
    replay_dir: Path, tmp_path: Path
) -> None:
    """Dollars at par: the stock run goes on in the USDT account a crypto run made, and says so
    in the account's currency (it said nothing: the venues alone are in one currency)."""
    audit, config = tmp_path / "a.db", config_with(tmp_path)
    assert run(replay_dir, audit, config, CRYPTO, to="2022-01-03").exit_code == 0
    result = run(replay_dir, audit, config)
    assert result.exit_code == 0, result.output
    assert (
        "warning: AAPL in USD (venue stocks) is added at par in one USDT account "
        "(1 USD = 1 USDT): SignalOps has no exchange rates, and a stablecoin's depeg is not "
        "modelled\n"
    ) in result.output


def test_a_starting_cash_that_is_not_the_accounts_names_the_log_and_how_to_start_over(
    replay_dir: Path, tmp_path: Path
) -> None:
    """Regression test: the error said ``starting cash 10000 USD, not 50000; use a new ledger
    file to start over``, where the ledger is tables in the audit log, not a file of its own."""
    audit = tmp_path / "a.db"
    assert run(replay_dir, audit, config_with(tmp_path)).exit_code == 0
    with AuditLog.open_readonly(audit) as log:
        before = log.head()
    result = run(replay_dir, audit, config_with(tmp_path, "paper: {starting_cash: 50000}\n"))
    assert result.exit_code == 1
    assert result.output == (
        f"error: paper ledger in the audit log {audit} was created with starting cash "
        "10,000.00 USD, not 50,000.00 USD; to start over, run with a new --audit file\n"
    )
    with AuditLog.open_readonly(audit) as log:
        assert log.head() == before


def test_a_backtest_account_is_in_paper_quote_when_the_config_says_it(
    replay_dir: Path, tmp_path: Path
) -> None:
    config = config_with(tmp_path, "paper: {quote: EUR}\n", stocks_quote="EUR")
    args = [
        "backtest", str(AAPL_TREND), "--data", str(replay_dir), "--config", str(config),
        "--from", "2022-01-01", "--to", "2022-03-31", "--report", str(tmp_path / "out"),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 0, result.output
    assert "starting cash 10,000.00 EUR" in result.output
    assert account_quote(tmp_path / "out" / "backtest.db") == "EUR"


def test_account_quote_is_paper_quote_else_the_quote_the_assets_venues_share(
    tmp_path: Path,
) -> None:
    venues_say = load_config(EQUITIES)
    assert venues_say.paper.quote is None
    assert venues_say.account_quote(["AAPL", "TSLA"]) == "USD"
    assert venues_say.account_quote(["BTC"]) == "USDT"
    assert venues_say.account_quote(["AAPL", "BTC"]) == "USD"  # dollars at par (USD, USDT)
    assert venues_say.account_quote([]) is None
    file_says = load_config(config_with(tmp_path, "paper: {quote: EUR, fee_bps: 20}\n"))
    assert file_says.paper == PaperConfig(fee_bps=Decimal(20), quote="EUR")
    assert {file_says.account_quote(a) for a in (["AAPL"], ["BTC"], ["AAPL", "BTC"], [])} == {"EUR"}


def test_paper_quote_that_is_not_a_currency_code_is_an_error_at_its_line_and_column(
    tmp_path: Path,
) -> None:
    config = config_with(tmp_path, "paper:\n  quote: US D\n")
    line = len(config.read_text(encoding="utf-8").splitlines())
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert str(info.value) == (
        f"{config}:{line}:10: paper.quote: 'US D' must be a currency code such as USDT or USD"
    )


def test_the_telegram_bot_started_before_the_first_run_leaves_the_account_to_that_run(
    replay_dir: Path, tmp_path: Path
) -> None:
    """The bot opened the log (it trades nothing) and made the account in USDT, so the stock
    run after it filled 'AAPL at 182.10 USDT'. It now makes no log at all: it answers a run's."""
    audit, config = tmp_path / "a.db", config_with(tmp_path)
    bot = ["telegram", "--audit", str(audit), "--config", str(config)]
    assert CliRunner().invoke(cli, bot, prog_name="signalops").exit_code == 1  # no bot token
    assert not audit.exists()
    assert run(replay_dir, audit, config).exit_code == 0
    assert account_quote(audit) == "USD"
    assert [quote for quote, _ in fills(audit)] == ["USD", "USD"]


def test_a_pipeline_built_on_a_workspace_opened_without_assets_keeps_its_fills_in_the_file(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``open_workspace(audit=...)`` on a new log, then ``build_pipeline``: the account was kept
    in memory (nothing had said its currency), so its fills vanished while the chain recorded
    them, and ``verify`` found every one missing from the ledger."""
    monkeypatch.chdir(tmp_path)
    audit = tmp_path / "a.db"
    workspace = open_workspace(audit=audit, config=config_with(tmp_path))
    assert workspace.undecided
    strategies = load_strategies([AAPL_TREND])
    pipeline = build_pipeline(workspace, strategies, mode=Mode.PAPER, replay=replay_dir)
    assert not workspace.undecided
    for day in (4, 20):  # the two days the fixture fills
        pipeline.cycle(datetime(2022, 1, day, tzinfo=UTC))
    report = verify(workspace.audit)
    workspace.close()
    assert report.ok, report
    assert account_quote(audit) == "USD"
    with AuditLog.open_readonly(audit) as log:
        assert len(log.paper_ledger().fills_after(None)) == len(fills(audit)) == 2


def test_a_fill_on_a_workspace_whose_account_is_undecided_is_refused_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = open_workspace(audit=tmp_path / "a.db")
    at = datetime(2024, 1, 1, tzinfo=UTC)
    did = decision_id("hash", "BTC", at, "paper")
    intent = OrderIntent(
        did, client_order_id(did), "S", "BTC", Side.BUY, Decimal("0.1"), Decimal(20_000),
        Decimal(2_000), at, Mode.PAPER,
    )  # fmt: skip
    with pytest.raises(
        ExecutionError,
        match=r"^no paper account to fill in: .*\(build_pipeline with its strategies",
    ):
        workspace.broker.execute(intent, as_of=at)
    workspace.close()
    with AuditLog.open_readonly(tmp_path / "a.db") as log:
        ledger = log.paper_ledger()
        assert not ledger.exists() or ledger.account() is None


def test_a_pipeline_refused_before_it_runs_makes_no_paper_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = open_workspace(audit=tmp_path / "a.db", config=config_with(tmp_path))
    with pytest.raises(DataNotFound):
        build_pipeline(workspace, load_strategies([AAPL_TREND]), replay=tmp_path / "nowhere")
    assert workspace.undecided
    workspace.close()
    with AuditLog.open_readonly(tmp_path / "a.db") as log:
        ledger = log.paper_ledger()
        assert not ledger.exists() or ledger.account() is None


def test_a_log_with_records_but_no_account_opened_without_assets_leaves_it_to_the_first_run(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening such a log without assets made the account in USDT, and the stock run after it
    traded in USDT (an account keeps its currency)."""
    monkeypatch.chdir(tmp_path)
    audit, config = tmp_path / "a.db", config_with(tmp_path)
    with AuditLog(audit) as log, log.transaction():
        log.append_many(synthetic_records(3))
    workspace = open_workspace(audit=audit, config=config)
    assert workspace.undecided
    workspace.close()
    assert run(replay_dir, audit, config).exit_code == 0
    assert account_quote(audit) == "USD"
    assert [quote for quote, _ in fills(audit)] == ["USD", "USD"]
