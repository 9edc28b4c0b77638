"""The web UI served at / (being written)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
