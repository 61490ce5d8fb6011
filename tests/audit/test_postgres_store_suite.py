"""The SQLite store's test-suite, run against the PostgreSQL backend.

``test_audit_store``'s tests that speak only the store interface are imported here by name and
collected again with this module's ``log`` fixture: a ``PostgresAuditLog`` on a database of its
own on the real server (``pg_fixtures``). Those that look at SQLite itself (WAL, PRAGMAs, query
plans, files, sqlite-utils tables) stay SQLite's; the PostgreSQL twins of the concurrency and
append-only tests are in ``test_postgres_store``.
"""

from __future__ import annotations

import pytest
from pg_fixtures import pg_server, pg_url  # noqa: F401  (fixtures)
from test_audit_store import (  # noqa: F401  (collected again here, with this module's log)
    history,
    test_an_approval_or_an_expiry_takes_a_decision_off_the_queue,
    test_append_many_is_all_or_nothing,
    test_append_refuses_records_not_built_by_the_builders,
    test_appends_get_consecutive_seqs_linked_by_prev_hash,
    test_decision_at_a_date_is_that_days_latest_or_none,
    test_decision_at_a_time_is_the_latest_at_or_before_it,
    test_decision_at_can_be_narrowed_to_a_strategy,
    test_decisions_come_newest_first,
    test_decisions_filter_by_asset_verdict_and_strategy,
    test_decisions_filter_by_time_with_inclusive_bounds_and_whole_days,
    test_decisions_leave_out_followups,
    test_duplicate_decision_is_refused_and_nothing_is_written,
    test_empty_log_exports_nothing_and_counts_zero,
    test_export_jsonl_round_trips_and_every_line_verifies,
    test_failed_append_inside_a_transaction_leaves_the_rest_of_it_intact,
    test_followups_come_in_order_and_has_decision_knows_decisions_only,
    test_get_returns_exactly_the_sealed_record,
    test_pending_approvals_list_waiting_decisions_with_their_expiry,
    test_records_iterates_in_chain_order_across_pages,
    test_strategy_document_is_stored_once_per_content_hash,
    test_sub_second_times_sort_after_the_whole_second,
    test_threads_sharing_one_log_object_keep_one_chain,
)


@pytest.fixture
def log(pg_url):  # noqa: F811
    from signalops.audit.postgres import PostgresAuditLog

    with PostgresAuditLog(pg_url, runner="suite") as opened:
        yield opened
