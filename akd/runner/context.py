"""The live session inside a runner: journaled steps, replay, prints, waits.

``Session.call`` is what every call inside a user function goes through (the import
hook rewrites ``f(x)`` to ``_akd_call(f, x)``). It runs deterministic code directly and
turns everything else into a step: executed once, its outcome pickled and committed
by akd before the user code sees it, and answered from the journal on replay.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import io
import os
import pickle
import sys
import threading
import time
import traceback
import types
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from akd.procs import kill_tree
from akd.runner.errors import (
    NonDeterminismError,
    StepResultTooLargeError,
    UnpicklableResultError,
)
from akd.runner.outcomes import NotReplayable, round_trip
from akd.runner.protocol import SyncChannel
from akd.runner.purity import describe, is_pure, mask, result_reprs, secret_values, summarize_args
from akd.runner.retry import RetryPolicy
from akd.runner.retry import current as retry_current

# Results up to this many pickled bytes get a repr in the step log; larger ones their size.
REPR_RESULT_BYTES = 64 * 1024
# Remaining sleep below which the runner just sleeps instead of parking the session.
LOCAL_SLEEP_LIMIT = 2.0
# A live step that starts this long after akd last answered asks akd first whether the
# session is still its node's: a machine that stalled (frozen, stopped) may have lost it
# to another akd meanwhile, and the step's side effect must not run twice. Runners that
# hear from akd more often never ask.
LEASE_SECONDS = 1.0
_real_sleep = time.sleep
_real_print = builtins.print
# Builtin functions named in user code run directly; the objects they return (an open
# file) have their methods journaled like any other call.
_BUILTIN_FUNCTIONS = frozenset(id(v) for v in vars(builtins).values() if isinstance(v, types.BuiltinFunctionType))


def _identity(obj: Any) -> tuple[int, ...]:
    # A bound method is a new object at each attribute access: it is its object and function.
    if inspect.ismethod(obj):
        return (id(obj.__self__), id(obj.__func__))
    return (id(obj),)


def _owner_classes(fn: Any) -> tuple[type, ...]:
    """The classes ``fn`` is a method of (with their bases), from the object it is bound to,
    the class a method descriptor belongs to, or the qualified name of a plain function."""
    owner = getattr(fn, "__self__", None)
    if owner is not None and not inspect.ismodule(owner):
        cls = owner if isinstance(owner, type) else type(owner)
        return cls.__mro__
    objclass = getattr(fn, "__objclass__", None)
    if isinstance(objclass, type):
        return objclass.__mro__
    qualname = str(getattr(fn, "__qualname__", "") or "")
    target: Any = sys.modules.get(str(getattr(fn, "__module__", "") or ""))
    for part in qualname.split(".")[:-1]:
        target = getattr(target, part, None)
    return target.__mro__ if isinstance(target, type) and "." in qualname else ()


@dataclass
class JournalEntry:
    kind: str
    name: str
    blob: bytes


class Session:
    """One session's runtime state inside the runner process."""

    def __init__(
        self,
        chan: SyncChannel,
        session_id: str,
        *,
        durable: bool,
        journal: list[JournalEntry],
        build_dir: str,
        max_result_bytes: int,
        max_print_bytes: int = 0,
        secret_env: Sequence[str] = (),
    ) -> None:
        self.chan = chan
        # Values masked in the step log's args and results (the env is set before the session).
        self.secrets = secret_values(os.environ, secret_env)
        self.session_id = session_id
        self.durable = durable
        self.journal = journal
        self.build_prefix = build_dir.rstrip("/") + "/"
        self.max_result_bytes = max_result_bytes
        self.max_print_bytes = max_print_bytes
        self.default_policy: RetryPolicy | None = None
        self._printed = 0
        self.user_modules: set[str] = set()
        # register_no_activity: identity keys -> the registered objects, kept alive so
        # that no other object can take over their id.
        self.no_activity: dict[tuple[int, ...], Any] = {}
        self.seq = 0
        self.in_step = 0
        self.inhibit = 0
        # Module top-level code being imported (not journaled, as in AutoKitteh): see akd.runner.hook.
        self.importing = 0
        self._print_scope = ""
        self._print_n = 0
        # Attempts after the first (non-durable code run again from the top) keep their prints apart.
        self.print_prefix = ""
        self._lock = threading.RLock()
        self._heard = time.monotonic()  # when akd last answered (see LEASE_SECONDS)

    # -- classification -------------------------------------------------------------

    def is_user_code(self, fn: Any) -> bool:
        target = getattr(fn, "__func__", fn)
        code = getattr(target, "__code__", None)
        if code is not None:
            return bool(code.co_filename.startswith(self.build_prefix))
        if isinstance(fn, type):
            return fn.__module__ in self.user_modules
        owner = getattr(fn, "__self__", None)
        return owner is not None and type(owner).__module__ in self.user_modules

    def mark_no_activity(self, obj: Any) -> None:
        self.no_activity[_identity(obj)] = obj

    def _no_activity(self, fn: Any) -> bool:
        marks = self.no_activity
        if not marks:
            return False
        if _identity(fn) in marks:
            return True
        func = getattr(fn, "__func__", None)  # a bound method of a registered function
        if func is not None and (id(func),) in marks:
            return True
        return any((id(cls),) in marks for cls in _owner_classes(fn))

    def runs_directly(self, fn: Any) -> bool:
        if id(fn) in _BUILTIN_FUNCTIONS:  # open(), input(), ...: what they return is journaled in turn
            return True
        if getattr(fn, "_akd_direct", False) or self._no_activity(fn):
            return True
        if str(getattr(fn, "__module__", "") or "").startswith(("akd.", "autokitteh")):
            return True  # the SDK journals its own requests
        return self.is_user_code(fn) or is_pure(fn)

    def call(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Entry point of every rewritten call inside user functions."""
        if not self.durable or self.in_step or self.inhibit or self.importing or self.runs_directly(fn):
            return fn(*args, **kwargs)
        if fn is _real_sleep:
            return self.sleep(*args, **kwargs)
        if inspect.iscoroutinefunction(fn):
            return self.async_step(fn, args, kwargs)
        return self.step(fn, args, kwargs)

    # -- steps ----------------------------------------------------------------------

    def _next_seq(self, kind: str, name: str) -> tuple[int, JournalEntry | None]:
        seq = self.seq
        self.seq += 1
        if seq >= len(self.journal):
            return seq, None
        entry = self.journal[seq]
        if entry.kind != kind or entry.name != name:
            raise NonDeterminismError(
                f"replay of step {seq} expected {entry.kind} {entry.name!r} but the code made "
                f"{kind} {name!r}; session code must take the same path on replay"
            )
        return seq, entry

    def step(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str = "",
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Run ``fn`` once as a journaled step (retried under a policy), or replay it."""
        name = name or describe(fn)
        policy = retry or retry_current() or self.default_policy
        attempt = 1
        while True:
            try:
                return self._step_once(fn, args, kwargs, name, attempt)
            except Exception as exc:
                if policy is None or not policy.should_retry(exc, attempt):
                    raise
                self.sleep(policy.delay(attempt))
                attempt += 1

    def _step_once(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], name: str, attempt: int
    ) -> Any:
        with self._lock:
            seq, entry = self._next_seq("step", name)
            if entry is not None:
                return _unwrap(pickle.loads(entry.blob))
            self._check_lease()
            started = time.monotonic()
            self.in_step += 1
            try:
                outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
                _settle_write(fn)
            except Exception as exc:  # the step's exception is journaled, then re-raised
                outcome = (False, exc)
            finally:
                self.in_step -= 1
            return self._commit_step(seq, name, args, kwargs, outcome, time.monotonic() - started, attempt)

    def async_step(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = describe(fn)

        async def run() -> Any:
            seq, entry = self._next_seq("step", name)
            if entry is not None:
                return _unwrap(pickle.loads(entry.blob))
            self._check_lease()
            started = time.monotonic()
            self.in_step += 1
            try:
                outcome: tuple[bool, Any] = (True, await fn(*args, **kwargs))
            except Exception as exc:
                outcome = (False, exc)
            finally:
                self.in_step -= 1
            return self._commit_step(seq, name, args, kwargs, outcome, time.monotonic() - started, 1)

        return run()

    def _commit_step(
        self,
        seq: int,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outcome: tuple[bool, Any],
        duration: float,
        attempt: int,
    ) -> Any:
        blob, outcome = self._pickle_outcome(name, outcome)
        ok, value = outcome
        msg: dict[str, Any] = {
            "op": "step",
            "seq": seq,
            "kind": "step",
            "name": name,
            "ok": ok,
            "args": summarize_args(args, kwargs, secrets=self.secrets),
            "duration": round(duration, 6),
            "attempt": attempt,
        }
        if ok and len(blob) <= REPR_RESULT_BYTES:
            msg["result"], full = result_reprs(value, self.secrets)
            if full is not None:
                msg["result_full"] = full
        elif ok:  # a repr of a large value would cost more than the step: its size says enough
            msg["result"] = f"<{type(value).__name__}: {len(blob)} bytes once pickled>"
        else:
            msg["error"] = mask(f"{type(value).__name__}: {safe_str(value)}", self.secrets)
        self.chan.send(msg, blob)
        self._expect("ack")
        return _unwrap(outcome)

    def _pickle_outcome(self, name: str, outcome: tuple[bool, Any]) -> tuple[bytes, tuple[bool, Any]]:
        """The journal bytes of an outcome and the outcome user code gets: what replay gives.

        The outcome is pickled and unpickled here (akd.runner.outcomes), so a value that
        would not replay fails now with the @activity hint, an exception that would not
        replay is journaled as an image that does, and the first run sees exactly what
        every replay will see.
        """
        try:
            blob, outcome = round_trip(outcome)
        except NotReplayable as exc:
            value = outcome[1]
            err: Exception = UnpicklableResultError(
                f"the result of {name}() ({type(value).__name__}) cannot be journaled: {exc}. "
                "Decorate the function that uses it with @autokitteh.activity so the whole "
                "function runs as one step and returns a picklable value."
            )
            blob, outcome = round_trip((False, err))
        if len(blob) > self.max_result_bytes:
            too_big = StepResultTooLargeError(
                f"the result of {name}() is {len(blob)} bytes once pickled, over the "
                f"{self.max_result_bytes} byte limit of a journaled step; return less data "
                "(e.g. an id or a summary) or keep the large value inside an @activity function"
            )
            blob, outcome = round_trip((False, too_big))
        return blob, outcome

    def heard(self) -> None:
        """akd just spoke to this runner (a reply, an ack, the go of a held runner)."""
        self._heard = time.monotonic()

    def _check_lease(self) -> None:
        """Before a live step: if akd has been silent for LEASE_SECONDS, ask it whether the
        session is still this node's (akd ends this runner if it is not)."""
        if time.monotonic() - self._heard > LEASE_SECONDS:
            self.chan.send({"op": "lease"})
            self._expect("ack")

    def _expect(self, op: str) -> tuple[dict[str, Any], bytes]:
        try:
            msg, blob = self.chan.recv()
            self.heard()
        except EOFError:
            _exit_now()
        if msg.get("op") == "exit":
            _exit_now()
        if msg.get("op") != op:
            raise RuntimeError(f"runner protocol: expected {op!r}, got {msg.get('op')!r}")
        return msg, blob

    # -- SDK requests, waits and prints ---------------------------------------------

    def request(self, name: str, payload: dict[str, Any]) -> Any:
        """A journaled request that akd performs and records (KV store, subscriptions...).

        Inside a step (an @activity function) the request is not journaled on its own:
        the step's outcome is, and replay never re-enters the step.
        """
        with self._lock:
            if self.in_step:
                self.chan.send({"op": "call", "seq": -1, "name": name, "payload": payload, "journal": False})
                _, blob = self._expect("reply")
                return _unwrap(pickle.loads(blob))
            seq, entry = self._next_seq("call", name)
            if entry is not None:
                return _unwrap(pickle.loads(entry.blob))
            flush_output()  # akd may park the session on this call
            self.chan.send({"op": "call", "seq": seq, "name": name, "payload": payload, "journal": self.durable})
            _, blob = self._expect("reply")
            return _unwrap(pickle.loads(blob))

    def sleep(self, seconds: float) -> None:
        """Durable sleep: the deadline is journaled; long waits park the session."""
        if not self.durable or self.in_step:
            _real_sleep(seconds)
            return
        with self._lock:
            seq, entry = self._next_seq("sleep", "sleep")
            if entry is not None:
                until = float(pickle.loads(entry.blob))
            else:
                until = time.time() + max(0.0, float(seconds))
                self.chan.send(
                    {
                        "op": "step",
                        "seq": seq,
                        "kind": "sleep",
                        "name": "sleep",
                        "ok": True,
                        "args": f"{seconds}",
                        "duration": 0.0,
                    },
                    pickle.dumps(until),
                )
                self._expect("ack")
            remaining = until - time.time()
            if remaining <= LOCAL_SLEEP_LIMIT:
                _real_sleep(max(0.0, remaining))
                return
            flush_output(settle=True)
            self.chan.send({"op": "wait", "seq": seq, "kind": "sleep", "until": until})
            self._expect("resume")

    def print(
        self, *values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is not None and file not in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            _real_print(*values, sep=sep, end=end, file=file, flush=flush)
            return
        text = self._capped((sep if sep is not None else " ").join(str(v) for v in values))
        if text is None:
            return
        scope = f"s{self.seq - 1}" if self.in_step else f"p{self.seq}"
        if scope != self._print_scope:
            self._print_scope, self._print_n = scope, 0
        self._print_n += 1
        # Prints before an already journaled step were stored before that step was.
        if self.seq < len(self.journal):
            return
        self.chan.send({"op": "print", "key": f"{self.print_prefix}{scope}.{self._print_n}", "text": text})

    def _capped(self, text: str) -> str | None:
        """``text``, the one notice that the cap was crossed, or None once past it."""
        # Counted on replay too, so the cut falls at the same print every time.
        self._printed += len(text) + 1
        if self.max_print_bytes and self._printed > self.max_print_bytes:
            if self._printed - len(text) - 1 > self.max_print_bytes:
                return None
            return f"[akd: this session printed over {self.max_print_bytes} bytes; further prints are dropped]"
        return text

    @property
    def print_cap_reached(self) -> bool:
        return bool(self.max_print_bytes) and self._printed > self.max_print_bytes

    def output(self, text: str, key: str) -> None:
        """A line written to descriptor 1 or 2 (subprocesses, C code), from the drain thread.

        Such output is never replayed (the step that produced it is not re-run), so its
        keys only need to be unique; it shares the prints' cap.
        """
        capped = self._capped(text)
        if capped is not None:
            self.chan.send({"op": "print", "key": key, "text": capped})

    print._akd_direct = True  # type: ignore[attr-defined]


def _settle_write(fn: Any) -> None:
    """A journaled ``f.write(...)`` is done once journaled: push it out of the file's buffer.

    Otherwise a runner that ends before the file is closed (a park, a crash) loses data
    whose write the journal says happened, and replay never writes it again.
    """
    if getattr(fn, "__name__", "") in ("write", "writelines"):
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, io.IOBase) and not owner.closed:
            owner.flush()


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or a note saying it could not be had (a broken ``__str__`` must not kill the runner)."""
    try:
        return str(exc)
    except BaseException as inner:
        return f"<the {type(exc).__name__}'s str() raised {type(inner).__name__}>"


def _unwrap(outcome: tuple[bool, Any]) -> Any:
    ok, value = outcome
    if ok:
        return value
    raise value


def _exit_now() -> NoReturn:
    """akd went away or told us to stop: end at once, without running user cleanup."""
    end_runner()


current: Session | None = None


def get() -> Session:
    if current is None:
        raise RuntimeError("no akd session is running in this process")
    return current


def make_caller(session: Session) -> Callable[..., Any]:
    def _akd_call(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return session.call(fn, *args, **kwargs)

    return _akd_call


__all__ = ["JournalEntry", "Session", "get", "make_caller"]


# -- the runner's output and end ----------------------------------------------------------
#
# Prints are capped per session ([runner] max_print_bytes). So that the cap holds for all
# output, sys.stdout and sys.stderr become line streams into the session's prints, and
# descriptors 1 and 2 (inherited by subprocesses, used by C code) become a pipe whose
# lines a drain thread turns into prints under the same cap. Past the cap, output is read
# and dropped, so writers never block; akd's runner log only gets the runner's own words.

MAX_LINE = 64 * 1024  # a longer line without a newline is cut into prints of this size
SETTLE_SECONDS = 0.2  # at a segment's end, how long output still in the pipe is waited for


class LockedChannel(SyncChannel):
    """A channel two threads send on (the user's code and the output drain), frame by frame."""

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._send_lock = threading.Lock()

    def send(self, msg: dict[str, Any], blob: bytes = b"") -> None:
        with self._send_lock:
            super().send(msg, blob)


class _Lines:
    """Splits bytes into lines and hands each to ``emit``; a partial line waits for its end."""

    def __init__(self, emit: Callable[[str], None], dropping: Callable[[], bool]) -> None:
        self._emit = emit
        self._dropping = dropping
        self._partial = b""

    def feed(self, data: bytes) -> None:
        if self._dropping():
            self._partial = b""
            return
        lines = (self._partial + data).split(b"\n")
        partial = lines.pop()
        cut = len(partial) - len(partial) % MAX_LINE
        lines.extend(partial[i : i + MAX_LINE] for i in range(0, cut, MAX_LINE))
        self._partial = partial[cut:]
        for line in lines:
            if self._dropping():
                break
            self._emit(line.decode(errors="replace"))

    def flush(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            if not self._dropping():
                self._emit(partial.decode(errors="replace"))


class _SessionSink(io.RawIOBase):
    """The bytes under the runner's sys.stdout or sys.stderr: session prints, line by line."""

    def __init__(self, session: Session, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.lines = _Lines(session.print, lambda: session.print_cap_reached)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd  # what subprocess(stdout=sys.stdout) passes on: the drained pipe

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.lines.feed(chunk)
        return len(chunk)


# Written into the output pipe by ``_Drain.settle``: once the reader thread has passed it,
# everything written before it has become prints (a pipe is first in, first out).
_SETTLE_MARK = b"\x00akd:settled\x00"


class _Drain:
    """Descriptors 1 and 2 as one pipe, read by a thread into capped session prints."""

    def __init__(self, session: Session) -> None:
        self.log_fd = os.dup(2)  # akd's runner log, for the runner's own failures
        read_end, write_end = os.pipe()
        for fd in (1, 2):
            os.dup2(write_end, fd)
        self._mark_fd = write_end  # kept: the session's code may close or replace 1 and 2
        self._fd = read_end
        self._busy = threading.Lock()
        self._passed = threading.Condition()
        self._marks = 0  # settle marks the reader has passed
        prefix = f"o{time.time_ns():x}"
        counter = iter(range(1, 1 << 62))
        self.lines = _Lines(lambda text: session.output(text, f"{prefix}.{next(counter)}"), lambda: False)
        threading.Thread(target=self._loop, name="akd-output", daemon=True).start()

    def _loop(self) -> None:
        held = b""  # the start of a settle mark, split between two reads
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:
                return
            if not data:
                return
            held += data
            with self._busy:
                while (at := held.find(_SETTLE_MARK)) >= 0:
                    self.lines.feed(held[:at])
                    held = held[at + len(_SETTLE_MARK) :]
                    with self._passed:
                        self._marks += 1
                        self._passed.notify_all()
                keep = _mark_prefix(held)
                self.lines.feed(held[: len(held) - keep])
                held = held[len(held) - keep :]

    def settle(self) -> None:
        """Wait (briefly) until what was written to the pipe so far has become prints."""
        with self._passed:
            target = self._marks + 1
        try:
            os.write(self._mark_fd, _SETTLE_MARK)
        except OSError:
            pass
        else:
            with self._passed:
                self._passed.wait_for(lambda: self._marks >= target, timeout=SETTLE_SECONDS)
        with self._busy:
            self.lines.flush()


def _mark_prefix(data: bytes) -> int:
    """How many bytes at the end of ``data`` could be the start of a settle mark."""
    for n in range(min(len(data), len(_SETTLE_MARK) - 1), 0, -1):
        if _SETTLE_MARK.startswith(data[-n:]):
            return n
    return 0


_sinks: list[_SessionSink] = []
_drain: _Drain | None = None


def route_output(session: Session) -> None:
    """sys.stdout, sys.stderr and descriptors 1 and 2 of this runner into ``session``'s prints."""
    global _drain
    _drain = _Drain(session)
    streams = []
    for fd in (1, 2):
        sink = _SessionSink(session, fd)
        _sinks.append(sink)
        # Straight to the sink, which keeps partial lines itself (no buffer to flush).
        text = io.TextIOWrapper(cast(Any, sink), encoding="utf-8", errors="backslashreplace", write_through=True)
        streams.append(text)
    sys.stdout, sys.stderr = streams


def flush_output(settle: bool = False) -> None:
    """Partial lines become prints; with ``settle``, so does output still in the pipe."""
    if settle and _drain is not None:
        _drain.settle()  # first: what the code wrote there came before its partial line
    for sink in _sinks:
        sink.lines.flush()


def end_runner(code: int = 0) -> NoReturn:
    """End this runner and everything its session started (a subreaper's orphans too)."""
    kill_tree(os.getpid(), root=False)
    os._exit(code)


def fail_runner() -> NoReturn:
    """The runner itself failed: its traceback to akd's runner log, then ``end_runner(1)``."""
    text = traceback.format_exc()
    with contextlib.suppress(OSError):
        os.write(_drain.log_fd if _drain is not None else 2, text.encode(errors="replace"))
    end_runner(1)
