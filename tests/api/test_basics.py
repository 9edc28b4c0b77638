"""The API in process (tests/api/inproc.py): the token, the one error body, resources that
need no running session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from akd.secrets import SecretBox
from akd.services.context import AppContext
from akd.store import projects as projects_store
from akd.store import vars as vars_store
from akd.store.vars import VarValue
from tests.api.inproc import run_app


def test_the_api_needs_the_token_and_health_does_not(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ctx: AppContext) -> list[Any]:
        wrong = await client.get("/api/v1/projects", headers={"Authorization": "Bearer nope"})
        health = await client.get("/api/v1/health", headers={"Authorization": ""})
        return [wrong.status_code, wrong.json()["error"]["code"], health.status_code, health.json()["store"]]

    assert run_app(tmp_path, scenario) == [401, "unauthenticated", 200, "sqlite"]


def test_every_error_has_the_one_body_shape(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ctx: AppContext) -> list[httpx.Response]:
        return [await client.get("/api/v1/projects/nope"), await client.get("/api/v1/no/such/route"),
                await client.post("/api/v1/deploy", content=b"not json")]  # fmt: skip

    for res in run_app(tmp_path, scenario):
        error = res.json()["error"]
        assert res.status_code in (400, 404) and set(error) >= {"code", "message"}, res.text
        assert error["message"]


def test_projects_and_their_vars_read_from_the_store(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ctx: AppContext) -> tuple[Any, Any, Any]:
        async with ctx.db.tx() as conn:
            await projects_store.upsert_project(conn, "prj_1", "alpha", "Alpha", "/src/alpha")
            secret = SecretBox(ctx.config.data_dir).encrypt("hidden")
            await vars_store.put_user_var(conn, "prj_1", VarValue("PLAIN", b"visible", False, False, ""))
            await vars_store.put_user_var(conn, "prj_1", VarValue("TOKEN", secret, True, True, ""))
        listed = (await client.get("/api/v1/projects")).json()
        shown = (await client.get("/api/v1/projects/alpha/vars")).json()
        revealed = (await client.get("/api/v1/projects/alpha/vars", params={"reveal": "true"})).json()
        return listed, shown, revealed

    listed, shown, revealed = run_app(tmp_path, scenario)
    assert [p["name"] for p in listed] == ["alpha"]
    assert {v["name"]: v["value"] for v in shown} == {"PLAIN": "visible", "TOKEN": "********"}
    assert {v["name"]: v["value"] for v in revealed}["TOKEN"] == "hidden"


def test_the_key_value_store_over_http(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ctx: AppContext) -> list[Any]:
        async with ctx.db.tx() as conn:
            await projects_store.upsert_project(conn, "prj_1", "alpha", "", "")
        put = await client.put("/api/v1/store/greeting", json={"project": "alpha", "value": {"hi": 1}})
        got = await client.get("/api/v1/store/greeting", params={"project": "alpha"})
        missing = await client.get("/api/v1/store/other", params={"project": "alpha"})
        return [put.status_code, got.json()["value"], missing.status_code]

    assert run_app(tmp_path, scenario) == [200, {"hi": 1}, 404]


def test_the_manifest_schema_is_served(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ctx: AppContext) -> Any:
        return (await client.get("/api/v1/schema/manifest")).json()

    schema = run_app(tmp_path, scenario)
    assert "properties" in schema and "project" in schema["properties"]
