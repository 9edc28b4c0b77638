"""Journal forms of vendor objects that hold credentials.

A durable session journals what each step returned. Vendor SDK results often carry the
client that made them: a ``slack_sdk`` ``SlackResponse`` keeps its ``WebClient`` (and the
request's ``Authorization: Bearer`` header) so that it can fetch the next page; PyGithub
objects keep a ``Requester`` whose ``Auth.Token`` holds the PAT. Pickled as they are, the
bot token or PAT would be written into the journal of every step.

Here such objects pickle to a compact form instead: a credential that is the value of
one of the session's connection or project vars (env ``<owner>__<var>``) is journaled as
the *name* of that var and read back from the env when the value is unpickled (on the
first run, which sees the unpickled outcome, as on every replay). The rebuilt objects
work as the originals did: a replayed ``SlackResponse`` still pages with ``next()``.
A credential that is not a var's value (a token written in the code) stays as it is.

Types are matched by module and qualified name, so no vendor library is imported here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

_VAR_NAME = re.compile(r"^[A-Za-z_]\w*__\w+$")
_BEARER = "Bearer "

# value -> env var name; built on first use (a session's env does not change).
_by_value: dict[str, str] | None = None


class EnvSecret:
    """A credential journaled by the name of the env var that holds it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (env_value, (self.name,))


def env_value(name: str) -> str:
    """The value of the var a credential was journaled as ('' once the var is gone)."""
    return os.environ.get(name, "")


def _secret(value: Any) -> Any:
    """``value`` or, when it is the value of a ``<owner>__<var>`` env var, a reference to it."""
    global _by_value
    if not isinstance(value, str) or not value:
        return value
    if _by_value is None:
        _by_value = {v: k for k, v in os.environ.items() if v and _VAR_NAME.match(k)}
    name = _by_value.get(value)
    return EnvSecret(name) if name else value


def reset() -> None:
    """Forget the env snapshot (tests change the env between sessions in one process)."""
    global _by_value
    _by_value = None


# -- slack_sdk --------------------------------------------------------------------------


def _slack_client(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    state = {k: v for k, v in vars(obj).items() if k not in ("token", "_logger")}
    return (slack_client, (type(obj).__module__, type(obj).__qualname__, _secret(obj.token), state))


def slack_client(module: str, qualname: str, token: str, state: dict[str, Any]) -> Any:
    import importlib
    import logging

    cls = getattr(importlib.import_module(module), qualname)
    client = cls.__new__(cls)
    vars(client).update(state)
    client.token = token
    client._logger = logging.getLogger("slack_sdk.web.base_client")
    return client


def _slack_response(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    req_args = dict(obj.req_args or {})
    headers = dict(req_args.get("headers") or {})
    auth = headers.pop("Authorization", None)
    req_args["headers"] = headers
    auth_form: tuple[Any, ...] | None = None
    if auth is not None and auth == f"{_BEARER}{getattr(obj._client, 'token', None)}":
        auth_form = ("client",)  # the client's token again: rebuilt from it, not journaled twice
    elif isinstance(auth, str):
        prefix = _BEARER if auth.startswith(_BEARER) else ""
        auth_form = ("value", prefix, _secret(auth.removeprefix(prefix)))
    fields = (obj.http_verb, obj.api_url, req_args, obj.data, obj.headers, obj.status_code)
    return (slack_response, (type(obj).__module__, obj._client, auth_form, fields, obj._initial_data, obj._iteration))


def slack_response(
    module: str,
    client: Any,
    auth_form: tuple[Any, ...] | None,
    fields: tuple[Any, ...],
    initial: Any,
    iteration: int | None,
) -> Any:
    import importlib

    cls = importlib.import_module(module).SlackResponse
    verb, url, req_args, data, headers, status = fields
    if auth_form == ("client",) and client is not None:
        req_args["headers"]["Authorization"] = f"{_BEARER}{client.token}"
    elif auth_form is not None and auth_form[0] == "value":
        req_args["headers"]["Authorization"] = f"{auth_form[1]}{auth_form[2]}"
    response = cls(client=client, http_verb=verb, api_url=url, req_args=req_args, data=data, headers=headers,
                   status_code=status)  # fmt: skip
    response._initial_data = initial
    response._iteration = iteration
    return response


# -- PyGithub ---------------------------------------------------------------------------


def _github_token(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    return (github_token, (_secret(obj.token),))


def github_token(token: str) -> Any:
    from github import Auth

    return Auth.Token(token)


COMPACT: dict[str, Callable[[Any], tuple[Any, tuple[Any, ...]]]] = {
    "slack_sdk.web.client.WebClient": _slack_client,
    "slack_sdk.web.slack_response.SlackResponse": _slack_response,
    "github.Auth.Token": _github_token,
}


def reducer(obj: Any) -> Any:
    """For ``pickle.Pickler.reducer_override``: the compact form, or NotImplemented."""
    cls = type(obj)
    form = COMPACT.get(f"{cls.__module__}.{cls.__qualname__}")
    return NotImplemented if form is None else form(obj)
