"""The web UI served at ``/``: server-rendered pages with a little progressive enhancement.

Every page is complete HTML rendered by Jinja2 (autoescaped) from the same store reads
the API uses; forms POST and redirect, so the UI works without JavaScript. One small
script (``static/app.js``) adds the live parts of a running session's page (see
``akd.web.prints`` for why it polls fragments), lists that refresh themselves (with a
pause toggle), the "send test request" form and confirmations. Assets ship in the
package; nothing is built or downloaded at run time.

Modules, one per page group: ``projects``, ``contents`` (vars, key-value store), ``builds``
(files, diffs), ``deletes`` (confirm, then delete), ``deployments``, ``sessions`` (+ ``prints``,
``timeline``), ``events``, ``stats`` (+ ``charts``); ``auth`` (login, cookie, CSRF, bearer),
``render`` (templates, filters, headers), ``common``. What the pages read comes from ``akd.store``.
"""

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from akd.web import auth, builds, connections, contents, deletes, deployments, events, prints, projects, sessions, stats

routes: list[BaseRoute] = [
    *auth.routes,
    *deletes.routes,  # before the pages whose paths they extend
    *contents.routes,
    *builds.routes,
    *projects.routes,
    *connections.routes,
    *deployments.routes,
    *prints.routes,
    *sessions.routes,
    *events.routes,
    *stats.routes,
    Mount("/static", app=StaticFiles(packages=[("akd.web", "static")]), name="static"),
]
