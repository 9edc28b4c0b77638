"""The SDK functions user code calls; each is a request journaled by akd."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, MutableMapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from akd.runner import context
from akd.runner.errors import AutoKittehError
from akd.runner.values import AttrDict, Event, Signal, wrap


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


def check_and_set_value(key: str, expected_value: Any, new_value: Any) -> bool:
    """Atomically set ``key`` to ``new_value`` if it holds ``expected_value`` (None = missing)."""
    return bool(_request("kv.check_and_set", key=key, expected=expected_value, value=new_value))


class Op(StrEnum):
    """The operations ``mutate_value`` accepts (plain strings work too)."""

    SET = "set"
    GET = "get"
    DEL = "del"
    ADD = "add"
    CHECK_AND_SET = "check_and_set"


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


def publish_value(key: str) -> None:
    """Let anyone read ``key`` (without a token) at ``get_store_public_url() + "/" + key``.

    The key must hold a value; it stays published when set again, until
    ``unpublish_value`` or until it is deleted.
    """
    _request("kv.publish", key=key)


def unpublish_value(key: str) -> None:
    """Stop serving ``key`` publicly (the value itself stays)."""
    _request("kv.unpublish", key=key)


def get_store_public_url() -> str:
    """The public base URL of this project's published values (env ``store_public_url``)."""
    url = os.environ.get("store_public_url")  # noqa: SIM112 - AutoKitteh's name for it
    if not url:
        raise AutoKittehError("store public URL not found: env store_public_url is not set in this session")
    return url


class Store(MutableMapping[str, Any]):
    """The project's key-value store as a dict: ``store[k]``, ``store[k] = v``, ``del store[k]``.

    Each item access is one store request (journaled like ``get_value`` and friends), so
    read-modify-write through it is not atomic: use ``add_values`` or
    ``check_and_set_value`` for that. A missing key reads as None and deleting it is a
    no-op, as in AutoKitteh.
    """

    def __getitem__(self, key: str) -> Any:
        return get_value(key)

    def __setitem__(self, key: str, value: Any) -> None:
        set_value(key, value)

    def __delitem__(self, key: str) -> None:
        del_value(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list_values_keys())

    def __len__(self) -> int:
        return len(list_values_keys())

    def __contains__(self, key: object) -> bool:
        # None is never stored (setting None deletes), so a value means the key exists.
        return isinstance(key, str) and get_value(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        value = get_value(key)
        return default if value is None else value


store = Store()


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


def next_signal(name: str | list[str], *, timeout: float | timedelta | None = None) -> Signal | None:
    """Wait for a signal with one of the names; a ``Signal(name, payload)``, or None on timeout.

    A child session's end arrives as a signal named after the child's session id,
    with payload ``{"completed": bool, "value": ...}``.
    """
    names = [name] if isinstance(name, str) else list(name)
    deadline = _deadline(timeout)
    got = _request("next_signal", names=names, deadline=deadline)
    if got is None:
        return None
    return Signal(name=str(got.get("name")), payload=wrap(got.get("payload")))


# -- sync webhooks ------------------------------------------------------------------


def http_outcome(
    status_code: int = 200,
    body: Any = None,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    more: bool = False,
    event_id: str | None = None,
) -> None:
    """Answer a sync webhook: the one that started this session, or the event ``event_id``.

    ``body`` is sent as is (str or bytes) or as JSON (anything else); ``json`` always as JSON.
    """
    if body is not None and json is not None:
        raise AutoKittehError("http_outcome: give body or json, not both")
    payload: dict[str, Any] = {"status_code": status_code, "headers": headers or {}, "more": more}
    if event_id:
        payload["event_id"] = event_id
    if json is not None:
        payload["json"] = json
    elif isinstance(body, bytes):
        payload["body_b64"] = base64.b64encode(body).decode()
    elif body is not None:
        payload["body"] = body
    _request("http_outcome", **payload)


def outcome(v: dict[str, Any], *, event_id: str | None = None) -> None:
    """AutoKitteh's generic outcome: a dict of ``http_outcome``'s fields.

    ``{"status_code", "body" or "json", "headers", "more"}``; missing fields take
    ``http_outcome``'s defaults.
    """
    if not isinstance(v, dict):
        raise AutoKittehError(f"outcome: value must be a dict of http_outcome fields, got {type(v).__name__}")
    unknown = set(v) - {"status_code", "body", "json", "headers", "more"}
    if unknown:
        raise AutoKittehError(f"outcome: unknown fields {sorted(unknown)}")
    http_outcome(
        int(v.get("status_code") or 200), v.get("body"), json=v.get("json"), headers=v.get("headers"),
        more=bool(v.get("more")), event_id=event_id,
    )  # fmt: skip
