"""The user docs say what the code does: docs/connections.md lists every integration
akd knows with the vars each auth type reads (the table akctl integration list shows)."""

from __future__ import annotations

from pathlib import Path

from akd import integrations

DOCS = Path(__file__).resolve().parents[1] / "docs" / "connections.md"


def test_the_connections_doc_lists_every_integration_and_var() -> None:
    text = DOCS.read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == set(integrations.known_names()), set(rows) ^ set(integrations.known_names())
    for name in integrations.known_names():
        for mode in integrations.REGISTRY[name].modes:
            assert f"`{mode.name}`" in rows[name], (name, mode.name)
            for var in mode.vars:
                assert f"`{var.name}`" in rows[name], (name, mode.name, var.name)
