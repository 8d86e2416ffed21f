"""The same round trips on every kind of store: local folder, .zip path, ZipStore, MemoryStore,
an s3:// URL, an FsspecStore and an ObjectStore (the last three on a real S3 server on 127.0.0.1)."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr._roundtrip import RoundTripCheck
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _write(kind, nwbfile, mode="w"):
    path, kwargs = kind.open(mode)
    with NWBZarrIO(path, mode, **kwargs) as io:
        io.write(nwbfile)


def test_write_then_read_matches_the_original(store_kind, nwbfile):
    _write(store_kind, nwbfile)
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert RoundTripCheck().run(nwbfile, read) == []


def _add_series(kind, mode, name, data):
    path, kwargs = kind.open(mode)
    with NWBZarrIO(path, mode, **kwargs) as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name=name, data=data))
        io.write(nwbfile)


def _small_file():
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="first"))
    return nwbfile


def _check_append(kind, mode):
    nwbfile = _small_file()
    _write(kind, nwbfile)
    _add_series(kind, mode, "added", np.arange(7.0))
    path, kwargs = kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert set(read.acquisition) == {"first", "added"}
        np.testing.assert_array_equal(read.acquisition["added"].data[:], np.arange(7.0))
        differences = RoundTripCheck().run(nwbfile, read)
        assert differences and all("added" in text for text in differences)  # the original lacks only that series


def test_append_mode_adds_objects(store_kind):
    _check_append(store_kind, "a")


@pytest.mark.parametrize("store_kind", ["folder", "zipstore", "s3-url"], indirect=True)
def test_r_plus_mode_adds_objects(store_kind):
    _check_append(store_kind, "r+")


def test_mode_w_replaces_what_was_there(store_kind):
    _write(store_kind, _small_file())
    second = mock_NWBFile()
    second.add_acquisition(mock_TimeSeries(name="only"))
    _write(store_kind, second)
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert set(read.acquisition) == {"only"}
        assert read.identifier == second.identifier


def test_big_arrays_are_streamed_into_every_store(store_kind):
    """Arrays above the in-memory batch size take the chunk-streaming path (threads writing to the store)."""
    data = np.random.default_rng(3).standard_normal((300_000, 4))  # ~9.6 MB
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="big", data=ZarrDataIO(data, chunks=(20_000, 4))))
    _write(store_kind, nwbfile)
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        np.testing.assert_array_equal(io.read().acquisition["big"].data[:], data)


def test_exclusive_create_refuses_an_existing_file(store_kind):
    _write(store_kind, _small_file())
    path, kwargs = store_kind.open("w-")
    with pytest.raises(FileExistsError):
        NWBZarrIO(path, "w-", **kwargs)
