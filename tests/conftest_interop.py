"""Fixtures and helpers for interoperability tests against the reference implementation.

The reference (``hdmf-zarr`` 0.14.0 from PyPI) is never a dependency of this package: it lives in a
side virtual environment that these helpers create once and cache under
``~/.cache/hdmf_zarr_tests`` (``$XDG_CACHE_HOME`` is honoured). Set ``HDMF_ZARR_REFERENCE_PYTHON`` to
the interpreter of an existing environment to use that one instead. Tests talk to the reference
only through subprocesses (``run_scripts`` / ``start_script``), never by importing it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

REFERENCE_VERSION = "0.14.0"
REFERENCE_REQUIREMENT = f"hdmf-zarr=={REFERENCE_VERSION}"
REFERENCE_PYTHON_ENV = "HDMF_ZARR_REFERENCE_PYTHON"
TESTS_DIR = Path(__file__).resolve().parent
INSTALL_TIMEOUT_S = 600
#: after a failed installation, sessions skip for this long before trying again
RETRY_AFTER_S = 3600

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


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hdmf_zarr_tests"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (POSIX ``flock``; a no-op where fcntl does not exist)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def subprocess_env(pythonpath: str | None = None) -> dict[str, str]:
    """The environment for child interpreters: only ``pythonpath`` (if given) added to their path.

    The reference runs with no ``PYTHONPATH`` at all, so it can never import our package.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _reference_version(python: str) -> str:
    code = "import hdmf_zarr, sys; sys.stdout.write(hdmf_zarr.__version__)"
    done = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} cannot import hdmf_zarr: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


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
    venv = _cache_root() / f"hdmf-zarr-{REFERENCE_VERSION}-py{major}.{minor}"
    python = _venv_python(venv)
    ready = venv / ".ready"
    failed = _cache_root() / f"{venv.name}.failed"
    with file_lock(_cache_root() / f"{venv.name}.lock"):
        if ready.exists() and python.exists():
            return str(python), ""
        if failed.exists() and time.time() - failed.stat().st_mtime < RETRY_AFTER_S:
            return (
                None,
                f"{failed.read_text()} (not retried before {RETRY_AFTER_S // 60} min; delete {failed} to retry)",
            )
        python_or_none, reason = _create_reference_venv(venv, python)
        if python_or_none is None:
            failed.write_text(reason)
            return None, reason
        failed.unlink(missing_ok=True)
        ready.write_text(REFERENCE_VERSION)
    return str(python), ""


def _create_reference_venv(venv: Path, python: Path) -> tuple[str | None, str]:
    """``python -m venv`` + ``pip install`` the reference; ``(interpreter, "")`` or ``(None, reason)``."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--retries", "1"]
    steps = [[base, "-m", "venv", "--clear", str(venv)], [*pip, "--timeout", "30", REFERENCE_REQUIREMENT]]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=subprocess_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"cannot set up the reference environment ({' '.join(step[:4])}): {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return (
                None,
                f"cannot install {REFERENCE_REQUIREMENT} into {venv} (no network or pip failure): " + " | ".join(tail),
            )
    try:
        version = _reference_version(str(python))
    except Exception as exc:
        return None, str(exc)
    if version != REFERENCE_VERSION:
        return None, f"{venv} has hdmf-zarr {version}, not {REFERENCE_VERSION}"
    return str(python), ""


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
