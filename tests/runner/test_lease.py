"""The lease in a real runner: one that has heard nothing from akd for more than
LEASE_SECONDS asks akd (``lease``) before its next live step, and runs the step only
once akd acks; a runner akd answered recently does not ask."""

from __future__ import annotations

from collections.abc import Callable

from akd.runner.context import LEASE_SECONDS
from tests.runner.akd_side import Runner, Session, run_to_end

# How long the session's code computes (without a step) before step b: past the lease.
PAST_THE_LEASE = LEASE_SECONDS + 0.3
# How long the test watches a runner that must be waiting for akd's answer.
HOLD = 0.5


def _until_lease(runner: Runner) -> list[dict[str, object]]:
    """Ack step a, then read up to the runner's lease request (which must come before step b)."""
    seen = []
    while True:
        msg = runner.recv()
        seen.append(msg)
        if msg["op"] == "step":
            assert msg["seq"] == 0, f"step {msg['seq']} ran without asking akd first"
            runner.send({"op": "ack"})
        elif msg["op"] == "lease":
            return seen


def test_a_runner_silent_past_the_lease_asks_akd_and_waits_for_its_ack(runners: Callable[[], Runner]) -> None:
    runner = runners()
    runner.start(Session(labels=["a", "b"], pause_before=["b"], pause_seconds=PAST_THE_LEASE))
    seen = _until_lease(runner)
    assert seen[-1] == {"op": "lease"}
    assert runner.effects_done() == ["a"]
    # Unanswered, the runner neither runs step b nor sends anything.
    assert runner.silent_for(HOLD)
    assert runner.effects_done() == ["a"]
    runner.send({"op": "ack"})
    rest = run_to_end(runner)
    assert [m["seq"] for m in rest.steps] == [1]
    assert rest.done["value"] == ["a#1", "b#2"]
    assert runner.effects_done() == ["a", "b"]


def test_a_runner_whose_lease_akd_refuses_by_closing_exits_without_running_the_step(
    runners: Callable[[], Runner],
) -> None:
    runner = runners()
    runner.start(Session(labels=["a", "b"], pause_before=["b"], pause_seconds=PAST_THE_LEASE))
    _until_lease(runner)
    runner.close()  # what akd does when the session moved to another node
    assert runner.exit_code() == 0
    assert runner.effects_done() == ["a"]


def test_a_runner_acked_recently_runs_its_next_steps_without_asking(runners: Callable[[], Runner]) -> None:
    runner = runners()
    runner.start(Session(labels=["a", "b", "c"]))
    got = run_to_end(runner)
    # The first step is left out: the runner's start-up (from init to it) counts as silence,
    # and a slow machine may make it long. Every later step follows akd's ack at once.
    after_first = got.messages[got.messages.index(got.steps[0]) :]
    assert [m for m in after_first if m["op"] == "lease"] == []
    assert [m["seq"] for m in got.steps] == [0, 1, 2]
    assert got.done["value"] == ["a#1", "b#2", "c#3"]
