"""Data for a session started by hand, shaped the way its entry point expects.

A webhook's entry function reads ``event.data.body.json``, ``event.data.method`` and
``event.data.url.path`` (what akd hands it for a real request). When ``akctl session
start --input`` or ``akctl event dispatch --data`` targets a webhook trigger, the given
keys become the JSON body of a POST to the trigger's URL, so the same code runs
unchanged; ``--raw`` sends them as ``event.data`` itself.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from akctl.app import App


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


def webhook_of_entrypoint(app: App, project: str, entrypoint: str) -> dict[str, Any] | None:
    """The project's webhook trigger that calls ``entrypoint``, if there is one."""
    rows: list[dict[str, Any]] = app.client.get("/triggers", project=project)
    return next((r for r in rows if r["type"] == "webhook" and r.get("call") == entrypoint), None)


def shaped(data: dict[str, Any], trigger: dict[str, Any] | None, raw: bool) -> dict[str, Any]:
    """``data`` as a webhook request when ``trigger`` is a webhook (and not ``raw``)."""
    if raw or trigger is None or trigger.get("type") != "webhook" or not trigger.get("webhook_url"):
        return data
    return webhook_request(data, str(trigger["webhook_url"]))
