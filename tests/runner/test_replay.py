"""Replay in a real runner: journaled steps are answered from the journal, never run again."""

from __future__ import annotations

from collections.abc import Callable

from tests.runner.akd_side import Runner, Session, run_to_end


def test_a_first_run_journals_each_step_once_with_consecutive_seqs(runners: Callable[[], Runner]) -> None:
    runner = runners()
    runner.start(Session(labels=["a", "b", "c"]))
    first = run_to_end(runner)
    assert [(m["seq"], m["kind"], m["args"]) for m in first.steps] == [
        (0, "step", "'a'"),
        (1, "step", "'b'"),
        (2, "step", "'c'"),
    ]
    assert first.done == {"op": "done", "ok": True, "value": ["a#1", "b#2", "c#3"]}
    assert runner.effects_done() == ["a", "b", "c"]


def test_replay_returns_journaled_values_and_runs_only_the_steps_after_the_journal(
    runners: Callable[[], Runner],
) -> None:
    first_runner = runners()
    first_runner.start(Session(labels=["a", "b", "c", "d"]))
    first = run_to_end(first_runner)
    assert first.done["value"] == ["a#1", "b#2", "c#3", "d#4"]

    # The next segment replays the first two steps (as if akd had crashed after them).
    replay = runners()
    replay.start(Session(labels=["a", "b", "c", "d"], journal=first.journal(2)))
    second = run_to_end(replay)
    assert replay.effects_done() == ["a", "b", "c", "d", "c", "d"]  # only c and d ran again
    assert [m["seq"] for m in second.steps] == [2, 3]
    assert [m["name"] for m in second.steps] == [m["name"] for m in first.steps[2:]]
    # a and b are the journal's values: run again, they would have said a#5 and b#6.
    assert second.done["value"] == ["a#1", "b#2", "c#5", "d#6"]


def test_a_fully_journaled_session_runs_no_step_and_sends_no_step(runners: Callable[[], Runner]) -> None:
    first_runner = runners()
    first_runner.start(Session(labels=["a", "b"]))
    first = run_to_end(first_runner)

    replay = runners()
    replay.start(Session(labels=["a", "b"], journal=first.journal(2)))
    second = run_to_end(replay)
    assert second.steps == []
    assert replay.effects_done() == ["a", "b"]
    assert second.done["value"] == ["a#1", "b#2"]
