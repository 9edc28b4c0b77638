"""The SDK functions user code calls; each is a request journaled by akd."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from akd.runner import context
from akd.runner.errors import AutoKittehError
from akd.runner.values import AttrDict, Event


def _request(op: str, /, **payload: Any) -> Any:
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise AutoKittehError(f"{op}: arguments must be JSON-serializable values: {exc}") from None
    return context.get().request(op, payload)


def _seconds(timeout: float | timedelta | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        return float(timeout)
    raise AutoKittehError(f"timeout must be seconds or a timedelta, got {type(timeout).__name__}")


def _deadline(timeout: float | timedelta | None) -> float | None:
    seconds = _seconds(timeout)
    return None if seconds is None else float(_request("deadline", timeout=seconds))


# -- key-value store ----------------------------------------------------------------


def get_value(key: str) -> Any:
    """The project-scoped value stored under ``key``, or None."""
    return _request("kv.get", key=key)


def set_value(key: str, value: Any) -> None:
    """Store a JSON-like value (at most 64 KiB encoded); None deletes the key."""
    _request("kv.set", key=key, value=value)


def del_value(key: str) -> Any:
    """Delete ``key``; returns the value it held (or None)."""
    return _request("kv.del", key=key)


def add_values(key: str, value: int | float) -> int | float:
    """Atomically add ``value`` to the number under ``key`` (missing counts as 0)."""
    result: int | float = _request("kv.add", key=key, value=value)
    return result


def check_and_set_value(key: str, expected_value: Any, value: Any) -> bool:
    """Atomically set ``key`` to ``value`` if it holds ``expected_value`` (None = missing)."""
    return bool(_request("kv.check_and_set", key=key, expected=expected_value, value=value))


def mutate_value(key: str, op: str, *args: Any) -> Any:
    """AutoKitteh's generic form: op is get, set, del, add or check_and_set."""
    ops: dict[str, Any] = {
        "get": lambda: get_value(key),
        "set": lambda: set_value(key, *args),
        "del": lambda: del_value(key),
        "delete": lambda: del_value(key),
        "add": lambda: add_values(key, *args),
        "check_and_set": lambda: check_and_set_value(key, *args),
    }
    if op not in ops:
        raise AutoKittehError(f"mutate_value: unknown op {op!r}; use one of {', '.join(sorted(ops))}")
    return ops[op]()


def list_values_keys() -> list[str]:
    """Every key stored for this project, sorted."""
    keys: list[str] = _request("kv.keys")
    return keys


# -- events -------------------------------------------------------------------------


def subscribe(source: str, filter: str = "") -> str:
    """Receive later events of a trigger or connection (optionally CEL-filtered); returns an id."""
    sub_id: str = _request("subscribe", source=source, filter=filter)
    return sub_id


def next_event(
    subscription_id: str | list[str], *, timeout: float | timedelta | None = None, full: bool = False
) -> Any:
    """Wait for the next event of the subscriptions; its data (or ``Event`` with full=True), None on timeout."""
    ids = [subscription_id] if isinstance(subscription_id, str) else list(subscription_id)
    deadline = _deadline(timeout)
    event = _request("next_event", subs=ids, deadline=deadline)
    if event is None:
        return None
    data = AttrDict(event.get("data") or {})
    if full:
        return Event(data=data, event_id=event["event_id"], event_type=event["event_type"],
                     session_id=context.get().session_id)  # fmt: skip
    return data


def unsubscribe(subscription_id: str) -> None:
    _request("unsubscribe", sub_id=subscription_id)


# -- sessions and signals -----------------------------------------------------------


def start(loc: str, data: dict[str, Any] | None = None, memo: dict[str, str] | None = None, project: str = "") -> str:
    """Start a child session running ``file.py:function``; returns its session id."""
    session_id: str = _request("start", loc=loc, data=data or {}, memo=memo or {}, project=project)
    return session_id


def signal(session_id: str, name: str, payload: Any = None) -> None:
    """Send a named signal to another session."""
    _request("signal", session_id=session_id, name=name, payload=payload)


def next_signal(name: str | list[str], *, timeout: float | timedelta | None = None) -> Any:
    """Wait for a signal with one of the names; ``{"name", "payload"}``, or None on timeout.

    A child session's end arrives as a signal named after the child's session id,
    with payload ``{"completed": bool, "value": ...}``.
    """
    names = [name] if isinstance(name, str) else list(name)
    deadline = _deadline(timeout)
    got = _request("next_signal", names=names, deadline=deadline)
    if got is None:
        return None
    return AttrDict(got)


# -- sync webhooks ------------------------------------------------------------------


def http_outcome(
    status_code: int = 200,
    body: Any = None,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    more: bool = False,
) -> None:
    """Answer the sync webhook that started this session (body positional or keyword)."""
    payload: dict[str, Any] = {"status_code": status_code, "headers": headers or {}, "more": more}
    if json is not None:
        payload["json"] = json
    elif isinstance(body, bytes):
        import base64

        payload["body_b64"] = base64.b64encode(body).decode()
    elif body is not None:
        payload["body"] = body
    _request("http_outcome", **payload)
