"""``autokitteh.outcomes``: answers to sync webhooks."""

from akd.runner.api import http_outcome, outcome

__all__ = ["http_outcome", "outcome"]
