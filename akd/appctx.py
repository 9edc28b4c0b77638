"""What route handlers and services share: the daemon's live parts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from akd.config import Config
from akd.engine.runners import RunnerHub
from akd.engine.worker import Engine
from akd.services.dispatch import Dispatcher
from akd.services.notify import Notifier
from akd.services.quota import EventQuota
from akd.store.db import Database
from akd.temporal_server import TemporalDevServer


@dataclass
class AppContext:
    config: Config
    db: Database
    token: str
    quota: EventQuota
    engine: Engine | None = None
    dispatcher: Dispatcher | None = None
    hub: RunnerHub | None = None
    temporal: TemporalDevServer | None = None
    base_url: str = ""
    started_at: float = field(default_factory=time.time)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    notifier: Notifier = field(default_factory=Notifier)

    def engine_notifier(self) -> Notifier:
        return self.notifier
