"""The rules of the test command itself: in CI (``CI`` set) a missing test-data corpus fails the run instead of
skipping the tests that need it; ``HDMF_ZARR_TESTDATA`` says where the corpus is (see ``conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTDATA, TESTDATA_VARIABLE, corpus_problem

REPO = Path(__file__).resolve().parents[1]
#: a test that needs the corpus (through the ``testdata`` fixture) and runs in a second when it is there
CORPUS_TEST = "tests/test_legacy_v2.py::test_pynwb_reads_v2_files"


def _pytest(*args: str, ci: str | None, testdata: Path) -> subprocess.CompletedProcess[str]:
    """Run pytest in a subprocess, in the repository, with ``CI`` and the corpus variable as given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k not in ("CI", TESTDATA_VARIABLE)}
    env[TESTDATA_VARIABLE] = str(testdata)
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("ci", ["1", "true"])
def test_missing_corpus_fails_in_ci(tmp_path: Path, ci: str) -> None:
    missing = tmp_path / "no-corpus-here"
    done = _pytest(CORPUS_TEST, ci=ci, testdata=missing)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert str(missing) in output and TESTDATA_VARIABLE in output and "CI is set" in output, output
    assert "1 passed" not in output and "1 skipped" not in output, output  # nothing ran


def test_folder_without_manifest_is_no_corpus(tmp_path: Path) -> None:
    done = _pytest(CORPUS_TEST, ci="1", testdata=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "no manifest.json" in done.stdout + done.stderr


@pytest.mark.parametrize("ci", [None, "0", "false"])
def test_missing_corpus_skips_outside_ci(tmp_path: Path, ci: str | None) -> None:
    missing = tmp_path / "no-corpus-here"
    done = _pytest("-rs", CORPUS_TEST, ci=ci, testdata=missing)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.OK, output
    assert "1 skipped" in output and str(missing) in output and TESTDATA_VARIABLE in output, output


def test_corpus_location_comes_from_the_variable(tmp_path: Path) -> None:
    """With the variable pointing at the corpus (here through a symlink), CI runs the corpus tests from there."""
    if corpus_problem():
        pytest.skip(corpus_problem())
    link = tmp_path / "corpus"
    link.symlink_to(TESTDATA, target_is_directory=True)
    done = _pytest("--collect-only", "-q", "tests/test_interop.py", ci="1", testdata=link)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.OK, output
    assert "test_corpus_store_matches_hdf5_source[zarr_v3_hdmfzarr014/" in output, output
    done = _pytest(CORPUS_TEST, ci="1", testdata=link)
    assert done.returncode == pytest.ExitCode.OK and "1 passed" in done.stdout, done.stdout + done.stderr
