"""A Temporal server that akd does not start, standing in for an existing cluster."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.client import Client

TEMPORAL = Path(sys.executable).parent / "temporal"
NAMESPACE = "akd-ext"


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
