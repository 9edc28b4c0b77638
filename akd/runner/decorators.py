"""``@activity``, ``@inhibit_activities`` and ``register_no_activity``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from akd.runner import context
from akd.runner.purity import describe
from akd.runner.retry import RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])


@overload
def activity(fn: F) -> F: ...
@overload
def activity(fn: None = None, **options: Any) -> Callable[[F], F]: ...
def activity(fn: Any = None, **options: Any) -> Any:
    """Run the whole function as one journaled step (use it for unpicklable values).

    ``@activity(retry=RetryPolicy(maximum_attempts=3))`` retries a failing call.
    """
    retry: RetryPolicy | None = options.get("retry")

    def decorate(f: F) -> F:
        name = describe(f)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                s = context.current
                if s is None or not s.durable or s.in_step or s.inhibit:
                    return await f(*args, **kwargs)
                return await s.async_step(f, args, kwargs)

            awrapper._akd_direct = True  # type: ignore[attr-defined]
            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s = context.current
            if s is None or not s.durable or s.in_step or s.inhibit:
                return f(*args, **kwargs)
            return s.step(f, args, kwargs, name=name, retry=retry)

        wrapper._akd_direct = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def inhibit_activities(fn: F) -> F:
    """Run every call inside ``fn`` directly, never as a step."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        s = context.current
        if s is None:
            return fn(*args, **kwargs)
        s.inhibit += 1
        try:
            return fn(*args, **kwargs)
        finally:
            s.inhibit -= 1

    wrapper._akd_direct = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def register_no_activity(fns: Iterable[Callable[..., Any]] | Callable[..., Any]) -> None:
    """Mark callables (e.g. a deterministic third-party helper) to run directly."""
    s = context.get()
    for f in [fns] if callable(fns) else fns:
        s.no_activity.add(id(f))
