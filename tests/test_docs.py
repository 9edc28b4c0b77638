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


DOCS_DIR = DOCS.parent
ROOT = DOCS_DIR.parent


def test_every_relative_link_in_the_docs_and_readme_resolves() -> None:
    import re

    for page in [ROOT / "README.md", *sorted(DOCS_DIR.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if "://" in target or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{page.name}: broken link {target}"


def test_the_webhooks_doc_lists_every_signature_scheme() -> None:
    from akd import signatures

    lines = (DOCS_DIR / "webhooks.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| `T__signature` |"))
    table = [line for line in lines[start + 2 :] if line.startswith("|")]
    table = table[: next((i for i, line in enumerate(lines[start + 2 :]) if not line.startswith("|")), len(table))]
    listed = [line.split("|")[1].strip().strip("`") for line in table]
    assert listed == list(signatures.SCHEMES), listed
    assert f"# {' | '.join(signatures.SCHEMES)}" in "\n".join(lines)
    vendors = "\n".join(lines[start:])
    assert all(f"`{name}`" in vendors for name in signatures.PRESETS), set(signatures.PRESETS)


def test_the_docs_quote_the_configured_defaults() -> None:
    from akd.config import SessionsConfig

    sessions = SessionsConfig()
    assert sessions.max_body_bytes == 512 * 1024 and "512 KiB" in (DOCS_DIR / "webhooks.md").read_text()
    assert f"sync_timeout` ({sessions.sync_timeout:.0f} s)" in (DOCS_DIR / "webhooks.md").read_text()
    assert sessions.max_step_result_bytes == 1024 * 1024 and "(1 MiB)" in (DOCS_DIR / "durability.md").read_text()
