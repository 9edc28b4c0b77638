"""Templates (Jinja2, autoescaped), display filters and the HTML responses every page shares."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from akd.errors import AkdError
from akd.store.states import ORDER, SessionState

# The states lists, filters and charts offer, in their order. Queued sessions are not
# among them: the pages predate the queue (they show a queued session's badge only).
STATES: tuple[SessionState, ...] = tuple(s for s in ORDER if s is not SessionState.QUEUED)

# Pages are only ever framed or scripted by themselves: no inline script, no third-party
# origin. Inline style attributes stay allowed for the widths of timeline bars.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def local_time(t: float | None) -> str:
    """The daemon runs on the user's machine, so its local time is the user's."""
    if t is None:
        return "-"
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def clock(t: float | None) -> str:
    if t is None:
        return "-"
    stamp = datetime.fromtimestamp(t)
    return stamp.strftime("%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def duration(seconds: float | None) -> str:
    """``812 ms``, ``3.2 s``, ``4 m 12 s``, ``2 h 3 m``."""
    if seconds is None:
        return "-"
    if 0 < seconds < 0.0005:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} m {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} m"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=repr)


def thousands(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _static_version() -> str:
    digest = hashlib.sha256()
    for name in ("app.css", "app.js"):
        digest.update(files("akd.web").joinpath("static", name).read_bytes())
    return digest.hexdigest()[:10]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("akd.web", "templates"),
        autoescape=True,  # every page: a print holding <script> renders as text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local_time=local_time, clock=clock, duration=duration, pretty=pretty, thousands=thousands)
    version = _static_version()
    env.globals.update(STATES=STATES, static=lambda name: f"/static/{name}?v={version}")
    return env


templates = Jinja2Templates(env=_environment())


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A full page, with what the layout needs (the CSRF token of the viewer, the nav entry)."""
    viewer = getattr(request.state, "viewer", None)
    context.setdefault("nav", "")
    context["csrf"] = viewer.csrf if viewer is not None else ""
    context["signed_in"] = viewer is not None and viewer.via == "cookie"
    return secure(templates.TemplateResponse(request, name, context, status_code=status))


def render_error(request: Request, exc: AkdError) -> Response:
    return render(request, "error.html", status=exc.status, title=f"{exc.status} {exc.code}", error=exc)


def fragment(request: Request, name: str, headers: dict[str, str] | None = None, **context: Any) -> Response:
    """A partial page (no layout), for small in-page updates (with the viewer's CSRF token for its forms)."""
    viewer = getattr(request.state, "viewer", None)
    context.setdefault("csrf", viewer.csrf if viewer is not None else "")
    response = templates.TemplateResponse(request, name, context, headers=headers)
    return secure(response)


def plain(text: str, status: int) -> Response:
    return secure(HTMLResponse(f"<p>{escape(text)}</p>", status_code=status))
