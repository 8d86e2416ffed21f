"""File modes, overwriting, and changing files in r+ / a."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from hdmf.backends.errors import UnsupportedOperation
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ZarrIO


def _write(path, nwbfile=None, mode="w", **kwargs):
    nwbfile = nwbfile or mock_NWBFile()
    with NWBZarrIO(path, mode, **kwargs) as io:
        io.write(nwbfile)
    return nwbfile


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_create_writes_a_new_file(zarr_path, mode):
    nwbfile = _write(zarr_path, mode=mode)
    with NWBZarrIO(zarr_path, "r") as io:
        assert io.read().identifier == nwbfile.identifier


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_create_refuses_existing_path(zarr_path, mode):
    first = _write(zarr_path)
    before = _files(zarr_path)
    with pytest.raises(FileExistsError):
        NWBZarrIO(zarr_path, mode)
    assert _files(zarr_path) == before  # not a byte changed
    with NWBZarrIO(zarr_path, "r") as io:
        assert io.read().identifier == first.identifier


def _files(folder):
    """``{relative path: contents}`` of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_w_replaces_an_existing_zarr_file(zarr_path):
    _write(zarr_path)
    second = _write(zarr_path)
    with NWBZarrIO(zarr_path, "r") as io:
        assert io.read().identifier == second.identifier


def test_w_refuses_a_plain_file_unless_forced(tmp_path):
    path = tmp_path / "data.nwb"
    path.write_bytes(b"not zarr")
    with pytest.raises(FileExistsError, match="force_overwrite"):
        NWBZarrIO(path, "w")
    assert path.read_bytes() == b"not zarr"
    nwbfile = _write(path, force_overwrite=True)
    with NWBZarrIO(path, "r") as io:
        assert io.read().identifier == nwbfile.identifier


def test_w_refuses_a_non_zarr_folder_unless_forced(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a Zarr store"):
        ZarrIO(folder, "w")
    assert (folder / "keep.txt").read_text() == "precious"
    ZarrIO(folder, "w", force_overwrite=True).close()
    assert not (folder / "keep.txt").exists()


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_missing_path_raises_file_not_found(tmp_path, mode):
    with pytest.raises(FileNotFoundError, match="no such file"):
        NWBZarrIO(tmp_path / "absent.zarr", mode)


def test_folder_that_is_not_zarr_is_refused_on_read(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(ValueError, match="not a Zarr store") as raised:
        ZarrIO(folder, "r")
    # also what zarr's own "group not found" is, and what tutorials catch: an OSError naming the path
    assert isinstance(raised.value, FileNotFoundError) and isinstance(raised.value, OSError)
    assert raised.value.filename == str(folder) and str(folder) in str(raised.value)


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_missing_path_is_a_file_not_found_error_naming_it(tmp_path, mode):
    path = tmp_path / "absent.nwb.zarr"
    with pytest.raises(FileNotFoundError, match="absent.nwb.zarr") as raised:
        NWBZarrIO(path, mode)
    assert raised.value.filename == str(path)


def test_root_group_is_open_from_open_to_close(zarr_path, nwbfile):
    with NWBZarrIO(zarr_path, "w") as io:
        assert isinstance(io._file, zarr.Group) and io.file is io._file
        io.write(nwbfile)
        assert isinstance(io._file, zarr.Group) and io.file is io._file
    assert io._file is None and io.file is None and not io.is_open()
    for mode in ("r", "r+", "a"):
        io = NWBZarrIO(zarr_path, mode)
        assert isinstance(io.file, zarr.Group)
        # neuroconv tells arrays read from the file it appends to by their store, and its path (zarr 2's name)
        data = io.read().acquisition["ts"].data
        assert data.store == io.file.store and data.store.path == str(zarr_path.resolve())
        io.close()
        assert io.file is None


def test_append_mode_creates_a_missing_file(zarr_path):
    nwbfile = _write(zarr_path, mode="a")
    with NWBZarrIO(zarr_path, "r") as io:
        assert io.read().identifier == nwbfile.identifier


def test_read_only_mode_refuses_write(zarr_path):
    _write(zarr_path)
    with NWBZarrIO(zarr_path, "r") as io:
        with pytest.raises(UnsupportedOperation):
            io.write(mock_NWBFile())


def test_read_in_write_mode_is_refused(zarr_path):
    with NWBZarrIO(zarr_path, "w") as io:
        with pytest.raises(UnsupportedOperation):
            io.read()


def test_invalid_mode_is_refused(zarr_path):
    with pytest.raises(ValueError, match="Invalid mode"):
        ZarrIO(zarr_path, "q")


@pytest.mark.parametrize("mode", ["a", "r+"])
def test_modify_adds_rows_and_containers_and_reconsolidates(zarr_path, mode):
    nwbfile = mock_NWBFile()
    nwbfile.add_trial(start_time=0.0, stop_time=1.0)
    _write(zarr_path, nwbfile)
    with NWBZarrIO(zarr_path, mode) as io:
        read = io.read()
        read.add_trial(start_time=2.0, stop_time=3.0)
        read.add_acquisition(mock_TimeSeries(name="added"))
        io.write(read)
    consolidated = json.loads((zarr_path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    assert "acquisition/added/data" in consolidated
    assert consolidated["intervals/trials/start_time"]["shape"] == [2]
    with NWBZarrIO(zarr_path, "r") as io:
        read = io.read()
        assert read.trials["stop_time"][:].tolist() == [1.0, 3.0]
        np.testing.assert_array_equal(read.acquisition["added"].data[:], mock_TimeSeries(name="x").data)


def test_append_to_dataset_is_visible_to_next_reader(zarr_path):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(4.0), rate=1.0))
    _write(zarr_path, nwbfile)
    with NWBZarrIO(zarr_path, "a") as io:
        data = io.read().acquisition["ts"].data
        data.append(np.array([4.0, 5.0]))
    with NWBZarrIO(zarr_path, "r") as io:
        assert io.read().acquisition["ts"].data[:].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_w_on_a_store_object_replaces_its_hierarchy():
    from zarr.storage import MemoryStore

    store = MemoryStore()
    _write(store, mock_NWBFile(session_description="first"))
    second = _write(store, mock_NWBFile(session_description="second"))
    with NWBZarrIO(store, "r") as io:
        read = io.read()
        assert read.session_description == "second"
        assert read.identifier == second.identifier
