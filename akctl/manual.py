"""Data for a session started by hand, shaped the way a webhook's function expects.

By default, ``akctl session start --input`` and ``akctl event dispatch --data`` hand the
keys to the entry point as ``event.data`` itself, as AutoKitteh's manual runs do. A
webhook's function reads the request instead (``event.data.body.json``,
``event.data.method``, ``event.data.url.path``); with ``--as-request`` the keys become
the JSON body of a POST to the webhook trigger's URL, so the same code runs unchanged.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from akctl.app import App
from akctl.errors import CliError


def webhook_request(data: dict[str, Any], webhook_url: str) -> dict[str, Any]:
    """``event.data`` of a POST of ``data`` as JSON to ``webhook_url``.

    ``body.bytes`` holds the body's text: the request travels to akd as JSON.
    """
    text = json.dumps(data)
    path = urlsplit(webhook_url).path
    return {
        "method": "POST",
        "raw_url": path,
        "url": {"path": path, "path_suffix": "", "query": {}},
        "headers": {"Content-Type": "application/json", "Content-Length": str(len(text.encode()))},
        "body": {"bytes": text, "text": text, "form": None, "json": data},
    }


def webhook_of_entrypoint(app: App, project: str, entrypoint: str) -> dict[str, Any]:
    """The project's webhook trigger that calls ``entrypoint`` (exit 40 if none does)."""
    rows: list[dict[str, Any]] = app.client.get("/triggers", project=project)
    found = next((r for r in rows if r["type"] == "webhook" and r.get("call") == entrypoint), None)
    if found is None:
        raise CliError(f"--as-request: no webhook trigger of project {project!r} calls {entrypoint}", 40)
    return found


def as_request(data: dict[str, Any], trigger: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a POST to ``trigger``'s URL (exit 40 if it is not a webhook)."""
    if trigger.get("type") != "webhook" or not trigger.get("webhook_url"):
        raise CliError(f"--as-request needs a webhook trigger; {trigger['name']} is a {trigger['type']} trigger", 40)
    return webhook_request(data, str(trigger["webhook_url"]))


def trigger_project(app: App, trigger: str, project: str) -> str:
    """The project of ``trigger``: ``project`` when given, else the one project that has it."""
    if project:
        return project
    found: dict[str, Any] = app.client.get(f"/triggers/{trigger}")
    return str(found["project"])


def payloads_path(project: str, trigger: str, name: str = "") -> str:
    tail = f"/{quote(name, safe='')}" if name else ""
    return f"/projects/{quote(project, safe='')}/triggers/{quote(trigger, safe='')}/payloads{tail}"


def saved_data(app: App, project: str, trigger: str, name: str) -> dict[str, Any]:
    """The data of the saved payload ``name`` of ``trigger`` (exit 44 when there is none)."""
    saved: dict[str, Any] = app.client.get(payloads_path(trigger_project(app, trigger, project), trigger, name))
    return dict(saved["data"])
