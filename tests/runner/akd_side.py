"""akd's side of the runner protocol, played by a test: a real runner process over a
real socket pair, started as akd starts one without its fork server
(``python -m akd.runner --fd N``, see ``akd.engine.runners.RunnerHub._start_runner``).

Every read has a deadline (the socket's timeout), so a runner that stops talking fails
the test instead of hanging it.
"""

from __future__ import annotations

import pickle
import select
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akd.engine.runners import runner_base_env
from akd.runner.protocol import SyncChannel

READ_TIMEOUT = 15.0  # generous: a loaded machine starts an interpreter slowly

# The user program of these tests. ``effect`` is an @activity step whose side effect is a
# line in the EFFECTS file and whose value says how many lines there were, so a step that
# ran again (or a value not taken from the journal) shows. ``pause`` waits without a step
# and without hearing from akd (calls inside it run directly).
PROGRAM = """
import os
import time

from autokitteh import activity, inhibit_activities


@activity
def effect(label):
    print("doing", label)
    with open(os.environ["EFFECTS"], "a") as f:
        f.write(label + "\\n")
    with open(os.environ["EFFECTS"]) as f:
        return f"{label}#{len(f.read().split())}"


@inhibit_activities
def pause(seconds):
    time.sleep(seconds)


def run(event):
    got = []
    for label in event.data["labels"]:
        print("before", label)
        if label in event.data.get("pause_before", ()):
            pause(event.data["pause_seconds"])
        got.append(effect(label))
        print("after", label)
    return got
"""


@dataclass
class Session:
    """What a test varies about the session a runner is given (akd's ``init`` and payload)."""

    labels: list[str]
    durable: bool = True
    attempt: int = 1
    journal: list[tuple[str, str, bytes]] = field(default_factory=list)
    pause_before: list[str] = field(default_factory=list)
    pause_seconds: float = 0.0


class Runner:
    """One runner process and akd's end of its socket pair."""

    def __init__(self, tmp_path: Path, session_id: str = "ses_test") -> None:
        self.tmp_path = tmp_path
        self.session_id = session_id
        self.build_dir = tmp_path / "build"
        self.effects = tmp_path / "effects.txt"
        self.build_dir.mkdir(exist_ok=True)
        (self.build_dir / "main.py").write_text(PROGRAM)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.settimeout(READ_TIMEOUT)
        self.sock = ours
        self.chan = SyncChannel(ours)
        with (tmp_path / "runner.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "akd.runner", "--fd", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(theirs.fileno(),),
                env=runner_base_env(),
            )  # fmt: skip
        theirs.close()

    def start(self, session: Session) -> None:
        """``start``, the runner's ``hello``, then ``init`` with the session's spec."""
        self.send({"op": "start", "session_id": self.session_id})
        hello = self.recv()
        assert hello["op"] == "hello" and hello["pid"] == self.proc.pid, hello
        init = {
            "build_dir": str(self.build_dir),
            "code_cache": str(self.tmp_path / "code_cache"),
            "entrypoint": "main.py:run",
            "durable": session.durable,
            "env": {"EFFECTS": str(self.effects)},
            "secret_env": [],
            "site_dirs": [],
            "max_result_bytes": 1024 * 1024,
            "limits": {},
            "max_print_bytes": 0,
            "attempt": session.attempt,
            "retry_policy": {},
        }
        data = {"labels": session.labels, "pause_before": session.pause_before, "pause_seconds": session.pause_seconds}
        payload = {"event": {"data": data, "event_id": "evt_test", "event_type": "test"}, "journal": session.journal}
        self.chan.send({"op": "init", **init}, pickle.dumps(payload))

    def send(self, msg: dict[str, Any]) -> None:
        self.chan.send(msg)

    def recv(self) -> dict[str, Any]:
        return self.recv_frame()[0]

    def recv_frame(self) -> tuple[dict[str, Any], bytes]:
        try:
            return self.chan.recv()
        except TimeoutError:
            raise AssertionError(
                f"the runner said nothing for {READ_TIMEOUT} s; see {self.tmp_path}/runner.log"
            ) from None

    def silent_for(self, seconds: float) -> bool:
        """Whether the runner sends nothing (and keeps its end open) for ``seconds``."""
        ready, _, _ = select.select([self.sock], [], [], seconds)
        return not ready

    def effects_done(self) -> list[str]:
        return self.effects.read_text().split() if self.effects.exists() else []

    def exit_code(self, timeout: float = READ_TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        """akd's end goes away (what akd does once it stored the outcome, or gives up)."""
        self.sock.close()

    def stop(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(READ_TIMEOUT)


@dataclass
class Transcript:
    """What a runner sent while akd acked every step: its messages and step blobs, in order."""

    messages: list[dict[str, Any]]
    blobs: dict[int, bytes]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["op"] == "step"]

    @property
    def prints(self) -> list[tuple[str, str]]:
        return [(m["key"], m["text"]) for m in self.messages if m["op"] == "print"]

    @property
    def done(self) -> dict[str, Any]:
        assert self.messages[-1]["op"] == "done", self.messages[-1]
        return self.messages[-1]

    def journal(self, n: int) -> list[tuple[str, str, bytes]]:
        """The first ``n`` steps as akd journals them: (kind, name, outcome blob)."""
        return [(m["kind"], m["name"], self.blobs[m["seq"]]) for m in self.steps[:n]]


def run_to_end(runner: Runner) -> Transcript:
    """Play akd for a whole segment: ack every step and lease, collect until ``done``."""
    messages: list[dict[str, Any]] = []
    blobs: dict[int, bytes] = {}
    while True:
        msg, blob = runner.recv_frame()
        messages.append(msg)
        if msg["op"] == "step":
            blobs[int(msg["seq"])] = blob
            runner.send({"op": "ack"})
        elif msg["op"] == "lease":
            runner.send({"op": "ack"})
        elif msg["op"] == "done":
            runner.close()
            return Transcript(messages, blobs)
        else:
            assert msg["op"] == "print", msg
