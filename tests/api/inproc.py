"""The ASGI app in process, over httpx's ASGI transport: a real SQLite store in a temp
dir and the daemon's real parts, built but not started (no Temporal connection, no
runners). For the API's own behaviour: routing, the token, error bodies, reads and
writes that need no session to run. What needs Temporal is tested end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx

from akd.app import create_app
from akd.config import Config
from akd.engine.activities import EngineContext
from akd.engine.connect import embedded_target
from akd.engine.runners import RunnerHub
from akd.engine.worker import Engine
from akd.notify import Notifier
from akd.outbox import Outbox
from akd.services import oauth
from akd.services.context import AppContext
from akd.services.dispatch import Dispatcher
from akd.services.quota import EventQuota
from akd.store.db import SqliteDatabase
from akd.temporal_server import ExternalTemporal

T = TypeVar("T")
TOKEN = "in-process-token-0123456789"
Scenario = Callable[[httpx.AsyncClient, AppContext], Awaitable[T]]


def run_app(tmp_path: Path, scenario: Scenario[T]) -> T:
    """Build the app on a fresh data dir, run ``scenario`` with a client that sends the token."""

    async def main() -> T:
        config = Config(data_dir=tmp_path)
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            hub, notifier, outbox = RunnerHub(tmp_path), Notifier(), Outbox()
            engine_ctx = EngineContext(db, hub, tmp_path / "builds", "http://akd.test", 1 << 20, notifier, outbox,
                                       oauth.Refresher(db, tmp_path, config.oauth))  # fmt: skip
            engine = Engine(engine_ctx, target=embedded_target("127.0.0.1:1", "default"), task_queue="q")
            ctx = AppContext(
                config=config, db=db, token=TOKEN, quota=EventQuota(config.events, tmp_path), hub=hub,
                temporal=ExternalTemporal("127.0.0.1:1"), engine=engine, dispatcher=Dispatcher(db, engine, outbox),
                notifier=notifier, base_url="http://akd.test",
            )  # fmt: skip
            transport = httpx.ASGITransport(app=create_app(ctx))
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://akd.test", headers=headers) as client:
                return await scenario(client, ctx)
        finally:
            await db.close()

    return asyncio.run(main())
