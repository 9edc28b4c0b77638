"""Project lifecycle routes (being written)."""

from starlette.routing import Route

routes: list[Route] = []
