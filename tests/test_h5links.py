"""Exporting an HDF5 file that links to objects in other HDF5 files: links stay links, never dangling."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr._convert.h5links import external_links, sibling_store


def _links(store: Path, group: str) -> list[dict]:
    document = json.loads((store / group / "zarr.json").read_text())
    return document["attributes"].get("_LINKS", [])


@pytest.fixture
def linked_files(tmp_path):
    """``main.nwb``: TimeSeries "ts" whose data is a dataset of ``other.nwb`` (written by pynwb with
    link_data), and "grp", an h5py ExternalLink to a whole TimeSeries of ``other.nwb``."""
    other = mock_NWBFile(identifier="other")
    other.add_acquisition(TimeSeries(name="ts", data=np.arange(100.0), unit="m", rate=1.0))
    other.add_acquisition(TimeSeries(name="grp", data=np.arange(10.0), unit="m", rate=1.0))
    with NWBHDF5IO(tmp_path / "other.nwb", "w") as io:
        io.write(other)
    with NWBHDF5IO(tmp_path / "other.nwb", "r") as other_io:
        main = mock_NWBFile(identifier="main")
        main.add_acquisition(TimeSeries(name="ts", data=other_io.read().acquisition["ts"].data, unit="m", rate=1.0))
        with NWBHDF5IO(tmp_path / "main.nwb", "w") as io:
            io.write(main)
    with h5py.File(tmp_path / "main.nwb", "a") as handle:
        assert isinstance(handle["acquisition/ts"].get("data", getlink=True), h5py.ExternalLink)
        handle["acquisition/grp"] = h5py.ExternalLink("other.nwb", "/acquisition/grp")
    (tmp_path / "out").mkdir()
    return tmp_path / "main.nwb", tmp_path / "out" / "main.nwb.zarr"


def _export(source: Path, target: Path, write_args: dict | None = None) -> None:
    with NWBHDF5IO(source, "r") as src, NWBZarrIO(target, "w") as dst:
        dst.export(src_io=src, write_args=write_args)


def _check_data(target: Path) -> None:
    with NWBZarrIO(target, "r") as io:
        nwbfile = io.read()
        np.testing.assert_array_equal(nwbfile.acquisition["ts"].data[:], np.arange(100.0))
        np.testing.assert_array_equal(nwbfile.acquisition["grp"].data[:], np.arange(10.0))
        assert nwbfile.acquisition["grp"].unit == "m"


def test_external_links_are_found_with_their_target_file(linked_files):
    source, _ = linked_files
    found = external_links(str(source))
    other = str(source.parent / "other.nwb")
    assert found == {
        "acquisition/grp": (other, "/acquisition/grp"),
        "acquisition/ts/data": (other, "/acquisition/ts/data"),
    }


def test_linked_files_are_converted_next_to_the_new_file_and_linked(linked_files):
    """Default arguments keep HDF5 external links (link_data=True itself is refused from HDF5, as HDF5IO does)."""
    source, target = linked_files
    _export(source, target)
    sibling = Path(sibling_store(str(source.parent / "other.nwb"), str(target)))
    assert sibling == target.parent / "other.nwb.zarr" and (sibling / "zarr.json").is_file()
    assert _links(target, "acquisition") == [{"source": "../other.nwb.zarr", "path": "/acquisition/grp", "name": "grp"}]
    assert _links(target, "acquisition/ts") == [
        {"source": "../other.nwb.zarr", "path": "/acquisition/ts/data", "name": "data"}
    ]
    assert not (target / "acquisition" / "ts" / "data").exists()
    assert not (target / "acquisition" / "grp").exists()
    _check_data(target)


def test_link_data_false_copies_the_linked_objects_in(linked_files):
    source, target = linked_files
    _export(source, target, {"link_data": False})
    assert not (target.parent / "other.nwb.zarr").exists()
    assert _links(target, "acquisition") == [] and _links(target, "acquisition/ts") == []
    assert (target / "acquisition" / "ts" / "data" / "zarr.json").is_file()
    _check_data(target)


def test_an_earlier_conversion_of_the_linked_file_is_reused(linked_files):
    source, target = linked_files
    _export(source, target)
    marker = target.parent / "other.nwb.zarr" / "marker"
    marker.write_text("kept")
    _export(source, target.parent / "again.nwb.zarr")
    assert marker.read_text() == "kept"
    _check_data(target.parent / "again.nwb.zarr")


def test_something_else_in_the_sibling_place_is_not_overwritten(linked_files):
    source, target = linked_files
    (target.parent / "other.nwb.zarr").mkdir()
    (target.parent / "other.nwb.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="link_data"):
        _export(source, target)
    assert (target.parent / "other.nwb.zarr" / "notes.txt").read_text() == "mine"


def test_files_that_link_to_each_other_are_each_converted_once(linked_files):
    source, target = linked_files
    with h5py.File(source, "a") as handle:
        handle.create_group("acquisition/own")
        handle["acquisition/own/values"] = np.arange(5.0)
    with h5py.File(source.parent / "other.nwb", "a") as handle:
        del handle["acquisition/grp/data"]
        handle["acquisition/grp/data"] = h5py.ExternalLink("main.nwb", "/acquisition/own/values")
    found = external_links(str(source.parent / "other.nwb"))
    assert found == {"acquisition/grp/data": (str(source), "/acquisition/own/values")}
    _export(source, target)
    sibling = target.parent / "other.nwb.zarr"
    assert _links(sibling, "acquisition/grp") == [
        {"source": "../main.nwb.zarr", "path": "/acquisition/own/values", "name": "data"}
    ]
    with NWBZarrIO(sibling, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["grp"].data[:], np.arange(5.0))
