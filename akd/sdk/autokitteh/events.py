"""``autokitteh.events``: subscriptions, their events, and child sessions."""

from akd.runner.api import next_event, start, subscribe, unsubscribe
from akd.runner.values import AttrDict, Event

__all__ = ["AttrDict", "Event", "next_event", "start", "subscribe", "unsubscribe"]
