"""Side virtual environments for tests that run other software (the reference, client tools).

Each is created once, cached under ``~/.cache/hdmf_zarr_tests`` (``$XDG_CACHE_HOME`` is honoured) and
shared by concurrent test processes through a file lock. After a failed build, sessions skip for an
hour before trying again, so an offline machine does not retry a long install in every run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

#: after a failed installation, sessions skip for this long before trying again
RETRY_AFTER_S = 3600
INSTALL_TIMEOUT_S = 900


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hdmf_zarr_tests"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def subprocess_env(pythonpath: str | None = None) -> dict[str, str]:
    """The environment for child interpreters: only ``pythonpath`` (if given) added to their path.

    Without it a child has no ``PYTHONPATH`` at all, so the reference can never import our package.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


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


def cached_venv(
    name: str, build: Callable[[Path, Path], str], ready_note: Callable[[Path], str]
) -> tuple[str | None, str]:
    """``(interpreter, "")`` of the cached environment ``name``, built by ``build(venv, python)`` on first use
    (it returns "" on success, else why it failed), or ``(None, reason)``. ``ready_note(python)`` is kept
    in the environment once it is ready."""
    venv = cache_root() / name
    python = venv_python(venv)
    ready, failed = venv / ".ready", cache_root() / f"{name}.failed"
    with file_lock(cache_root() / f"{name}.lock"):
        if ready.exists() and python.exists():
            return str(python), ""
        if failed.exists() and time.time() - failed.stat().st_mtime < RETRY_AFTER_S:
            return (
                None,
                f"{failed.read_text()} (not retried before {RETRY_AFTER_S // 60} min; delete {failed} to retry)",
            )
        problem = build(venv, python)
        if problem:
            failed.write_text(problem)
            return None, problem
        failed.unlink(missing_ok=True)
        ready.write_text(ready_note(python))
    return str(python), ""


def run_steps(steps: Sequence[tuple[str, list[str], Path | None]], what: str) -> str:
    """Run install ``steps`` (label, command, log file or None) in order; "" on success, else why not."""
    for label, command, log in steps:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=subprocess_env()
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot set up {what} ({label}): {exc}"
        if log is not None:
            log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            return f"`{label}` failed for {what} (no network or pip failure): {tail}"
    return ""


def venv_steps(venv: Path, python: Path, *installs: tuple[str, list[str], Path | None]) -> list:
    """``python -m venv`` then each ``(label, pip arguments, log)`` as a pip install into that environment."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--retries", "1", "--timeout", "30"]
    steps = [("python -m venv", [base, "-m", "venv", "--clear", str(venv)], None)]
    steps += [(label, [*pip, *arguments], log) for label, arguments, log in installs]
    return steps


def run_code(python: str, code: str, what: str, timeout: float = 300) -> str:
    """What ``python -c code`` prints, run outside the repository; RuntimeError naming ``what`` when it fails."""
    import tempfile

    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=timeout, env=subprocess_env(),
        cwd=tempfile.gettempdir(),
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{python} cannot import {what}: {done.stderr.strip()[-800:]}")
    return done.stdout
