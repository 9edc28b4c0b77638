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

# The attributes AutoKitteh's decorators set; akd sets them too, for code that looks.
ACTIVITY_ATTR = "__ak_activity__"
INHIBIT_ACTIVITIES_ATTR = "__ak_inhibit_activities__"


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
            setattr(awrapper, ACTIVITY_ATTR, True)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s = context.current
            if s is None or not s.durable or s.in_step or s.inhibit:
                return f(*args, **kwargs)
            return s.step(f, args, kwargs, name=name, retry=retry)

        wrapper._akd_direct = True  # type: ignore[attr-defined]
        setattr(wrapper, ACTIVITY_ATTR, True)
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
    setattr(wrapper, INHIBIT_ACTIVITIES_ATTR, True)
    return wrapper  # type: ignore[return-value]


def register_no_activity(items: Iterable[Callable[..., Any]] | Callable[..., Any]) -> None:
    """Mark callables (e.g. a deterministic third-party helper) to run directly, not as steps.

    A function also covers its bound methods (``Client.get`` covers ``client.get``); a
    bound method covers only that object's method; a class covers calling it and every
    method of it and of its instances.
    """
    s = context.get()
    for item in [items] if callable(items) else items:
        s.mark_no_activity(item)
