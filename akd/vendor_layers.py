"""The vendor layer: the libraries a project's integrations need, under its own requirements.

A project gets the pinned lines (``akd.vendor_pins``) of the integrations its connections
name, plus the common set (requests, PyYAML, beautifulsoup4, tenacity), installed once per
distinct set of lines into an environment shared by every project (and every data dir of
the OS user: ``layer_home()``) with that set::

    layer = layer_for(manifest)        # Layer(key="3f…", lines=("PyYAML==6.0.4", …))
    await ensure_venv(layer_home(), layer.key, list(layer.lines), data_dir, file="")
    runner_site_dirs(data_dir, build_requirements_hash, manifest_text)
    # -> [<the project's own venv>, <the vendor layer>]: the project's pins win

The key is the sha256 of the sorted lines, computed as ``akd.build.requirements_hash``
computes a requirements.txt's, so the layer is an ordinary environment under
``<data_dir>/venvs/<key>/`` (``akd.venvs``): ready only once fully installed, and a
requirements.txt that names exactly the same lines shares it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from akd import integrations
from akd.errors import AkdError
from akd.manifest import parse_manifest
from akd.models import Manifest
from akd.vendor_pins import COMMON, PINS

__all__ = ["Layer", "layer_for", "layer_home", "layer_key", "layer_lines", "runner_site_dirs"]


@dataclass(frozen=True)
class Layer:
    key: str
    lines: tuple[str, ...]  # sorted, each once
    integrations: tuple[str, ...]  # canonical names, sorted

    def describe(self) -> str:
        """For progress and error messages: ``"the libraries of slack (5 packages)"``."""
        names = ", ".join(self.integrations)
        what = f"the libraries of {names}" if names else "the common libraries"
        return f"{what} ({len(self.lines)} packages)"


def layer_lines(integration_names: Iterable[str]) -> tuple[str, ...]:
    """The common set plus the pins of each integration, sorted, duplicates dropped."""
    lines = set(COMMON)
    for name in integration_names:
        lines.update(PINS.get(name, ()))
    return tuple(sorted(lines))


def layer_key(lines: Iterable[str]) -> str:
    """sha256 of the sorted lines, the way ``akd.build.requirements_hash`` hashes a file's."""
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def layer_for(manifest: Manifest) -> Layer:
    """The layer a project's connections call for (the common set when it has none)."""
    names = sorted({_canonical(c.integration) for c in manifest.connections})
    lines = layer_lines(names)
    return Layer(layer_key(lines), lines, tuple(names))


def layer_home() -> Path:
    """Where vendor layers live: ``$XDG_CACHE_HOME/akd`` (``~/.cache/akd``), shared by every
    data dir of this OS user. A layer is content-addressed and never changes once ready,
    so each set is installed once per user, not once per data dir. ``$AKD_VENDOR_LAYERS``
    names another home."""
    if os.environ.get("AKD_VENDOR_LAYERS"):  # a home of its own (benchmarks of first installs)
        return Path(os.environ["AKD_VENDOR_LAYERS"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "akd"


def runner_site_dirs(data_dir: Path, requirements_hash: str | None, manifest_text: str) -> list[str]:
    """The project's own environment first, then the vendor layer under it.

    The runner puts these at the front of ``sys.path`` in this order, so a package the
    project pins itself is found in its environment before the layer's copy.
    """
    from akd.venvs import site_dirs  # not at the top: akctl imports this module, and akd.venvs loads asyncio

    own = site_dirs(data_dir, requirements_hash)
    layer = _layer_of_text(manifest_text)
    under = site_dirs(layer_home(), layer.key) if layer else []
    return own + [d for d in under if d not in own]


@functools.lru_cache(maxsize=256)
def _layer_of_text(manifest_text: str) -> Layer | None:
    # A build's manifest was valid when it was deployed; parsing is cached per text
    # because every session segment asks.
    try:
        return layer_for(parse_manifest(manifest_text))
    except AkdError:
        return None


def _canonical(name: str) -> str:
    found = integrations.find(name)
    return found.name if found else re.sub(r"[^a-z0-9_]", "", name.lower())
