"""The live session inside a runner: journaled steps, replay, prints, waits.

``Session.call`` is what every call inside a user function goes through (the import
hook rewrites ``f(x)`` to ``_akd_call(f, x)``). It runs deterministic code directly and
turns everything else into a step: executed once, its outcome pickled and committed
by akd before the user code sees it, and answered from the journal on replay.
"""

from __future__ import annotations

import builtins
import inspect
import os
import pickle
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from akd.runner.errors import (
    NonDeterminismError,
    StepResultTooLargeError,
    UnpicklableResultError,
)
from akd.runner.outcomes import NotReplayable, round_trip
from akd.runner.protocol import SyncChannel
from akd.runner.purity import describe, is_pure, summarize_args
from akd.runner.retry import RetryPolicy
from akd.runner.retry import current as retry_current

# Remaining sleep below which the runner just sleeps instead of parking the session.
LOCAL_SLEEP_LIMIT = 2.0
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
    ) -> None:
        self.chan = chan
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
            started = time.monotonic()
            self.in_step += 1
            try:
                outcome: tuple[bool, Any] = (True, fn(*args, **kwargs))
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
            "args": summarize_args(args, kwargs),
            "duration": round(duration, 6),
            "attempt": attempt,
        }
        if not ok:
            msg["error"] = f"{type(value).__name__}: {_words(value)}"
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

    def _expect(self, op: str) -> tuple[dict[str, Any], bytes]:
        try:
            msg, blob = self.chan.recv()
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
            self.chan.send({"op": "wait", "seq": seq, "kind": "sleep", "until": until})
            self._expect("resume")

    def print(
        self, *values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is not None and file not in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            _real_print(*values, sep=sep, end=end, file=file, flush=flush)
            return
        text = (sep if sep is not None else " ").join(str(v) for v in values)
        # Counted on replay too, so the cut falls at the same print every time.
        self._printed += len(text) + 1
        if self.max_print_bytes and self._printed > self.max_print_bytes:
            if self._printed - len(text) - 1 > self.max_print_bytes:
                return
            text = f"[akd: this session printed over {self.max_print_bytes} bytes; further prints are dropped]"
        scope = f"s{self.seq - 1}" if self.in_step else f"p{self.seq}"
        if scope != self._print_scope:
            self._print_scope, self._print_n = scope, 0
        self._print_n += 1
        # Prints before an already journaled step were stored before that step was.
        if self.seq < len(self.journal):
            return
        self.chan.send({"op": "print", "key": f"{self.print_prefix}{scope}.{self._print_n}", "text": text})

    print._akd_direct = True  # type: ignore[attr-defined]


def _words(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<the {type(exc).__name__}'s str() raised>"


def _unwrap(outcome: tuple[bool, Any]) -> Any:
    ok, value = outcome
    if ok:
        return value
    raise value


def _exit_now() -> NoReturn:
    """akd went away or told us to stop: end at once, without running user cleanup."""
    os._exit(0)


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
