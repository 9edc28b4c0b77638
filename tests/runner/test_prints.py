"""Print dedupe keys in a real runner: the same print at the same place of the code gets
the same key in every run of a durable session, and attempts of a non-durable one keep
their prints apart by a prefix."""

from __future__ import annotations

from collections.abc import Callable

from tests.runner.akd_side import Runner, Session, run_to_end


def test_a_replayed_run_sends_the_unstored_prints_with_the_keys_of_the_first_run(
    runners: Callable[[], Runner],
) -> None:
    first_runner = runners()
    first_runner.start(Session(labels=["a", "b", "c"]))
    first = run_to_end(first_runner)
    keys = [key for key, _ in first.prints]
    assert len(set(keys)) == len(keys)
    assert first.prints[:3] == [("p0.1", "before a"), ("s0.1", "doing a"), ("p1.1", "after a")]

    replay = runners()
    replay.start(Session(labels=["a", "b", "c"], journal=first.journal(2)))
    second = run_to_end(replay)
    # Prints before the journaled steps were stored with them: the replay does not send
    # them; from the end of the journal on it sends what the first run sent, key for key.
    since_journal = first.prints.index(("p2.1", "after b"))
    assert second.prints == first.prints[since_journal:]


def test_each_attempt_of_a_non_durable_session_prefixes_its_print_keys(runners: Callable[[], Runner]) -> None:
    transcripts = {}
    for attempt in (1, 2, 3):
        runner = runners()
        runner.start(Session(labels=["a", "b"], durable=False, attempt=attempt))
        transcripts[attempt] = run_to_end(runner)
    first = transcripts[1].prints
    assert first == [
        ("p0.1", "before a"), ("p0.2", "doing a"), ("p0.3", "after a"),
        ("p0.4", "before b"), ("p0.5", "doing b"), ("p0.6", "after b"),
    ]  # fmt: skip
    assert transcripts[1].steps == []  # nothing is journaled in a non-durable session
    for attempt in (2, 3):
        assert transcripts[attempt].prints == [(f"a{attempt}.{key}", text) for key, text in first]
