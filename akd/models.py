"""Typed domain values shared by the manifest, build and deploy code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallSpec:
    """``file.py:function``."""

    file: str
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.function}"


@dataclass(frozen=True)
class VarSpec:
    name: str
    value: str
    secret: bool = False
    description: str = ""


@dataclass(frozen=True)
class ConnectionSpec:
    name: str
    integration: str
    vars: tuple[VarSpec, ...] = ()


@dataclass(frozen=True)
class Concurrency:
    """At most ``limit`` live sessions per value of the CEL ``key`` (all share one when "")."""

    limit: int
    key: str = ""


@dataclass(frozen=True)
class Debounce:
    """Only the last event of a burst (no newer one with the same key within ``period`` s) starts."""

    period: float
    key: str = ""


@dataclass(frozen=True)
class Dedupe:
    """An event whose key was seen within ``window`` s (the manifest's ``for``) starts nothing."""

    key: str
    window: float


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` events per ``period`` s per key start sessions; the rest are throttled."""

    limit: int
    period: float
    key: str = ""


@dataclass(frozen=True)
class FlowControl:
    """A trigger's flow-control keys (an akd extension of the manifest)."""

    concurrency: Concurrency | None = None
    debounce: Debounce | None = None
    dedupe: Dedupe | None = None
    rate_limit: RateLimit | None = None

    def __bool__(self) -> bool:
        return any((self.concurrency, self.debounce, self.dedupe, self.rate_limit))


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    type: str  # "webhook" | "schedule" | "connection"
    call: CallSpec | None = None
    event_type: str = ""
    filter: str = ""
    is_sync: bool = False
    is_durable: bool = True  # resolved from the manifest version when absent
    schedule: str = ""
    timezone: str = ""
    connection: str = ""
    flow: FlowControl = field(default_factory=FlowControl)


@dataclass(frozen=True)
class Manifest:
    version: str  # "v1" | "v2"
    name: str
    display_name: str = ""
    vars: tuple[VarSpec, ...] = ()
    connections: tuple[ConnectionSpec, ...] = ()
    triggers: tuple[TriggerSpec, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    # akd extension: the default retry policy of every journaled call in the project.
    retry_policy: dict[str, float] = field(default_factory=dict)
