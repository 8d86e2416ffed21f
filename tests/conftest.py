"""Shared fixtures: mock NWB files, the test-data corpus, paths."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from conftest_clients import clients_python  # noqa: F401  (a fixture, registered by importing it here)
from conftest_interop import reference_python  # noqa: F401  (a fixture, registered by importing it here)
from conftest_stores import s3_bucket, s3_server, store_kind  # noqa: F401  (fixtures)

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"

warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")


@pytest.fixture
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.skip(f"the shared test-data corpus is not present at {TESTDATA}")
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a slow test (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers",
        "clients: runs neuroconv and nwbinspector on our files, in a side environment built once and cached "
        "(deselect with -m 'not clients')",
    )
