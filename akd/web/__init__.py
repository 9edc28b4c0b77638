"""The web UI served at ``/``: server-rendered pages with a little progressive enhancement.

Every page is complete HTML rendered by Jinja2 (autoescaped) from the same store reads
the API uses; forms POST and redirect, so the UI works without JavaScript. One small
script (``static/app.js``) adds the live prints of a running session (see
``akd.web.prints`` for why it polls a fragment), the "send test request" form and
confirmations. Assets ship in the package; nothing is built or downloaded at run time.

Modules, one per page group: ``projects``, ``deployments``, ``sessions`` (+ ``prints``,
``timeline``), ``events``, ``stats`` (+ ``charts``); ``auth`` (login, cookie, CSRF, bearer),
``render`` (templates, filters, headers), ``queries`` (keyset pages and counts), ``common``.
"""

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from akd.web import auth, connections, deployments, events, prints, projects, sessions, stats

routes: list[BaseRoute] = [
    *auth.routes,
    *projects.routes,
    *connections.routes,
    *deployments.routes,
    *prints.routes,
    *sessions.routes,
    *events.routes,
    *stats.routes,
    Mount("/static", app=StaticFiles(packages=[("akd.web", "static")]), name="static"),
]
