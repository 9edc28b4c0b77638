"""Who may see the UI, and which POSTs really come from its own pages.

Signing in
    The UI knows one secret, the daemon's API token. The login form asks for it once;
    ``POST /login/link`` (with ``Authorization: Bearer <token>``) mints a one-time link
    ``/login?ticket=...`` valid for two minutes, for a CLI to open a browser with.
    Either way the browser gets the cookie ``akd_ui = <issued>.<nonce><HMAC(token,
    issued.nonce)>``: HttpOnly, SameSite=Strict, 30 days. The raw token never reaches a
    page or a cookie, and changing the token signs every browser out.

Signing out
    ``POST /logout`` revokes that browser's cookie on the server (its digest is stored
    until the cookie would have expired), so a copy of it taken earlier no longer signs
    anyone in: it is sent to the login form like no cookie at all.

Bearer
    Every page and action also accepts ``Authorization: Bearer <token>`` (DESIGN.md
    section 7), so scripts and tests can read pages without a cookie. A wrong bearer
    token gets 401; a browser without a session is redirected to the login form.

CSRF
    Every POST from a cookie session must carry the form field ``csrf`` equal to
    ``HMAC(token, "csrf:" + cookie)``: bound to that browser's session, unknowable to
    another site (it needs the token to compute it and cannot read the cookie). The
    login form itself carries ``HMAC(token, "login:" + nonce)`` of a nonce cookie set
    with the form. Bearer requests need no CSRF token: browsers never add that header
    to a cross-site request by themselves. SameSite=Strict is a second, independent wall.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from akd.api.common import ctx, read_body
from akd.errors import AkdError, PayloadTooLarge
from akd.store import ui_cookies
from akd.web.render import render, render_error, secure

COOKIE = "akd_ui"
LOGIN_COOKIE = "akd_login"
CSRF_FIELD = "csrf"
SESSION_TTL = 30 * 86400
NONCE_CHARS = 16
TICKET_TTL = 120.0
MAX_FORM_BYTES = 1024 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Viewer:
    via: str  # "cookie" or "bearer"
    csrf: str  # what POST forms must carry; "" for bearer requests, which need none


class BadBearer(Exception):
    """An Authorization header was sent, with the wrong token."""


class FormTooLarge(Exception):
    """A form body over ``MAX_FORM_BYTES``: no UI form comes near it."""


# -- signed values ---------------------------------------------------------------------


def _mac(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def session_value(secret: str, now: float) -> str:
    """``<issued>.<nonce><mac>``: the nonce makes two sign-ins of one second two cookies,
    so signing one of them out leaves the other alone."""
    issued, nonce = str(int(now)), secrets.token_hex(NONCE_CHARS // 2)
    return f"{issued}.{nonce}{_mac(secret, 'session', f'{issued}.{nonce}')}"


def session_ok(secret: str, value: str, now: float) -> bool:
    issued, _, rest = value.partition(".")
    nonce, mac = rest[:NONCE_CHARS], rest[NONCE_CHARS:]
    if not issued.isdigit() or not hmac.compare_digest(mac, _mac(secret, "session", f"{issued}.{nonce}")):
        return False
    return int(issued) - 60 <= now < int(issued) + SESSION_TTL


def session_expiry(value: str) -> float:
    """When a cookie that passed ``session_ok`` stops being valid by itself."""
    return float(int(value.partition(".")[0]) + SESSION_TTL)


def csrf_token(secret: str, session: str) -> str:
    return _mac(secret, "csrf", session)


def login_csrf(secret: str, nonce: str) -> str:
    return _mac(secret, "login", nonce)


class Tickets:
    """One-time login tickets, kept in memory (a restart voids them; they live two minutes)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def mint(self, now: float) -> str:
        self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        ticket = secrets.token_urlsafe(24)
        self._expiry[_digest(ticket)] = now + TICKET_TTL
        return ticket

    def redeem(self, ticket: str, now: float) -> bool:
        expiry = self._expiry.pop(_digest(ticket), None)
        return expiry is not None and expiry > now


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def tickets_of(request: Request) -> Tickets:
    found: Tickets | None = getattr(request.app.state, "web_tickets", None)
    if found is None:
        found = request.app.state.web_tickets = Tickets()
    return found


# -- request checks --------------------------------------------------------------------


async def authenticate(request: Request) -> Viewer | None:
    """The viewer of a request, None without credentials (or with a signed-out cookie);
    ``BadBearer`` for a wrong token."""
    secret = ctx(request).token
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret.encode()):
            raise BadBearer
        return Viewer("bearer", "")
    value = request.cookies.get(COOKIE, "")
    if value and session_ok(secret, value, time.time()):
        if await ui_cookies.is_revoked(ctx(request).db, _digest(value)):
            return None
        return Viewer("cookie", csrf_token(secret, value))
    return None


async def form_fields(request: Request) -> dict[str, str]:
    """The urlencoded body of a UI form (the only kind its pages send); last value wins."""
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    try:
        body = await read_body(request, MAX_FORM_BYTES)  # unauthenticated on /login: never read past the limit
    except PayloadTooLarge:
        raise FormTooLarge from None
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    request.state.form = fields
    return fields


def safe_next(value: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value if value.isprintable() else "/"


def _to_login(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return secure(RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303))


def _unauthenticated(request: Request, redirect: bool) -> Response:
    if redirect:
        return _to_login(request)
    return secure(JSONResponse({"error": {"code": "unauthenticated", "message": "sign in first"}}, 401))


def _guard(fn: Endpoint, *, redirect: bool, check_csrf: bool) -> Endpoint:
    @wraps(fn)
    async def guarded(request: Request) -> Response:
        try:
            viewer = await authenticate(request)
        except BadBearer:
            return _unauthenticated(request, redirect=False)
        if viewer is None:
            return _unauthenticated(request, redirect)
        request.state.viewer = viewer
        try:
            if check_csrf and not await _csrf_ok(request, viewer):
                return render(request, "error.html", 403, title="403 forbidden", error=_CSRF_ERROR)
            return await fn(request)
        except FormTooLarge:
            return render(request, "error.html", 413, title="413 too large", error=AkdError("form too large"))
        except AkdError as exc:
            return render_error(request, exc)

    return guarded


_CSRF_ERROR = AkdError("this form was not sent by an akd page of your session (missing or wrong CSRF token); reload it")


async def _csrf_ok(request: Request, viewer: Viewer) -> bool:
    if viewer.via == "bearer":
        return True
    given = (await form_fields(request)).get(CSRF_FIELD, "")
    return hmac.compare_digest(given.encode(), viewer.csrf.encode())


def page(fn: Endpoint) -> Endpoint:
    """A GET page: a browser without a session is sent to the login form."""
    return _guard(fn, redirect=True, check_csrf=False)


def partial(fn: Endpoint) -> Endpoint:
    """A fragment fetched by a page's script: 401 without a session (nobody to redirect)."""
    return _guard(fn, redirect=False, check_csrf=False)


def action(fn: Endpoint) -> Endpoint:
    """A POST that changes something: session (or bearer) and CSRF token required."""
    return _guard(fn, redirect=True, check_csrf=True)


# -- login, logout, login links --------------------------------------------------------


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, path: str = "/") -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _login_form(request: Request, status: int = 200, message: str = "") -> Response:
    nonce = secrets.token_urlsafe(16)
    next_path = safe_next(request.query_params.get("next") or getattr(request.state, "form", {}).get("next"))
    response = render(
        request, "login.html", status, title="Sign in", next=next_path, message=message,
        login_csrf=login_csrf(ctx(request).token, nonce),
    )  # fmt: skip
    _cookie(response, request, LOGIN_COOKIE, nonce, 3600, path="/login")
    return response


def _signed_in(request: Request, response: Response) -> Response:
    _cookie(response, request, COOKIE, session_value(ctx(request).token, time.time()), SESSION_TTL)
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    return secure(response)


async def login_get(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    ticket = request.query_params.get("ticket")
    if ticket is not None:
        if not tickets_of(request).redeem(ticket, time.time()):
            return _login_form(request, 401, "This login link was already used or has expired; ask for a new one.")
        # A page, not a redirect: a SameSite=Strict cookie set by a navigation that came
        # from another site (a terminal, a chat) is only sent once the page itself moves on.
        return _signed_in(request, render(request, "signed_in.html", title="Signed in", next=next_path))
    try:
        if await authenticate(request) is not None:
            return secure(RedirectResponse(next_path, status_code=303))
    except BadBearer:
        pass
    return _login_form(request)


async def login_post(request: Request) -> Response:
    try:
        fields = await form_fields(request)
    except FormTooLarge:
        return _login_form(request, 413, "That form was too large.")
    secret = ctx(request).token
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(fields.get(CSRF_FIELD, "").encode(), login_csrf(secret, nonce).encode()):
        return _login_form(request, 403, "This sign-in form expired or did not come from akd; try again.")
    if not hmac.compare_digest(fields.get("token", "").strip().encode(), secret.encode()):
        return _login_form(request, 401, "Wrong token. It is in <data dir>/token (akctl reads it from there too).")
    target = safe_next(fields.get("next"))
    return _signed_in(request, RedirectResponse(target, status_code=303))


@action
async def logout(request: Request) -> Response:
    """Sign this browser out: its cookie is revoked here, not only deleted there."""
    value = request.cookies.get(COOKIE, "")
    now = time.time()
    if value and session_ok(ctx(request).token, value, now):
        await ui_cookies.revoke(ctx(request).db, _digest(value), session_expiry(value), now)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return secure(response)


async def login_link(request: Request) -> Response:
    """``POST /login/link`` with ``Authorization: Bearer <token>``: ``{"url", "expires_in"}``."""
    try:
        viewer = await authenticate(request)
    except BadBearer:
        viewer = None
    if viewer is None or viewer.via != "bearer":
        return _unauthenticated(request, redirect=False)
    ticket = tickets_of(request).mint(time.time())
    base = ctx(request).base_url or str(request.base_url).rstrip("/")
    return secure(JSONResponse({"url": f"{base}/login?ticket={ticket}", "expires_in": int(TICKET_TTL)}))


routes = [
    Route("/login", login_get),
    Route("/login", login_post, methods=["POST"]),
    Route("/login/link", login_link, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
