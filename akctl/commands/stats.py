"""``akctl stats``: session figures from the stored records."""

from __future__ import annotations

from typing import Any

import click

from akctl import render
from akctl.app import App, common
from akctl.durations import DURATION
from akctl.render import escape


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _row(name: str, s: dict[str, Any]) -> list[str]:
    st = s["by_state"]
    d = s["duration"]
    steps = "-" if s["steps_per_session"] is None else f"{s['steps_per_session']:.1f}"
    return [name, str(s["sessions"]), str(st["completed"]), str(st["error"]), str(st["stopped"]),
            str(st["running"] + st["created"]), _pct(s["success_rate"]), render.human_duration(d["p50"]),
            render.human_duration(d["p95"]), render.human_duration(d["max"]), steps]  # fmt: skip


def show(report: dict[str, Any], projects: dict[str, str]) -> None:
    """The report as tables; ``projects`` names each deployment's project."""
    cols = ("", "SESSIONS", "OK", "ERROR", "STOPPED", "LIVE", "SUCCESS", "P50", "P95", "MAX", "STEPS")
    t = render.table(*cols)
    t.add_row(*_row("[bold]all[/]", report["total"]))
    for name, s in report["by_project"].items():
        t.add_row(*_row(f"project {escape(name)}", s))
    render.out.print(t)
    if report["by_deployment"]:
        # Fewer columns, so the full deployment ids fit in 100 columns.
        keep = (1, 2, 3, 4, 6, 7, 8)
        d = render.table("DEPLOYMENT", "PROJECT", *(cols[i] for i in keep))
        for name, s in report["by_deployment"].items():
            row = _row(name, s)
            d.add_row(name, escape(projects.get(name, "?")), *(row[i] for i in keep))
        render.out.print()
        render.out.print(d)
    if report["busiest_triggers"]:
        render.out.print()
        b = render.table("BUSIEST TRIGGERS", "SESSIONS")
        for item in report["busiest_triggers"]:
            b.add_row(escape(item["trigger"]), str(item["sessions"]))
        render.out.print(b)


def register(cli: click.Group) -> None:
    @cli.command("stats")
    @click.option("--project", "-p", default="", help="Only this project.")
    @click.option("--deployment", default="", help="Only this deployment.")
    @click.option("--since", type=DURATION, default=None, help="Only sessions created in this window, e.g. 24h.")
    @common
    def stats_cmd(app: App, project: str, deployment: str, since: float | None) -> None:
        """Sessions by state, success rate, duration p50/p95/max, steps per session, busiest triggers.

        \b
        Example:
          akctl stats --project hello --since 24h
        """
        report = app.client.get("/stats", project=project, deployment=deployment,
                                since=int(since) if since else None)  # fmt: skip
        if app.as_json:
            render.print_json(report)
            return
        projects = {}
        if report["by_deployment"]:
            rows = app.client.get("/deployments", project=project)
            projects = {r["deployment_id"]: r["project"] for r in rows}
        show(report, projects)
