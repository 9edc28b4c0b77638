"""What route handlers and services share: the daemon's live parts, built before the
first request and complete from then on (the daemon constructs it once, at start-up)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from akd.config import Config
from akd.engine.runners import RunnerHub
from akd.engine.worker import Engine
from akd.notify import Notifier
from akd.services.dispatch import Dispatcher
from akd.services.quota import EventQuota
from akd.store.db import Database
from akd.temporal_server import ExternalTemporal, TemporalDevServer


@dataclass(frozen=True)
class AppContext:
    config: Config
    db: Database
    token: str
    quota: EventQuota
    hub: RunnerHub
    temporal: TemporalDevServer | ExternalTemporal
    engine: Engine
    dispatcher: Dispatcher
    notifier: Notifier
    base_url: str
    started_at: float = field(default_factory=time.time)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)

    def engine_notifier(self) -> Notifier:
        return self.notifier
