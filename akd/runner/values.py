"""Values user code receives: ``AttrDict``, ``Event`` and ``Signal``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class AttrDict(dict[str, Any]):
    """A dict whose keys can also be read as attributes, recursively (read-only)."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(self._missing(name)) from None
        return wrap(value)

    def _missing(self, name: str) -> str:
        """Why ``name`` is not here: the key asked for and the keys there are."""
        if name.startswith("__"):
            return name  # a protocol probe (copy, pickle), not user code asking for data
        keys = ", ".join(repr(k) for k in list(self)[:20]) + (", ..." if len(self) > 20 else "")
        return f"no key {name!r} in this AttrDict (its keys: {keys or 'none'})"

    def __getitem__(self, key: str) -> Any:
        return wrap(super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:
        return wrap(super().get(key, default))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("AttrDict is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("AttrDict is read-only")


def wrap(value: Any) -> Any:
    """``value`` with its dicts (also inside lists) as ``AttrDict``."""
    if isinstance(value, dict) and not isinstance(value, AttrDict):
        return AttrDict(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


@dataclass
class Event:
    """What an entry function receives: ``event.data``, ``event.event_id``, ``event.event_type``."""

    data: AttrDict = field(default_factory=AttrDict)
    event_id: str = ""
    event_type: str = ""
    session_id: str = ""


@dataclass
class Signal:
    """What ``next_signal`` returns: ``signal.name`` and ``signal.payload``.

    ``signal["name"]`` and ``signal["payload"]`` keep working for code written against
    akd's earlier mapping shape.
    """

    name: str
    payload: Any = None

    def __getitem__(self, key: str) -> Any:
        if key not in ("name", "payload"):
            raise KeyError(key)
        return getattr(self, key)
