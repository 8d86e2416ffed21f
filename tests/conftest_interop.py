"""Fixtures and helpers for interoperability tests against the reference implementation.

The reference (``hdmf-zarr`` 0.14.0 from PyPI) is never a dependency of this package: it lives in a
side virtual environment that these helpers create once and cache under
``~/.cache/hdmf_zarr_tests`` (``$XDG_CACHE_HOME`` is honoured). Set ``HDMF_ZARR_REFERENCE_PYTHON`` to
the interpreter of an existing environment to use that one instead. Tests talk to the reference
only through subprocesses (``run_scripts`` / ``start_script``), never by importing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest

from _side_venv import cached_venv, file_lock, run_code, run_steps, subprocess_env, venv_steps

REFERENCE_VERSION = "0.14.0"
REFERENCE_REQUIREMENT = f"hdmf-zarr=={REFERENCE_VERSION}"
REFERENCE_PYTHON_ENV = "HDMF_ZARR_REFERENCE_PYTHON"
TESTS_DIR = Path(__file__).resolve().parent

__all__ = [
    "REFERENCE_VERSION",
    "TESTS_DIR",
    "file_lock",
    "find_reference_python",
    "reference_python",
    "start_script",
    "finish_script",
    "subprocess_env",
]


def _reference_version(python: str) -> str:
    code = "import hdmf_zarr, sys; sys.stdout.write(hdmf_zarr.__version__)"
    return run_code(python, code, "hdmf_zarr", timeout=120).strip()


def find_reference_python() -> tuple[str | None, str]:
    """``(interpreter, "")`` for an environment with the reference installed, or ``(None, reason)``.

    Creates the cached environment on first use (``python -m venv`` + ``pip install``).
    """
    override = os.environ.get(REFERENCE_PYTHON_ENV)
    if override:
        try:
            version = _reference_version(override)
        except Exception as exc:
            return None, f"{REFERENCE_PYTHON_ENV}={override} is not usable: {exc}"
        if version != REFERENCE_VERSION:
            return None, f"{REFERENCE_PYTHON_ENV}={override} has hdmf-zarr {version}, not {REFERENCE_VERSION}"
        return override, ""
    major, minor = sys.version_info[:2]
    return cached_venv(f"hdmf-zarr-{REFERENCE_VERSION}-py{major}.{minor}", _build, lambda _: REFERENCE_VERSION)


def _build(venv: Path, python: Path) -> str:
    """``python -m venv`` + ``pip install`` the reference; "" on success, else why it failed."""
    steps = venv_steps(venv, python, (f"pip install {REFERENCE_REQUIREMENT}", [REFERENCE_REQUIREMENT], None))
    problem = run_steps(steps, f"the reference environment {venv}")
    if problem:
        return problem
    try:
        version = _reference_version(str(python))
    except Exception as exc:
        return str(exc)
    return "" if version == REFERENCE_VERSION else f"{venv} has hdmf-zarr {version}, not {REFERENCE_VERSION}"


@pytest.fixture(scope="session")
def reference_python() -> str:
    """The interpreter of a side environment with the reference hdmf-zarr; skips when unavailable."""
    python, reason = find_reference_python()
    if python is None:
        pytest.skip(f"reference hdmf-zarr {REFERENCE_VERSION} is unavailable: {reason}")
    return python


def start_script(
    python: str, script: str, args: list[str], output: Path, pythonpath: str | None = None
) -> tuple[subprocess.Popen, IO[Any]]:
    """Start ``python tests/<script> ARGS`` with stdout going to ``output``; pair with ``finish_script``."""
    handle = open(output, "w")
    process = subprocess.Popen(
        [python, str(TESTS_DIR / script), *args],
        stdout=handle,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(pythonpath),
        cwd=tempfile.gettempdir(),
    )
    return process, handle


def finish_script(job: tuple[subprocess.Popen, IO[Any]], output: Path, timeout: float = 600) -> dict[str, Any]:
    """Wait for a ``start_script`` job and return the JSON it printed."""
    process, handle = job
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise RuntimeError(f"{process.args[1]} timed out after {timeout} s: {stderr[-2000:]}") from None
    finally:
        handle.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(process.args[:2])} exited with {process.returncode}: {stderr[-2000:]}")
    return json.loads(output.read_text())
