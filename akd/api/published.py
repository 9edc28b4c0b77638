"""``GET /store/{project_id}/{key}``: a published key-value entry, public and read-only.

The path is AutoKitteh's (``get_store_public_url()`` + ``/`` + key) and so is the body:
the value itself, as JSON. No token is asked; only keys a session published with
``publish_value`` are served, anything else is 404 alike.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.errors import NotFound
from akd.store import published


async def get_published(request: Request) -> Response:
    project_id, key = request.path_params["project_id"], request.path_params["key"]
    text = await published.published_value(ctx(request).db, project_id, key)
    if text is None:
        raise NotFound(f"no published value {key!r} in project {project_id!r}")
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})


routes = [Route("/store/{project_id}/{key:path}", get_published, methods=["GET", "HEAD"])]
