"""Shared fixtures: mock NWB files, the test-data corpus, paths."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from conftest_clients import clients_python  # noqa: F401  (a fixture, registered by importing it here)
from conftest_interop import reference_python  # noqa: F401  (a fixture, registered by importing it here)
from conftest_stores import s3_bucket, s3_server, store_kind  # noqa: F401  (fixtures)

#: the environment variable that locates the shared test-data corpus (default: ../shared/testdata next to the repo)
TESTDATA_VARIABLE = "HDMF_ZARR_TESTDATA"
TESTDATA = Path(
    os.environ.get(TESTDATA_VARIABLE) or Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
).resolve()

warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")


@pytest.fixture
def testdata() -> Path:
    problem = corpus_problem()
    if problem:
        pytest.skip(f"{problem} (set {TESTDATA_VARIABLE} to its location)")
    return TESTDATA


@pytest.fixture
def zarr_path(tmp_path: Path) -> Path:
    return tmp_path / "test.nwb.zarr"


@pytest.fixture
def nwbfile():
    """A small NWB file with the common neurodata types."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries, mock_Units
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    mock_ElectricalSeries(nwbfile=nwb)
    nwb.add_acquisition(mock_TimeSeries(name="ts"))
    nwb.units = mock_Units()
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    nwb.add_trial(start_time=1.0, stop_time=2.0)
    return nwb


def in_ci() -> bool:
    """Whether the tests run in CI: the environment variable ``CI`` is set (to anything but 0, false, no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def corpus_problem() -> str | None:
    """Why the test-data corpus cannot be used, or None."""
    if not TESTDATA.is_dir():
        return f"the test-data corpus is not present at {TESTDATA}"
    if not (TESTDATA / "manifest.json").is_file():
        return f"{TESTDATA} is not the test-data corpus (it has no manifest.json)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # In CI the corpus tests must run: without the corpus, fail here rather than skip them all.
    problem = corpus_problem()
    if problem and in_ci():
        raise pytest.UsageError(
            f"{problem}; the environment variable CI is set, so the tests that need it may not be skipped. "
            f"Point {TESTDATA_VARIABLE} to the corpus (default: ../shared/testdata next to the repository), "
            "or unset CI to skip them."
        )
    config.addinivalue_line("markers", "slow: a slow test (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers",
        "clients: runs neuroconv and nwbinspector on our files, in a side environment built once and cached "
        "(deselect with -m 'not clients')",
    )
