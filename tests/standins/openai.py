"""OpenAI's API: ``GET /v1/models`` and ``POST /v1/chat/completions`` (an echo)."""

from __future__ import annotations

import re

from tests.standins.base import Answer, Recorded, StandIn


class OpenAIStandIn(StandIn):
    """``keys`` are valid; a completion answers ``echo: <last user message>``."""

    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys if keys is not None else {"sk-good"}
        self.route("GET", r"/v1/models", self._models)
        self.route("POST", r"/v1/chat/completions", self._complete)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _refused(self, req: Recorded) -> Answer | None:
        if req.auth.removeprefix("Bearer ") in self.keys:
            return None
        return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                               "param": None, "code": "invalid_api_key"}}  # fmt: skip

    def _models(self, req: Recorded, _: re.Match[str]) -> Answer:
        return self._refused(req) or (200, {"object": "list", "data": [
            {"id": "gpt-test", "object": "model", "created": 1700000000, "owned_by": "akd"}]})  # fmt: skip

    def _complete(self, req: Recorded, _: re.Match[str]) -> Answer:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json()
        text = "echo: " + str(body["messages"][-1]["content"])
        return 200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }  # fmt: skip
