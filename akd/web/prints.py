"""Live prints of a running session: the page polls a small HTML fragment.

Why polling a partial rather than server-sent events:

- Prints reach SQLite in batches every 50 ms and nothing in the daemon announces them,
  so an SSE stream would itself poll the database in a loop; the browser polling
  ``/sessions/{id}/prints?after=<last print id>`` does the same work with less code.
- No response stays open. uvicorn's graceful shutdown waits for open responses, so one
  forgotten browser tab on an SSE stream would hold up ``akctl down``; a poll lasts
  milliseconds.
- Nothing is lost or duplicated across a missed poll, a daemon restart or a laptop
  sleep: the cursor is the id of the last print shown, kept by the page.
- The fragment is rendered by the same autoescaped template as the full page, so a
  print holding ``<script>`` is text on both paths, and no JSON-to-DOM code is needed.

The page polls every 0.7 s while the session is live, at once again while a poll came
back full, and stops when the ``X-Session-State`` header names a final state (it then
reloads once, to show the return value or error and the finished timeline).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx, int_param, must
from akd.store import project_data
from akd.store import sessions as store
from akd.web.auth import partial
from akd.web.render import fragment

BATCH = 500


@partial
async def prints_since(request: Request) -> Response:
    """New print lines after ``?after=<id>``; headers carry the state and the next cursor."""
    c = ctx(request)
    sid = request.path_params["id"]
    # The state first: once it is final every print is stored, so this answer holds the last ones.
    row = must(await store.get(c.db, sid), "session", sid)
    after = int_param(request, "after", 0, lo=0, hi=2**62)
    prints = await project_data.prints_after(c.db, sid, after, BATCH)
    headers = {
        "X-Session-State": row.state.value,
        "X-Next-After": str(prints[-1].id if prints else after),
        "X-More": "1" if len(prints) == BATCH else "0",
    }
    return fragment(request, "_prints.html", headers=headers, prints=prints)


routes = [Route("/sessions/{id}/prints", prints_since)]
