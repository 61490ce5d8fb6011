"""Auto mode through the ``Pipeline``: the REAL ``ccxt.binance`` class, stubbed at its HTTP session.

As in ``tests/execution/test_auto.py`` (whose approach this follows; its helpers are not
importable from here, so the few pieces needed are repeated), ccxt builds, signs and parses
every request and only ``exchange.session`` is served by ``BinanceSpot``, a small Binance spot
venue that remembers orders by client order id (``GET /api/v3/order?origClientOrderId=``
finds them), fills market orders at BTC's close and keeps the account's balances, which
``GET /api/v3/account`` reports (the gate sizes and checks auto orders against them). The
executor comes from ``build_auto_executor`` with credentials in the environment, as ``--live``
builds it.

The decision: ``strategies/technical_baseline.yaml`` on 2023-03-11 (daily RSI 28.2 < 30: BUY),
on the bundled replay data. What is checked is the write order of ``signalops.pipeline.records``:
decision + ``order_submitted`` committed BEFORE the order is sent, then ``order_result`` +
``fill``; and what a restart does when the process died in between: it asks the venue and
records its answer, and never sends the decision again.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from binance_recorded import BTC_USDT, response
from conftest import invoke

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.errors import SignalOpsError
from signalops.evaluation.tree import Verdict
from signalops.execution.auto import CcxtExecutor, build_auto_executor
from signalops.orders import ExecutionStatus, Mode
from signalops.pipeline import Pipeline
from signalops.workspace import build_pipeline, load_strategies, open_workspace

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = ROOT / "strategies" / "technical_baseline.yaml"
AS_OF = datetime(2023, 3, 11, tzinfo=UTC)  # daily RSI(14) 28.2 < 30: BUY
DAY_BEFORE = datetime(2023, 3, 10, tzinfo=UTC)  # RSI under 30 too: BUY
SELL_DAY = datetime(2023, 3, 14, tzinfo=UTC)  # daily RSI(14) over 55: SELL
FILL_PRICE = Decimal("20150.69")  # BTC/USDT's close at AS_OF
D = Decimal

# Fake credentials, shaped like real ones so a leak would be recognisable.
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
EXCHANGE_ENV = {"SIGNALOPS_EXCHANGE_API_KEY": API_KEY, "SIGNALOPS_EXCHANGE_SECRET": API_SECRET}
TRANSACT_MS = 1678492800123  # 2023-03-11T00:00:00.123Z
ORDER = "/api/v3/order"
ACCOUNT = "/api/v3/account"


class Killed(BaseException):
    """The process dies here: not an Exception, so nothing on the way catches it."""


def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    return response(request, status, json.dumps(body))


def _order(params: dict[str, str], order_id: int) -> dict[str, Any]:
    """``GET /api/v3/order``'s shape for a market order filled in full at FILL_PRICE."""
    quantity = D(params["quantity"])
    return {
        "symbol": params["symbol"], "orderId": order_id, "orderListId": -1,
        "clientOrderId": params["newClientOrderId"], "price": "0.00000000",
        "origQty": f"{quantity:.8f}", "executedQty": f"{quantity:.8f}",
        "cummulativeQuoteQty": f"{quantity * FILL_PRICE:.8f}", "status": "FILLED",
        "timeInForce": "GTC", "type": "MARKET", "side": params["side"],
        "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": TRANSACT_MS,
        "updateTime": TRANSACT_MS, "isWorking": True, "workingTime": TRANSACT_MS,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
    }  # fmt: skip


def _fee(order: dict[str, Any]) -> tuple[Decimal, str]:
    """Binance's 0.1% fee: in BTC for a BUY (what it buys), in USDT for a SELL."""
    if order["side"] == "BUY":
        return D(order["executedQty"]) / 1000, "BTC"
    return D(order["cummulativeQuoteQty"]) / 1000, "USDT"


def _full(order: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v3/order``'s FULL answer: one fill, the 0.1% fee."""
    drop = {"stopPrice", "icebergQty", "time", "updateTime", "isWorking"}
    answer = {k: v for k, v in order.items() if k not in drop}
    answer["transactTime"] = TRANSACT_MS
    fee, currency = _fee(order)
    answer["fills"] = [
        {"price": f"{FILL_PRICE:.8f}", "qty": order["executedQty"],
         "commission": f"{fee:.8f}", "commissionAsset": currency, "tradeId": 3049101232},
    ]  # fmt: skip
    return answer


def _account(balances: dict[str, Decimal]) -> dict[str, Any]:
    """``GET /api/v3/account``'s shape, as Binance's spot API documents "Account information
    (USER_DATA)": every asset with its ``free`` and ``locked`` amounts as strings."""
    return {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                            "buyer": "0.00000000", "seller": "0.00000000"},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": TRANSACT_MS,
        "accountType": "SPOT",
        "balances": [
            {"asset": asset, "free": f"{amount:.8f}", "locked": "0.00000000"}
            for asset, amount in balances.items()
        ],
        "permissions": ["SPOT"], "uid": 354937868,
    }  # fmt: skip


class BinanceSpot(requests.adapters.BaseAdapter):
    """``/api/v3/order`` like Binance spot; ``orders`` (by client order id) is the venue's memory.

    ``on_create(params)`` runs when a create-order POST arrives, before anything is placed.
    ``die`` kills the caller on that POST: ``"before-placing"`` (the order never reached the
    matching engine) or ``"after-placing"`` (placed and filled, the answer never read).
    ``refuse`` answers the account read and POSTs with that Binance error body instead (a key
    the venue no longer accepts is refused on every signed request).
    ``balances`` (asset -> amount, 10,000 USDT by default) is the account ``/api/v3/account``
    reports; fills move it, fee included. ``account_down`` times that request out.
    """

    def __init__(
        self,
        *,
        orders: dict[str, dict[str, Any]] | None = None,
        on_create: Callable[[dict[str, str]], None] | None = None,
        die: str | None = None,
        refuse: dict[str, Any] | None = None,
        balances: dict[str, Decimal] | None = None,
        account_down: bool = False,
    ) -> None:
        super().__init__()
        self.orders = {} if orders is None else orders
        self.on_create = on_create
        self.die = die
        self.refuse = refuse
        self.balances = {"USDT": D("10000")} if balances is None else balances
        self.account_down = account_down
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.next_id = 18930215473

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        params.update({k: v[-1] for k, v in parse_qs(body).items()})
        self.calls.append((request.method or "", url.path, params))
        if url.path == ACCOUNT and request.method == "GET":
            if self.account_down:
                raise requests.ReadTimeout("Read timed out.")
            if self.refuse is not None:
                return _response(request, 400, self.refuse)
            return _response(request, 200, _account(self.balances))
        if url.path != ORDER:
            return _response(request, 404, {"code": -1, "msg": "no such endpoint here"})
        if request.method == "GET":
            order = self.orders.get(params["origClientOrderId"])
            if order is None:
                return _response(request, 400, {"code": -2013, "msg": "Order does not exist."})
            return _response(request, 200, order)
        if self.on_create is not None:
            self.on_create(params)
        if self.die == "before-placing":
            raise Killed
        if self.refuse is not None:
            return _response(request, 400, self.refuse)
        self.next_id += 1
        order = _order(params, self.next_id)
        self.orders[params["newClientOrderId"]] = order
        self._settle(order)
        if self.die == "after-placing":
            raise Killed
        return _response(request, 200, _full(order))

    def _settle(self, order: dict[str, Any]) -> None:
        """A fill moves the account: BTC against USDT, less the fee."""
        sign = 1 if order["side"] == "BUY" else -1
        fee, currency = _fee(order)
        for asset, change in (
            ("BTC", sign * D(order["executedQty"])),
            ("USDT", -sign * D(order["cummulativeQuoteQty"])),
            (currency, -fee),
        ):
            self.balances[asset] = self.balances.get(asset, D(0)) + change

    def close(self) -> None:
        pass

    def sent(self, method: str, path: str = ORDER) -> list[dict[str, str]]:
        return [params for m, p, params in self.calls if (m, p) == (method, path)]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Exchange credentials in the environment, as in production; no ./signalops.yaml."""
    for name, value in EXCHANGE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIGNALOPS_AUDIT", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


def auto_pipeline(
    audit: Path, venue: BinanceSpot, store: SnapshotStore, as_of: datetime
) -> Pipeline:
    """A live auto pipeline (what ``run --mode auto --live`` assembles) talking to ``venue``."""
    workspace = open_workspace(audit=audit)
    executor = build_auto_executor(live=True)  # credentials from the environment
    assert isinstance(executor, CcxtExecutor)
    exchange = executor.exchange
    assert type(exchange).__module__ == "ccxt.binance"  # the real class, not a fake
    exchange.enableRateLimit = False  # the stub has no rate limit; ccxt would sleep
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", venue)
    return Pipeline(
        strategies=load_strategies([STRATEGY]),
        adapters=registry.replay_adapters(store),
        audit=workspace.audit,
        broker=workspace.broker,
        config=workspace.config,
        mode=Mode.AUTO,
        auto_executor=executor,
        clock=lambda: as_of,
    )


def _trail(log: AuditLog, decision_id: str) -> list[str]:
    """The kinds of a decision's records in chain order: the decision, then its follow-ups."""
    decision = log.get(decision_id)
    head = [] if decision is None else [decision["kind"]]
    return head + [r["kind"] for r in log.followups(decision_id)]


def _decision_id(client_order_id: str) -> str:
    return "dec-" + client_order_id.removeprefix("so-")


def test_auto_buy_is_recorded_as_submitted_before_it_is_sent_then_its_result_and_fill(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    seen_at_send: list[list[dict[str, Any]]] = []

    def check_the_log(params: dict[str, str]) -> None:
        # Another connection on the same file, as another process would see it.
        with AuditLog(audit) as other:
            did = _decision_id(params["newClientOrderId"])
            seen_at_send.append([other.get(did), *other.followups(did)])

    venue = BinanceSpot(on_create=check_the_log)
    pipeline = auto_pipeline(audit, venue, replay_store, AS_OF)

    summary = pipeline.cycle(AS_OF)

    (outcome,) = summary.outcomes
    assert outcome.status is ExecutionStatus.FILLED
    (posted,) = venue.sent("POST")
    coid = posted["newClientOrderId"]
    assert _decision_id(coid) == outcome.decision_id
    assert (posted["symbol"], posted["side"], posted["type"]) == ("BTCUSDT", "BUY", "MARKET")
    (at_send,) = seen_at_send
    decision, submitted = at_send  # committed, and nothing else yet, when the POST went out
    assert decision["kind"] == "decision" and decision["verdict"] == "BUY"
    assert decision["execution"]["status"] == "SUBMITTED"
    assert submitted["kind"] == "order_submitted" and submitted["client_order_id"] == coid
    assert submitted["order"]["side"] == "BUY"
    assert D(posted["quantity"]) == D(submitted["order"]["quantity"]).quantize(D("0.00001"))
    # The account was read for the gate, then the venue was asked whether this client order
    # id was already placed, then the order went out.
    assert [(m, path) for m, path, _ in venue.calls] == [
        ("GET", ACCOUNT),
        ("GET", ORDER),
        ("POST", ORDER),
    ]

    log = pipeline.audit
    assert _trail(log, outcome.decision_id) == [
        "decision",
        "order_submitted",
        "order_result",
        "fill",
    ]
    result, fill = log.followups(outcome.decision_id)[1:]
    assert result["execution"]["status"] == "FILLED"
    assert fill["client_order_id"] == coid
    assert D(fill["fill"]["quantity"]) == D(posted["quantity"])
    assert D(fill["fill"]["price"]) == FILL_PRICE
    assert fill["fill"]["venue"] == "binance:sandbox"
    assert verify(log).ok
    log.close()


def test_why_of_an_auto_fill_says_the_quote_currency_of_the_symbol_it_traded(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    # The paper executor states its account's currency (details.quote); a venue's result only
    # its symbol (BTC/USDT). The order, price and fee read in that currency all the same: the
    # ORDER line said "at 20,150.69 (notional 500.00)" and the fill "fee 0.50".
    audit = tmp_path / "audit.db"
    pipeline = auto_pipeline(audit, BinanceSpot(), replay_store, AS_OF)
    (outcome,) = pipeline.cycle(AS_OF).outcomes
    pipeline.audit.close()
    coid = "so-" + outcome.decision_id.removeprefix("dec-")

    result = invoke("why", outcome.decision_id, "--audit", str(audit))

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    (order,) = [i for i, line in enumerate(lines) if line.startswith("ORDER: ")]
    assert lines[order:] == [
        f"ORDER: BUY 0.02481304 BTC at 20,150.69 USDT (notional 500.00 USDT), client order {coid}",
        "EXECUTION: SUBMITTED: sending to the venue",
        "FOLLOW-UPS:",
        f"  2023-03-11T00:00:00Z  order {coid} submitted",
        f"  2023-03-11T00:00:00Z  order {coid}: FILLED: binance:sandbox BUY 0.02481 BTC at "
        "20150.69 (closed)",
        # When the venue filled it (its trade time), recorded at the cycle's time above.
        "  2023-03-11T00:00:00.123000Z  filled 0.02481 BTC at 20,150.69 USDT, fee 0.50 USDT "
        "(binance:sandbox)",
    ]


def test_restart_after_a_crash_between_send_and_record_reconciles_and_never_resends(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    venue = BinanceSpot(die="after-placing")  # the venue filled it; we died before reading
    crashed = auto_pipeline(audit, venue, replay_store, AS_OF)
    with pytest.raises(Killed):
        crashed.cycle(AS_OF)
    crashed.audit.close()
    (placed,) = venue.sent("POST")
    coid = placed["newClientOrderId"]
    did = _decision_id(coid)
    with AuditLog(audit) as log:
        assert _trail(log, did) == ["decision", "order_submitted"]  # no order_result

    # The restart: a new process, a new pipeline on the same file, the same venue's memory.
    venue_after = BinanceSpot(orders=venue.orders)
    restarted = auto_pipeline(audit, venue_after, replay_store, AS_OF)
    summary = restarted.cycle(AS_OF)

    assert summary.reconciled == 1
    assert [o.skipped for o in summary.outcomes] == [True]  # the decision is not taken again
    assert venue_after.sent("POST") == []
    (looked_up,) = venue_after.sent("GET")
    assert looked_up["origClientOrderId"] == coid
    log = restarted.audit
    assert _trail(log, did) == ["decision", "order_submitted", "order_result", "fill"]
    result, fill = log.followups(did)[1:]
    assert result["execution"]["status"] == "FILLED"
    assert result["execution"]["details"]["reconciled"] is True
    assert fill["client_order_id"] == coid and D(fill["fill"]["price"]) == FILL_PRICE

    # Running the same cycle once more records nothing and asks the venue nothing.
    count, calls = log.count(), len(venue_after.calls)
    again = restarted.cycle(AS_OF)
    assert (again.reconciled, [o.skipped for o in again.outcomes]) == (0, [True])
    assert (log.count(), len(venue_after.calls)) == (count, calls)
    assert verify(log).ok
    log.close()


def test_restart_after_a_crash_before_the_venue_got_the_order_records_not_placed_and_never_sends(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    venue = BinanceSpot(die="before-placing")
    crashed = auto_pipeline(audit, venue, replay_store, AS_OF)
    with pytest.raises(Killed):
        crashed.cycle(AS_OF)
    crashed.audit.close()
    assert venue.orders == {}

    venue_after = BinanceSpot(orders=venue.orders)
    restarted = auto_pipeline(audit, venue_after, replay_store, AS_OF)
    summary = restarted.cycle(AS_OF)
    restarted.cycle(AS_OF)

    assert summary.reconciled == 1
    assert venue_after.sent("POST") == []
    (outcome,) = summary.outcomes
    log = restarted.audit
    assert _trail(log, outcome.decision_id) == ["decision", "order_submitted", "order_result"]
    (result,) = log.followups(outcome.decision_id)[1:]
    assert result["execution"]["status"] == "FAILED"
    assert result["execution"]["details"]["reason"] == "NOT_PLACED"
    assert verify(log).ok
    log.close()


AUTO_REFUSAL = (
    "auto mode places real orders; pass --live to confirm "
    "(or run with --mode paper or --mode notify)"
)


@pytest.mark.parametrize("how", ["--mode auto", "action_mode: auto"])
def test_auto_without_live_is_refused_with_the_exact_message_before_anything_runs(
    how: str, env: None, replay_dir: Path, tmp_path: Path
) -> None:
    strategy = STRATEGY
    mode: Mode | None = Mode.AUTO
    if how == "action_mode: auto":
        strategy = tmp_path / "auto.yaml"
        text = STRATEGY.read_text()
        strategy.write_text(text.replace("action_mode: paper", "action_mode: auto"))
        mode = None
    workspace = open_workspace(audit=tmp_path / "audit.db")

    with pytest.raises(SignalOpsError) as refused:
        build_pipeline(
            workspace, load_strategies([strategy]), mode=mode, live=False, replay=replay_dir
        )

    assert str(refused.value) == AUTO_REFUSAL
    assert workspace.audit.count() == 0  # credentials were there; still nothing happened
    workspace.close()


@pytest.mark.parametrize("how", ["--mode auto", "action_mode: auto"])
def test_run_in_auto_mode_without_live_is_refused_before_it_makes_a_log(
    how: str, env: None, replay_dir: Path, tmp_path: Path
) -> None:
    from conftest import invoke

    strategy, extra = STRATEGY, ["--mode", "auto"]
    if how == "action_mode: auto":
        strategy = tmp_path / "auto.yaml"
        strategy.write_text(STRATEGY.read_text().replace("action_mode: paper", "action_mode: auto"))
        extra = []
    audit = tmp_path / "audit.db"
    result = invoke(
        "run", str(strategy), "--replay", str(replay_dir), "--from", "2023-03-01",
        "--audit", str(audit), *extra,
    )  # fmt: skip

    assert (result.exit_code, result.stderr) == (1, f"error: {AUTO_REFUSAL}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["auto.yaml"] if how == "action_mode: auto" else []
    )


def test_auto_mode_audit_file_never_contains_the_exchange_key_or_secret(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    # Day one fills; day two the venue refuses the key with an error that echoes it back, at
    # the first signed request: the balance read of the risk gate.
    filled = auto_pipeline(audit, BinanceSpot(), replay_store, DAY_BEFORE)
    assert filled.cycle(DAY_BEFORE).outcomes[0].status is ExecutionStatus.FILLED
    filled.audit.close()
    echo = {"code": -2015, "msg": f"Invalid API-key {API_KEY}, IP, or permissions for action."}
    refused = auto_pipeline(audit, BinanceSpot(refuse=echo), replay_store, AS_OF)
    (outcome,) = refused.cycle(AS_OF).outcomes
    assert outcome.denials == ("PORTFOLIO_UNAVAILABLE",)
    log = refused.audit
    (check,) = log.get(outcome.decision_id)["risk"]["checks"]
    assert "AuthenticationError" in check["details"]["error"]
    assert "Invalid API-key" in check["details"]["error"]  # the venue's words are kept
    exported = tmp_path / "audit.jsonl"
    log.export_jsonl(exported)
    log.close()

    texts = [exported.read_text()]
    texts += [p.read_bytes().decode("latin-1") for p in tmp_path.glob("audit.db*")]
    assert len(texts) >= 2
    decisions = [json.loads(line) for line in texts[0].splitlines()]
    assert [r["kind"] for r in decisions if r["kind"] == "decision"] == ["decision", "decision"]
    for text in texts:
        for secret in (API_KEY, API_SECRET):
            assert secret not in text
            assert secret[:16] not in text  # not even a recognisable part of it


# --- the venue's holdings are what the gate sizes and checks against --------------------------


def _result(log: AuditLog, decision_id: str) -> dict[str, Any]:
    (result,) = [r for r in log.followups(decision_id) if r["kind"] == "order_result"]
    return result["execution"]


def _failed_checks(log: AuditLog, decision_id: str) -> dict[str, dict[str, Any]]:
    checks = log.get(decision_id)["risk"]["checks"]
    return {c["code"]: c["details"] for c in checks if not c["passed"]}


def test_auto_buy_then_a_later_auto_sell_in_the_same_pipeline_both_execute(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    venue = BinanceSpot()  # 10,000 USDT; the paper ledger never hears of the fills
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)

    (bought,) = pipeline.cycle(AS_OF).outcomes
    held = venue.balances["BTC"]  # what was filled, less Binance's fee in BTC
    (sold,) = pipeline.cycle(SELL_DAY).outcomes
    (again,) = pipeline.cycle(SELL_DAY + timedelta(days=1)).outcomes  # still a SELL signal

    assert (bought.verdict, bought.status) == (Verdict.BUY, ExecutionStatus.FILLED)
    assert (sold.verdict, sold.status) == (Verdict.SELL, ExecutionStatus.FILLED)
    buy, sell = venue.sent("POST")
    assert (buy["side"], sell["side"]) == ("BUY", "SELL")
    # The SELL closes what the venue holds, truncated to the 0.00001 BTC lot step by ccxt.
    assert D(sell["quantity"]) == held.quantize(D("0.00001"), rounding=ROUND_DOWN)
    assert venue.balances["BTC"] < D("0.00001")  # only dust below the lot step is left
    # The dust is no position: the next SELL is denied, not sent to fail at the venue.
    assert (again.verdict, again.denials) == (Verdict.SELL, ("NO_POSITION",))
    assert len(venue.sent("POST")) == 2
    log = pipeline.audit
    for outcome, posted in ((bought, buy), (sold, sell)):
        execution = _result(log, outcome.decision_id)
        # Filled in full: what was sent, not the intent's 8 decimals, is the measure.
        assert D(execution["details"]["sent"]) == D(posted["quantity"])
        assert "partial" not in execution["details"]
        assert "partial" not in execution["message"]
    assert verify(log).ok
    log.close()


def test_max_position_counts_what_the_venue_already_holds(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    # 0.1 BTC at about 20,150 is ~17% of a ~12,015 equity: any BUY breaks the 10% limit.
    venue = BinanceSpot(balances={"USDT": D("10000"), "BTC": D("0.1")})
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)

    (outcome,) = pipeline.cycle(AS_OF).outcomes

    assert outcome.denials == ("MAX_POSITION",)
    assert venue.sent("POST") == []
    log = pipeline.audit
    price = D(log.get(outcome.decision_id)["order"]["reference_price"])
    denied = _failed_checks(log, outcome.decision_id)["MAX_POSITION"]
    assert D(denied["equity"]) == D("10000") + D("0.1") * price
    assert D(denied["position_value"]) > D("0.1") * price
    log.close()


def test_a_balance_the_venue_cannot_report_is_a_recorded_denial_not_an_exception(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    venue = BinanceSpot(account_down=True)
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)

    summary = pipeline.cycle(AS_OF)

    (outcome,) = summary.outcomes
    assert (outcome.verdict, outcome.status) == (Verdict.BUY, ExecutionStatus.NOT_EXECUTED)
    assert outcome.denials == ("PORTFOLIO_UNAVAILABLE",)
    assert "1 denied by risk" in summary.line()
    assert [(m, path) for m, path, _ in venue.calls] == [("GET", ACCOUNT)]  # nothing sent
    log = pipeline.audit
    assert _trail(log, outcome.decision_id) == ["decision"]
    error = _failed_checks(log, outcome.decision_id)["PORTFOLIO_UNAVAILABLE"]["error"]
    assert error.startswith("could not read the balance at binance:sandbox: RequestTimeout")
    assert verify(log).ok
    log.close()


def test_holdings_nothing_prices_block_buys_but_not_sells(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    # XRP: no strategy trades it, so no price values it; its share of equity is unknown.
    balances = {"USDT": D("10000"), "BTC": D("0.02"), "XRP": D("5000")}
    venue = BinanceSpot(balances=balances)
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)

    (buy,) = pipeline.cycle(AS_OF).outcomes
    (sell,) = pipeline.cycle(SELL_DAY).outcomes

    assert buy.denials == ("UNPRICED_HOLDINGS",)
    unpriced = _failed_checks(pipeline.audit, buy.decision_id)["UNPRICED_HOLDINGS"]
    assert unpriced["asset"] == "BTC"
    assert {k: D(v) for k, v in unpriced["holdings"].items()} == {"XRP": D("5000")}
    assert (sell.status, sell.denials) == (ExecutionStatus.FILLED, ())
    (posted,) = venue.sent("POST")
    assert (posted["side"], D(posted["quantity"])) == ("SELL", D("0.02"))
    pipeline.audit.close()


class CountingAdapter:
    """An adapter that remembers every request it was asked."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.source = adapter.source
        self.catalogue = adapter.catalogue
        self.asked: list[Any] = []

    def fetch(self, requests: Any, as_of: datetime) -> Any:
        self.asked.extend(requests)
        return self.adapter.fetch(requests, as_of)


def test_restart_replaying_a_recorded_cycle_fetches_no_data_and_keeps_its_outcomes(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    first = auto_pipeline(audit, BinanceSpot(), replay_store, AS_OF)
    (done,) = first.cycle(AS_OF).outcomes
    first.audit.close()

    venue = BinanceSpot()
    restarted = auto_pipeline(audit, venue, replay_store, AS_OF)
    counting = {name: CountingAdapter(a) for name, a in restarted.adapters.items()}
    restarted.adapters = counting
    summary = restarted.cycle(AS_OF)

    (outcome,) = summary.outcomes
    assert outcome.skipped and outcome.decision_id == done.decision_id
    assert outcome.verdict is Verdict.BUY  # as recorded
    assert "1 already recorded" in summary.line()
    assert [a.asked for a in counting.values()] == [[]] * len(counting)
    assert venue.calls == []
    restarted.audit.close()


def test_an_auto_order_leaves_the_processs_decimal_rounding_as_it_found_it(
    env: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    """ccxt's decimal_to_precision set the thread's context to round half up (and to trap
    underflow) and left it so: after the first order every Decimal of the process rounded
    otherwise, and ``why`` printed a fee of 0.005 as 0.01 (the test of that failed whenever it
    ran after this file)."""
    before = decimal.getcontext().copy()
    pipeline = auto_pipeline(tmp_path / "audit.db", BinanceSpot(), replay_store, AS_OF)

    (outcome,) = pipeline.cycle(AS_OF).outcomes

    assert outcome.status is ExecutionStatus.FILLED
    after = decimal.getcontext()
    assert (after.rounding, after.prec) == (before.rounding, before.prec) == (ROUND_HALF_EVEN, 28)
    assert after.traps == before.traps
    assert D("0.0025").quantize(D("0.001")) == D("0.002")  # half to even, as before the order
    pipeline.audit.close()
