"""Small helpers the page modules share: query parameters, redirects, notices, stored blobs."""

from __future__ import annotations

import pickle
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from akd.api.common import ctx, must
from akd.errors import InvalidArgument
from akd.ids import has_prefix
from akd.store import projects as projects_store
from akd.web.render import secure

# Notices shown after an action, by code: a query string never carries page text.
NOTICES = {
    "stopping": "Stop requested: the session ends its current step, then stops (terminated after 10 s).",
    "restarted": "Restarted: this is the new session.",
    "rerun": "Rerun: this new session replayed the original's steps before the one you chose, then ran live.",
    "woken": "Woken: the durable sleep ended now, as if its time had passed.",
    "signalled": "Signal sent: the session's next_signal() for that name returns it.",
    "fired": "Fired: the schedule ran now; its tick is in the events list.",
    "redispatched": "Redispatched: this is the new event, with the same data.",
    "activated": "Deployment activated; the previous active deployment of the project drains.",
    "deactivated": "Deployment deactivated: it takes no new sessions.",
    "connection_ok": "Connection tested: the vendor accepted its credentials.",
    "connection_failed": "Connection not working: its status says why.",
    "connection_saved": "Credentials saved; the connection's status says whether they work.",
    "deleted": "Deleted.",
}


def id_param(request: Request, name: str, prefix: str) -> str:
    """An optional id-valued query parameter, checked for its shape (``ses_...``)."""
    value = request.query_params.get(name, "")
    if value and not has_prefix(value, prefix):
        raise InvalidArgument(f"query parameter {name} must be a {prefix}_... id, got {value!r}")
    return value


def choice_param(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name, "")
    if value and value not in allowed:
        raise InvalidArgument(f"query parameter {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


async def project_id_param(request: Request) -> str:
    name = request.query_params.get("project", "")
    if not name:
        return ""
    return str(must(await projects_store.project_by_name(ctx(request).db, name), "project", name).project_id)


def time_param(request: Request, name: str) -> float | None:
    """A local date and time (``2026-12-02T09:30``, what ``<input type=datetime-local>`` sends)."""
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise InvalidArgument(
            f"query parameter {name} must be a date and time like 2026-12-02T09:30, got {value!r}"
        ) from None


def notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("done", ""), "")


def redirect(path: str, done: str = "") -> Response:
    """303 after a POST, so a reload does not send the form again."""
    joiner = "&" if "?" in path else "?"
    target = f"{path}{joiner}{urlencode({'done': done})}" if done else path
    return secure(RedirectResponse(target, status_code=303))


def query(**params: str) -> str:
    """A query string of the non-empty parameters, for links that keep the page's filters."""
    kept = {k: v for k, v in params.items() if v}
    return f"?{urlencode(kept)}" if kept else ""


def unpickle(blob: bytes | None) -> Any:
    """Event data and session inputs: pickled by akd itself, never by a user or a client."""
    return pickle.loads(blob) if blob else None
