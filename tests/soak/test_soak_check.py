"""The crash soak's own pass check (hardening item 9), on hand-made timings.

A kill interrupts at most the one step each session has in flight, so several sessions
may each repeat one step at the same kill; a second repeat of one session for one kill,
or a repeat with no kill in between, breaks the promise.
"""

from __future__ import annotations

from tests.soak.soak import Report, count_repeats

KILLS = [(10.0, 10.2), (20.0, 20.2)]  # (just before the signal, once akd was dead)


def test_several_sessions_each_repeating_their_step_at_one_kill_pass() -> None:
    runs = {(n, 1): [9.9, 11.0] for n in range(3)}  # three sessions mid-step at the first kill
    report = Report(sessions=3, completed=3, kills=len(KILLS))
    count_repeats(runs, KILLS, report)
    assert report.repeated_effects == 3  # more repeats than kills, and still within the promise
    assert (report.excess_repeats, report.unexplained_repeats) == (0, 0) and report.ok(), report


def test_one_session_repeating_a_step_at_each_of_two_kills_passes() -> None:
    report = Report(sessions=1, completed=1, kills=len(KILLS))
    count_repeats({(0, 1): [9.9, 10.5, 20.1]}, KILLS, report)
    assert report.repeated_effects == 2 and report.ok(), report


def test_two_repeats_of_one_session_at_one_kill_fail() -> None:
    report = Report(sessions=1, completed=1, kills=len(KILLS))
    count_repeats({(0, 1): [9.9, 11.0], (0, 2): [9.95, 11.5]}, KILLS, report)
    assert report.excess_repeats == 1 and not report.ok(), report


def test_a_repeat_with_no_kill_in_between_fails() -> None:
    report = Report(sessions=1, completed=1, kills=len(KILLS))
    count_repeats({(0, 4): [12.0, 13.0]}, KILLS, report)
    assert report.unexplained_repeats == 1 and not report.ok(), report
