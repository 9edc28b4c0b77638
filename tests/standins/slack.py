"""Slack's Web API: ``auth.test``, ``chat.postMessage`` (messages are recorded) and
``conversations.list`` (paged by ``cursor``, as Slack pages)."""

from __future__ import annotations

import re
from typing import Any

from tests.standins.base import Answer, Recorded, StandIn


class SlackStandIn(StandIn):
    """Tokens in ``tokens`` are valid; the API lives under ``/api/`` (use :attr:`base_url`)."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else {"xoxb-good-token"}
        self.messages: list[dict[str, Any]] = []
        self.route("POST", r"/api/auth\.test", self._auth_test)
        self.route("POST", r"/api/chat\.postMessage", self._post_message)
        self.route("POST", r"/api/conversations\.list", self._conversations)
        self.channels = [{"id": f"C{i}", "name": f"channel-{i}"} for i in range(5)]

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    def _args(self, req: Recorded) -> dict[str, Any]:
        if req.headers.get("content-type", "").startswith("application/json"):
            data: dict[str, Any] = req.json() or {}
            return data
        return dict(req.form())

    def _authorized(self, req: Recorded) -> bool:
        return req.auth.removeprefix("Bearer ") in self.tokens

    def _auth_test(self, req: Recorded, _: re.Match[str]) -> Answer:
        if not self._authorized(req):
            return 200, {"ok": False, "error": "invalid_auth"}
        return 200, {"ok": True, "url": "https://akd-test.slack.com/", "team": "akd", "user": "bot",
                     "team_id": "T1", "user_id": "U1", "bot_id": "B1"}  # fmt: skip

    def _post_message(self, req: Recorded, _: re.Match[str]) -> Answer:
        if not self._authorized(req):
            return 200, {"ok": False, "error": "invalid_auth"}
        args = self._args(req)
        if not args.get("channel"):
            return 200, {"ok": False, "error": "channel_not_found"}
        with self._lock:
            self.messages.append(args)
            ts = f"1700000000.{len(self.messages):06d}"
        return 200, {"ok": True, "channel": args["channel"], "ts": ts,
                     "message": {"type": "message", "text": args.get("text", ""), "user": "U1", "ts": ts}}  # fmt: skip

    def _conversations(self, req: Recorded, _: re.Match[str]) -> Answer:
        if not self._authorized(req):
            return 200, {"ok": False, "error": "invalid_auth"}
        args = {**{k: v[0] for k, v in req.query.items()}, **self._args(req)}
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 2)
        page = self.channels[start : start + limit]
        following = str(start + limit) if start + limit < len(self.channels) else ""
        return 200, {"ok": True, "channels": page, "response_metadata": {"next_cursor": following}}
