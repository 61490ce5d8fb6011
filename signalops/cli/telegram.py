"""``signalops telegram``: the bot that answers the Approve / Reject buttons of notify mode."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signalops.cli.params import AUDIT_OPTION, CONFIG_OPTION, default_config, parse_time
from signalops.errors import ApprovalError, InputError

if TYPE_CHECKING:
    from signalops.telegram import Handled, Press


@click.command("telegram")
@click.option("--once", is_flag=True, help="Poll once and stop (for scripts and tests).")
@click.option("--live", is_flag=True, help="Execute approvals through the live exchange (auto).")
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path),
    help="Re-check signals on replayed data (for replays and tests).",
)
@click.option("--at", help="Decision time of the re-checks (default: the time of each press).")
@AUDIT_OPTION
@CONFIG_OPTION
@click.pass_obj
def telegram_command(
    transport: object,
    once: bool,
    live: bool,
    replay_dir: Path | None,
    at: str | None,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """Answer Telegram's Approve / Reject buttons: each press approves or rejects through the
    same flow as `signalops approve/reject`, recorded with who pressed (telegram:@username).

    Uses the config's telegram webhook (its bot token variable). Only chats listed in
    notify: telegram: allowed_chat_ids (or $SIGNALOPS_TELEGRAM_ALLOWED_CHATS, comma-separated)
    may answer; a press from any other chat is refused and records nothing. Runs until
    Ctrl-C (or SIGTERM); it can run alongside `signalops run`.

    \b
    Example:
      signalops telegram --audit signalops.db
    """
    import httpx

    from signalops import breakers
    from signalops.config import load_config
    from signalops.pipeline import approvals
    from signalops.pipeline.loop import stop_on_signals
    from signalops.telegram import TelegramBot, allowed_chats
    from signalops.workspace import open_workspace, require_log

    # The config is checked before the log is looked at, and the log must be one a run made:
    # a mistyped --audit is refused as such, not made into an empty log.
    config = load_config(config_file or default_config())
    hooks = [w for w in config.notify.webhooks if w.kind == "telegram"]
    if not hooks:
        raise InputError("no telegram webhook in the config's notify: webhooks (its bot token)")
    token = (os.environ.get(hooks[0].url_env) or "").strip()
    if not token:
        raise InputError(f"environment variable {hooks[0].url_env} (the bot token) is not set")
    allowed = allowed_chats(config.notify.telegram_allowed_chat_ids, os.environ)
    if not allowed:
        raise InputError(
            "no chat may answer: list them in notify: telegram: allowed_chat_ids "
            "(or $SIGNALOPS_TELEGRAM_ALLOWED_CHATS)"
        )
    require_log(audit_file, config)

    def answer(approval_id: str, approve: bool, by: str) -> str:
        now = parse_time(at) if at else datetime.now(UTC)
        opened = open_workspace(audit=audit_file, config=config_file, existing=True)
        opened.config = breakers.applied(opened.config, opened.audit)
        try:
            outcome = approvals.answer(
                opened,
                approval_id,
                approve=approve,
                by=by,
                now=now,
                note=None if approve else "rejected from Telegram",
                live=live,
                replay=replay_dir,
            )
        except ApprovalError as exc:
            return str(exc)
        finally:
            opened.close()
        return f"{outcome.approval_id}: {outcome.status} — {outcome.message}"

    bot = TelegramBot(
        token,
        allowed,
        answer,
        # Tests serve recorded Bot API answers through ``obj``.
        transport=transport if isinstance(transport, httpx.BaseTransport) else None,
    )
    stop = threading.Event()
    try:
        with stop_on_signals(stop):
            bot.run(stop, once=once, on_press=_print)
    finally:
        bot.close()


def _print(done: Handled) -> None:
    press = done.press
    click.echo(f"{press.by} (chat {press.chat_id}) {_verb(press)}: {done.told}")


def _verb(press: Press) -> str:
    return ("approve " if press.approve else "reject ") + press.approval_id
