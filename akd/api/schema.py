"""/api/v1/schema/manifest: a JSON Schema of ``autokitteh.yaml`` for editors.

Built from what :mod:`akd.manifest` accepts (its key lists, versions and trigger types,
and the integrations akd knows), so the schema cannot drift from the parser. The VS Code
extension ships the same document (``vscode/schemas/autokitteh.schema.json``; regenerate
it with ``python -c "from akd.api.schema import schema_text; print(schema_text(), end='')"``
into ``vscode/schemas/autokitteh.schema.json``) and tests/e2e/test_vscode.py checks that the
two agree.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd import integrations, manifest
from akd.api.common import ok

SCHEMA_ID = "akd:manifest/v1"

_NAME: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_]+$",
    "description": "Letters, digits and underscores.",
}
_VAR_NAME: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "An environment variable name.",
}
_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}

_DESCRIPTIONS = {
    "version": "Schema version: v1 (triggers durable by default) or v2 (not durable by default).",
    "name": "The name (letters, digits and underscores).",
    "display_name": "A human-friendly name shown in lists.",
    "vars": "Variables delivered to the code as environment variables (always strings).",
    "connections": "Connections to vendor services (name + integration + vars).",
    "triggers": "What starts sessions: webhooks, schedules and connection events.",
    "retry_policy": "akd extension: how journaled steps are retried.",
    "value": "The value, delivered as a string.",
    "secret": "Never printed or logged unless asked.",
    "description": "What the variable is for.",
    "integration": "The integration this connection uses.",
    "type": "webhook, schedule or connection (implied by a schedule or connection key).",
    "event_type": "Only events of this type (webhooks: the lowercase HTTP method).",
    "filter": 'A CEL expression over `data` and `event_type`, e.g. data.url.path.endsWith("/hooks").',
    "call": "The entry function: file.py:function, relative to the project directory.",
    "is_sync": "Webhooks only: the HTTP answer is the session's http_outcome().",
    "is_durable": "Run as a durable session (default: true in v1, false in v2).",
    "schedule": 'A Temporal schedule: cron (5-7 fields), "@every 5m" or a descriptor such as "@daily".',
    "timezone": 'Schedules only: an IANA time zone such as "Europe/Paris".',
    "connection": "Connection triggers: the name of a connection declared in this manifest.",
    "webhook": "Older AutoKitteh manifests mark a webhook trigger with `webhook: {}`.",
    "maximum_attempts": "How many times a step is tried (0: no limit).",
    "initial_interval": "Seconds before the first retry.",
    "backoff_coefficient": "How much each retry interval grows (>= 1).",
    "maximum_interval": "The longest interval between retries, in seconds.",
    "concurrency": "akd extension: at most `limit` live sessions of this trigger (per `key` value).",
    "debounce": "akd extension: an event waits `period`; a newer one (same `key` value) replaces it.",
    "dedupe": "akd extension: an event whose `key` value was let through within `for` starts nothing.",
    "rate_limit": "akd extension: at most `limit` events per `period` (per `key` value).",
    "limit": "A whole number >= 1.",
    "period": "A duration like 30s, 5m or 1h30m.",
    "for": "A duration like 30s, 5m or 1h30m.",
    "key": "A CEL expression over `data` and `event_type`; its value groups the events.",
}
_DURATION: dict[str, Any] = {"type": "string", "pattern": r"^((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$"}
# The sub-keys of each flow-control key (which ones a key allows and needs comes from akd.manifest).
_FLOW_VALUES: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1},
    "period": _DURATION,
    "for": _DURATION,
    "key": {"type": "string"},
}


def _described(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    text = _DESCRIPTIONS.get(key)
    return {**schema, "description": text} if text else dict(schema)


def _object(keys: tuple[str, ...], props: dict[str, dict[str, Any]], required: tuple[str, ...]) -> dict[str, Any]:
    """An object that allows exactly the parser's ``keys`` (unknown keys are errors there too)."""
    missing = set(keys) - set(props)
    if missing:  # a key the parser learned that the schema has not: fail loudly (the tests build it)
        raise RuntimeError(f"manifest schema has no definition for {sorted(missing)}")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": {key: _described(key, props[key]) for key in keys},
    }


def _var() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "name": _VAR_NAME,
        "value": _SCALAR,
        "secret": {"type": "boolean"},
        "description": {"type": "string"},
    }
    return _object(manifest._VAR_KEYS, props, ("name",))


def _connection() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "name": _VAR_NAME,
        "integration": {"type": "string", "enum": list(integrations.known_names())},
        "vars": {"type": ["array", "null"], "items": {"$ref": "#/$defs/var"}},
    }
    return _object(manifest._CONNECTION_KEYS, props, ("name", "integration"))


def _trigger() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "name": _NAME,
        "type": {"type": "string", "enum": list(manifest.TRIGGER_TYPES)},
        "event_type": {"type": "string"},
        "filter": {"type": "string"},
        "call": {"type": "string", "pattern": r"^[^/\\].*\.py:[A-Za-z_][A-Za-z0-9_]*$"},
        "is_sync": {"type": "boolean"},
        "is_durable": {"type": "boolean"},
        "schedule": {"type": "string", "minLength": 1},
        "timezone": {"type": "string"},
        "connection": {"type": "string"},
        "webhook": {"type": ["object", "null"], "maxProperties": 0},
        **{key: {"$ref": f"#/$defs/{key}"} for key in manifest._FLOW_KEYS},
    }
    return _object(manifest._TRIGGER_KEYS, props, ("name",))


def _flow(key: str) -> dict[str, Any]:
    allowed, required = manifest._FLOW_KEYS[key]
    return _object(allowed, _FLOW_VALUES, required)


def _retry_policy() -> dict[str, Any]:
    number = {"type": "number", "minimum": 0}
    props = {key: number for key in manifest._RETRY_KEYS}
    props["backoff_coefficient"] = {"type": "number", "minimum": 1}
    return _object(manifest._RETRY_KEYS, props, ())


def _project() -> dict[str, Any]:
    props: dict[str, dict[str, Any]] = {
        "name": _NAME,
        "display_name": {"type": "string"},
        "vars": {"type": ["array", "null"], "items": {"$ref": "#/$defs/var"}},
        "connections": {"type": ["array", "null"], "items": {"$ref": "#/$defs/connection"}},
        "triggers": {"type": ["array", "null"], "items": {"$ref": "#/$defs/trigger"}},
        "retry_policy": {"$ref": "#/$defs/retry_policy"},
    }
    return _object(manifest._PROJECT_KEYS, props, ("name",))


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the manifests :func:`akd.manifest.parse_manifest` accepts."""
    top = _object(
        manifest._TOP_KEYS,
        {"version": {"type": "string", "enum": list(manifest.VERSIONS)}, "project": {"$ref": "#/$defs/project"}},
        manifest._TOP_KEYS,
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "autokitteh.yaml (akd)",
        **top,
        "$defs": {
            "project": _project(),
            "var": _var(),
            "connection": _connection(),
            "trigger": _trigger(),
            "retry_policy": _retry_policy(),
            **{key: _flow(key) for key in manifest._FLOW_KEYS},
        },
    }


def schema_text() -> str:
    """The schema as the extension ships it: sorted keys, two-space indent, final newline."""
    return json.dumps(manifest_schema(), indent=2, sort_keys=True) + "\n"


async def get_manifest_schema(request: Request) -> JSONResponse:
    return ok(manifest_schema())


routes = [Route("/schema/manifest", get_manifest_schema)]
