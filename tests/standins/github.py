"""GitHub's REST API: ``GET /user``, ``GET /repos/{owner}/{repo}`` and a GitHub App's
installation tokens (``POST /app/installations/{id}/access_tokens``, JWT checked)."""

from __future__ import annotations

import re
from typing import Any

import jwt

from tests.standins.base import Answer, Recorded, StandIn


class GitHubStandIn(StandIn):
    """``pats`` authenticate as ``login``; ``repos`` maps ``owner/name`` to extra fields.
    With ``app_public_key`` (PEM), app JWTs signed by the matching key get installation tokens."""

    def __init__(self, pats: set[str] | None = None, repos: dict[str, dict[str, Any]] | None = None,
                 app_id: int = 0, app_public_key: str = "") -> None:  # fmt: skip
        super().__init__()
        self.pats = pats if pats is not None else {"ghp_good"}
        self.repos = repos if repos is not None else {"octo/hello": {"description": "a test repo"}}
        self.app_id, self.app_public_key = app_id, app_public_key
        self.login = "octocat"
        # GitHub Enterprise Server serves the same API under /api/v3.
        self.route("GET", r"(?:/api/v3)?/user", self._user)
        self.route("GET", r"(?:/api/v3)?/repos/([^/]+)/([^/]+)", self._repo)
        self.route("POST", r"(?:/api/v3)?/app/installations/(\d+)/access_tokens", self._installation_token)

    def _authorized(self, req: Recorded) -> bool:
        scheme, _, secret = req.auth.partition(" ")
        return scheme.lower() in ("token", "bearer") and secret in self.pats

    def _user(self, req: Recorded, _: re.Match[str]) -> Answer:
        if not self._authorized(req):
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        return 200, {"login": self.login, "id": 1, "type": "User", "url": f"{self.url}/users/{self.login}"}

    def _repo(self, req: Recorded, m: re.Match[str]) -> Answer:
        if not self._authorized(req):
            return 401, {"message": "Bad credentials"}
        full = f"{m.group(1)}/{m.group(2)}"
        if full not in self.repos:
            return 404, {"message": "Not Found"}
        return 200, {"id": 42, "name": m.group(2), "full_name": full, "private": False,
                     "owner": {"login": m.group(1), "id": 2, "type": "User"},
                     "url": f"{self.url}/repos/{full}", **self.repos[full]}  # fmt: skip

    def _installation_token(self, req: Recorded, m: re.Match[str]) -> Answer:
        token = req.auth.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.app_public_key, algorithms=["RS256"])
        except (jwt.PyJWTError, ValueError) as exc:
            return 401, {"message": f"A JSON web token could not be decoded: {exc}"}
        if str(claims.get("iss")) != str(self.app_id):
            return 401, {"message": "Integration not found"}
        installation_token = f"ghs_installation_{m.group(1)}"
        self.pats.add(installation_token)
        return 201, {"token": installation_token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}}
