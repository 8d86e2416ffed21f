"""A side environment with this package and the tools people run on NWB files (neuroconv, nwbinspector).

The clients are never imported by the test process: ``clients_python`` is the interpreter of a side
virtual environment, created once and cached under ``~/.cache/hdmf_zarr_tests`` (``$XDG_CACHE_HOME`` is
honoured), and the tests run ``tests/_clients_probe.py`` in it. It is built the way a user gets there:

1. ``pip install -e <this repository>``;
2. ``pip install neuroconv==... nwbinspector==...``, which must keep this package (the log of that step
   is kept in the environment as ``install-clients.log`` for the packaging tests);
3. ``sitecustomize.py``: neuroconv 0.10.2 reads ``zarr.codec_registry``, a zarr 2 name that zarr 3
   removed, so it does not import under zarr 3 whatever the backend. The shim restores that one name
   in the side environment only; it is scaffolding for the client's bug, not part of this package.

The cache is keyed by this package's version, its dependencies, the client requirements, the shim and
the repository path, so a change to any of them builds a fresh environment. Set
``HDMF_ZARR_CLIENTS_PYTHON`` to the interpreter of an existing environment to use that one instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from _side_venv import cached_venv, run_code, run_steps, subprocess_env, venv_steps

REPO = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO / "tests"
CLIENT_REQUIREMENTS = ("neuroconv==0.10.2", "nwbinspector==0.7.2")
CLIENTS_PYTHON_ENV = "HDMF_ZARR_CLIENTS_PYTHON"
CLIENTS_LOG = "install-clients.log"

#: restores ``zarr.codec_registry`` (zarr 2 API) for neuroconv 0.10.2; installed in the side environment only
SHIM = '''\
"""Test scaffolding from hdmf_zarr's test suite (tests/conftest_clients.py), not part of any package.

neuroconv 0.10.2 reads ``zarr.codec_registry``, which zarr 3 removed; this restores that one name.
"""
try:
    import numcodecs.registry
    import zarr

    if not hasattr(zarr, "codec_registry"):
        zarr.codec_registry = numcodecs.registry.codec_registry
except Exception:  # a broken zarr must not break the interpreter
    pass
'''

__all__ = ["CLIENT_REQUIREMENTS", "CLIENTS_LOG", "clients_python", "find_clients_python", "run_probe"]


def _our_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _venv_key() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    key = {
        "version": project["version"],
        "dependencies": project.get("dependencies", []),
        "clients": CLIENT_REQUIREMENTS,
        "shim": SHIM,
        "repo": str(REPO),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


_CHECK = """
import importlib.metadata as md, json, sys
import hdmf_zarr
out = {"hdmf_zarr": hdmf_zarr.__file__, "version": hdmf_zarr.__version__}
for name in ("neuroconv", "nwbinspector", "zarr", "numcodecs", "hdmf", "pynwb"):
    out[name] = md.version(name)
import neuroconv.tools.nwb_helpers, nwbinspector  # both import (neuroconv needs the shim under zarr 3)
sys.stdout.write(json.dumps(out))
"""


def describe_environment(python: str) -> dict[str, str]:
    """Versions of this package, the clients and their Zarr stack in ``python``; raises when unusable."""
    return json.loads(run_code(python, _CHECK, "hdmf_zarr and the clients"))


def _check_environment(python: str) -> str:
    """An empty string when ``python`` runs this repository's package and the pinned clients, else why not."""
    try:
        found = describe_environment(python)
    except Exception as exc:
        return str(exc)
    if not Path(found["hdmf_zarr"]).resolve().is_relative_to(REPO / "src"):
        return f"{python} imports hdmf_zarr from {found['hdmf_zarr']}, not from {REPO / 'src'}"
    for requirement in CLIENT_REQUIREMENTS:
        name, version = requirement.split("==")
        if found[name] != version:
            return f"{python} has {name} {found[name]}, not {version}"
    return ""


def find_clients_python() -> tuple[str | None, str]:
    """``(interpreter, "")`` for the side environment with this package and the clients, or ``(None, reason)``."""
    override = os.environ.get(CLIENTS_PYTHON_ENV)
    if override:
        problem = _check_environment(override)
        return (None, f"{CLIENTS_PYTHON_ENV}={override} is not usable: {problem}") if problem else (override, "")
    major, minor = sys.version_info[:2]
    name = f"clients-{_our_version()}-py{major}.{minor}-{_venv_key()}"
    return cached_venv(name, _build, lambda python: json.dumps(describe_environment(str(python))))


def _build(venv: Path, python: Path) -> str:
    """Create the side environment; "" on success, else the reason it failed."""
    steps = venv_steps(
        venv,
        python,
        (f"pip install -e {REPO}", ["-e", str(REPO)], None),
        (f"pip install {' '.join(CLIENT_REQUIREMENTS)}", list(CLIENT_REQUIREMENTS), venv / CLIENTS_LOG),
    )
    problem = run_steps(steps, f"the clients environment {venv}")
    if problem:
        return problem
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
    )
    if site.returncode != 0:
        return f"cannot locate site-packages of {venv}: {site.stderr.strip()[-300:]}"
    (Path(site.stdout.strip()) / "sitecustomize.py").write_text(SHIM)
    return _check_environment(str(python))


@pytest.fixture(scope="session")
def clients_python() -> str:
    """The interpreter of the side environment with this package, neuroconv and nwbinspector; skips if unavailable."""
    python, reason = find_clients_python()
    if python is None:
        pytest.skip(f"the clients environment ({', '.join(CLIENT_REQUIREMENTS)}) is unavailable: {reason}")
    return python


def run_probe(python: str, *args: str, timeout: float = 600) -> Any:
    """Run ``python tests/_clients_probe.py ARGS`` and return the JSON it prints (raises with its stderr)."""
    done = subprocess.run(
        [python, str(TESTS_DIR / "_clients_probe.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"_clients_probe.py {' '.join(args[:1])} exited with {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
