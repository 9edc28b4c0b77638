"""Anthropic's API: ``POST /v1/messages`` (an echo)."""

from __future__ import annotations

import re

from tests.standins.base import Answer, Recorded, StandIn


class AnthropicStandIn(StandIn):
    """``keys`` are valid (header ``x-api-key``)."""

    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys if keys is not None else {"sk-ant-good"}
        self.route("POST", r"/v1/messages", self._message)

    def _message(self, req: Recorded, _: re.Match[str]) -> Answer:
        if req.headers.get("x-api-key") not in self.keys:
            return 401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        body = req.json()
        return 200, {
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": "echo: " + str(body["messages"][-1]["content"])}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 2},
        }  # fmt: skip
