"""Values user code receives: ``AttrDict`` and ``Event``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class AttrDict(dict[str, Any]):
    """A dict whose keys can also be read as attributes, recursively (read-only)."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return _wrap(value)

    def __getitem__(self, key: str) -> Any:
        return _wrap(super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:
        return _wrap(super().get(key, default))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("AttrDict is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("AttrDict is read-only")


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, AttrDict):
        return AttrDict(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


@dataclass
class Event:
    """What an entry function receives: ``event.data``, ``event.event_id``, ``event.event_type``."""

    data: AttrDict = field(default_factory=AttrDict)
    event_id: str = ""
    event_type: str = ""
    session_id: str = ""
