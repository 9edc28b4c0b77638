"""akd.api's exception handlers: who reads the text of an unexpected error."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from akd.app import on_database_error, on_unexpected

SECRET_TEXT = "/home/me/.local/share/akd/builds/bld_1/program.py line 7: token=abc"


def request(method: str, path: str) -> Request:
    return Request({
        "type": "http", "method": method, "path": path, "root_path": "", "query_string": b"", "headers": [],
        "scheme": "http", "server": ("127.0.0.1", 9980),
    })  # fmt: skip


def answer(resp: Response) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(bytes(resp.body))["error"]
    return error


@pytest.mark.parametrize("path", ["/webhooks/abc", "/login", "/sessions", "/api/v1/health"])
def test_public_routes_get_an_error_id_and_no_internals(path: str, caplog: pytest.LogCaptureFixture) -> None:
    resp = asyncio.run(on_unexpected(request("POST", path), RuntimeError(SECRET_TEXT)))
    assert resp.status_code == 500
    err = answer(resp)
    assert SECRET_TEXT not in json.dumps(err) and "RuntimeError" not in json.dumps(err)
    ident = err["details"]["error_id"]
    assert err["code"] == "internal" and ident in err["message"] and ident.startswith("err_")
    logged = [r for r in caplog.records if ident in r.getMessage()]
    assert logged and logged[0].exc_info is not None and SECRET_TEXT in str(logged[0].exc_info[1])


def test_token_holders_read_the_details() -> None:
    err = answer(asyncio.run(on_unexpected(request("GET", "/api/v1/sessions"), RuntimeError(SECRET_TEXT))))
    assert SECRET_TEXT in err["message"] and "RuntimeError" in err["message"]


def test_database_errors_keep_their_advice_but_not_the_sqlite_text_for_public_callers() -> None:
    exc = sqlite3.OperationalError("database or disk is full")
    public = answer(asyncio.run(on_database_error(request("POST", "/webhooks/abc"), exc)))
    assert "free disk space" in public["message"] and "database or disk is full" not in public["message"]
    private = answer(asyncio.run(on_database_error(request("POST", "/api/v1/events"), exc)))
    assert "database or disk is full" in private["message"]
