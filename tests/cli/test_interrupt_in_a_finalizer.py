"""Ctrl-C that lands while a finalizer runs still stops the command.

Regression test: a stress run interrupted under load exited 0 and published its report, its
stderr "Exception ignored in: <function WeakKeyDictionary.__init__.<locals>.remove ...>
KeyboardInterrupt": Python drops an exception raised in a weakref's callback or a ``__del__``,
so the block went on as if nothing had been pressed.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from signalops.backtest.folders import staged
from signalops.cli import output


class _FreedOnCtrlC:
    """Sends Ctrl-C as it is freed: its handler raises inside ``__del__``, where it is dropped."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_raised_in_a_finalizer_stops_the_block_and_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    went_on: list[str] = []
    with (
        pytest.raises(SystemExit) as stop,
        output.interruptible(Path("R")),
        staged(Path("R")) as work,
    ):
        (work / "metrics.json").write_text("{}")
        _FreedOnCtrlC()  # freed at once
        went_on.append("the block went on")  # to its end: the folder is not published
    assert stop.value.code == 130
    assert went_on == ["the block went on"]
    assert list(tmp_path.iterdir()) == []  # no report, no staging folder
    assert capsys.readouterr().err == "interrupted: nothing written (R is as it was)\n"


def test_a_stop_signal_raised_in_a_finalizer_keeps_its_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    class FreedOnTerm:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop, output.interruptible(None):
        FreedOnTerm()
    assert stop.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "interrupted: nothing written\n"


def test_after_the_block_a_finalizer_s_other_errors_are_reported_as_before(
    monkeypatch: pytest.MonkeyPatch,
):
    seen: list[type[BaseException]] = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: seen.append(type(u.exc_value)))

    class Failing:
        def __del__(self) -> None:
            raise ValueError("in a finalizer")

    with output.interruptible(None):
        Failing()
    Failing()
    assert seen == [ValueError, ValueError]


def test_a_stop_dropped_in_a_block_that_failed_is_not_raised_in_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError), output.interruptible(None):
        _FreedOnCtrlC()
        raise ValueError("the block's own error")
    with staged(Path("R")) as work:
        (work / "trades.csv").write_text("")
    assert [p.name for p in (tmp_path / "R").iterdir()] == ["trades.csv"]
