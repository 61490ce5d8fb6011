"""The audit log: one append-only, hash-chained record per evaluation, and what follows it.

Every evaluation (traded, blocked, held or denied) becomes a ``decision`` record. Anything that
happens later to that decision is a *new* record that references it by ``decision_id``; nothing
is ever updated in place:

    kind              written when                                  references
    decision          every evaluation of a strategy for an asset   -
    order_submitted   auto mode, just BEFORE an order is sent        decision_id, client_order_id
    order_result      auto mode, after the venue answered           decision_id, client_order_id
    fill              an order filled (paper at once, live later)    decision_id, client_order_id
    approval          a human approved or rejected (notify mode)    decision_id, approval_id
    expiry            a pending approval passed its expiry           decision_id, approval_id

Common fields of every record (see ``schemas/decision.schema.json``):
``schema``, ``kind``, ``id``, ``seq`` (1, 2, 3... in chain order), ``recorded_at``, ``prev_hash``
(the previous record's hash; 64 zeros for the first) and ``hash`` = sha256 of the canonical JSON
(``signalops.canonical``) of the record without ``hash``.

A ``decision`` record is compact (``schema`` "signalops.audit/2"): strategy name, content hash,
file and the content hash of its compiled tree (the strategy document and the tree, with each
node's span in the file, are stored once per hash in the ``strategies`` and ``trees`` tables),
asset, mode, ``as_of``, verdict, action, blocked_by, conflicts, what each of the tree's requests
was answered (value, data time, fetched time, detail; or the error; or nothing), each risk check
with its outcome and details, the order intent, and the execution outcome. The full trace
(every leaf with value, data timestamp, operator, threshold and status) is a pure function of
the tree, the observations, ``as_of`` and the asset: ``expand.expanded(record, log)`` evaluates
the stored tree again and gives the record as a "signalops.audit/1" decision stored it (those,
in logs written before, still read as they are). Follow-ups and breakers are
"signalops.audit/1".

Follow-up ids are ``{kind}-{decision hex}-{n}`` (e.g. ``approval-1662108dbba0a8f7559ca420-1``):
the n-th record of that kind for that decision, n counting from 1. They are deterministic and
``id`` is UNIQUE in the store, so recording the same event again after a restart fails with
``DuplicateRecordError`` instead of writing it twice. The fields each kind carries (follow-ups
may add more; a decision record has exactly the fields listed above):

    order_submitted   client_order_id, order (``OrderIntent.to_dict()``)
    order_result      client_order_id, execution (``ExecutionResult.to_dict()``)
    fill              client_order_id, fill (``Fill.to_dict()``)
    approval          approval_id, approved (bool), by (who); optional note
    expiry            approval_id, expires_at

Records are plain JSON: NaN and infinity are the strings "nan"/"inf"/"-inf", money and
quantities are decimal strings, times are UTC ISO-8601 with a ``Z``. No record carries a
credential: the builders read none, and scrub secret-looking environment values and
``api_key=...`` from every string (an error message may quote a URL that carried a key).

The modules:

    record.py   build_decision_record, DecisionTemplate (the same bytes, fast), build_followup,
                followup_id   (not yet sealed)
    trees.py    the compiled tree as JSON (what compact decisions are re-derived from)
    expand.py   expanded(record, log): a compact decision in its full /1 shape (the one read
                side function every reader that shows a decision uses)
    chain.py    GENESIS, seal, check                                   (seq, prev_hash, hash)
    layout.py   how records sit in the table: compact (new logs), legacy (older logs)
    store.py    AuditLog: SQLite (WAL), appends in BEGIN IMMEDIATE, queries (one index range
                per verdict), the approval queue, JSONL export; a chain_head row to catch a
                deleted tail; ``log.db`` wraps the connection in sqlite-utils for the paper
                ledger. ``AuditLog(path)`` creates a missing log (for commands that write);
                ``AuditLog.open_readonly(path)`` reads an existing one and raises
                ``AuditNotFound`` / ``AuditUnreadable`` (signalops.errors) otherwise
    verify.py   verify(log) -> VerifyReport of EDITED / DELETED / REORDERED / INSERTED problems
    why.py      why(record, followups) -> rich Text lines; why_json; find_decision
    schema.py   the JSON Schema of records, loaded; record_errors(record)
    paper_ledger.py  the paper broker's ledger tables in the same file (its only SQL)
    queries.py  reads by record kind for the pipeline and the backtest
    replay.py   re-evaluate a stored decision from the log alone

A run loop records a decision, and its fill, atomically with its own state::

    log = AuditLog("state/audit.db")
    log.remember_strategy(strategy)
    record = build_decision_record(strategy=..., evaluation=..., mode=..., intent=...,
                                   risk=..., execution=..., recorded_at=as_of)
    with log.transaction() as db:                 # one SQLite transaction
        if not log.has_decision(record["id"]):    # idempotent across restarts
            log.append(record)
            db.table("paper_positions").upsert(...)
"""
