"""A Temporal server that akd does not start, standing in for an existing cluster, and
the akd nodes that share it and one store (docs/scale-out.md)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.client import Client

from tests.e2e.harness import Akd

TEMPORAL = Path(sys.executable).parent / "temporal"
NAMESPACE = "akd-ext"
TOKEN = "multi-node-token-0123456789abcdef"  # every node of a cluster takes the same API token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connect(address: str, **kw: object) -> Client:
    """A client of the cluster, retried while it is starting (30 s)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            return await Client.connect(address, namespace=NAMESPACE, **kw)  # type: ignore[arg-type]
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextmanager
def temporal_cluster() -> Iterator[str]:
    """``temporal server start-dev`` on free ports (in memory); yields its address."""
    port = free_port()
    proc = subprocess.Popen(
        [str(TEMPORAL), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
         "--http-port", str(free_port()), "--metrics-port", str(free_port()),
         "--namespace", NAMESPACE, "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        asyncio.run(connect(address))
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def node_env(name: str, store_url: str, address: str, *, worker: bool = True) -> dict[str, str]:
    """The settings of the node ``name`` of a cluster: the shared store, Temporal and token, its own name."""
    return {
        "AKD_STORE_URL": store_url, "AKD_TEMPORAL_ADDRESS": address, "AKD_TEMPORAL_NAMESPACE": NAMESPACE,
        "AKD_SERVER_TOKEN": TOKEN, "AKD_SERVER_NODE": name, "AKD_SERVER_WORKER": "true" if worker else "false",
    }  # fmt: skip


def cluster_node(
    root: Path, name: str, store_url: str, address: str, key_from: Akd | None = None, *, worker: bool = True
) -> Akd:
    """The akd ``name`` (its data dir ``root/name``) on the store ``store_url`` and the
    Temporal at ``address``, started; ``worker=False`` makes an API-only node.

    The first node of a store makes its secret key (at its first secret); every later one
    must start with a copy of it, taken from ``key_from``.
    """
    node = Akd(root / name)
    node.env.update(node_env(name, store_url, address, worker=worker))
    if key_from is not None:
        node.data_dir.mkdir(parents=True)
        shutil.copy2(key_from.data_dir / "secret.key", node.data_dir / "secret.key")
    node.up()
    return node
