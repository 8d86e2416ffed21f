"""Consolidated metadata that disagrees with the nodes, and chunks that went missing: errors, never other data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.errors import InconsistentMetadataError, MissingChunkError
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DATA = np.vstack([np.zeros((30, 4)), np.arange(280.0).reshape(70, 4)])  # the first three chunks are fill values


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("consistency") / "f.nwb.zarr"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(DATA, chunks=(10, 4))))
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)
    return path


@pytest.fixture
def copy(written, tmp_path) -> Path:
    target = tmp_path / "f.nwb.zarr"
    shutil.copytree(written, target)
    return target


def _data(path: Path, mode: str = "r"):
    with NWBZarrIO(str(path), mode) as io:
        return io.read().acquisition["ts"].data[:]


def _edit_node(path: Path, key: str, change) -> None:
    document = path / key / "zarr.json"
    meta = json.loads(document.read_text())
    change(meta)
    document.write_text(json.dumps(meta))


def test_every_chunk_is_stored_and_recorded(copy):
    meta = json.loads((copy / "acquisition/ts/data/zarr.json").read_text())
    assert meta["hdmf_zarr.stored_chunks"] == {"must_understand": False, "shape": [100, 4]}
    assert sorted(os.listdir(copy / "acquisition/ts/data/c")) == [str(i) for i in range(10)]
    np.testing.assert_array_equal(_data(copy), DATA)


@pytest.mark.parametrize("chunk", ["0/0", "5/0"])
def test_a_deleted_chunk_is_an_error_not_fill_values(copy, chunk):
    os.remove(copy / "acquisition/ts/data/c" / chunk)
    for mode in ("r", "r-"):
        with pytest.raises(MissingChunkError, match=f"'/acquisition/ts/data'.*'c/{chunk}'"):
            _data(copy, mode)


def test_chunks_beyond_the_recorded_shape_may_be_absent(copy):
    def grow(meta):
        meta["shape"] = [120, 4]  # as zarr's resize leaves it: the record keeps the shape written in full

    _edit_node(copy, "acquisition/ts/data", grow)
    values = _data(copy, "r-")
    np.testing.assert_array_equal(values[:100], DATA)
    assert not values[100:].any()


@pytest.mark.parametrize(
    "change",
    [
        lambda meta: meta.update(shape=[50, 4]),
        lambda meta: meta.update(data_type="float32"),
        lambda meta: meta.update(codecs=meta["codecs"][:1]),
        lambda meta: meta.update(fill_value=1.0),
    ],
    ids=["shape", "data_type", "codecs", "fill_value"],
)
def test_a_node_that_disagrees_with_the_consolidated_metadata_is_named(copy, change):
    _edit_node(copy, "acquisition/ts/data", change)
    with pytest.raises(InconsistentMetadataError, match=r"'/acquisition/ts/data'.*hdmf-zarr repair"):
        _data(copy)


def test_a_node_deleted_after_consolidation_is_named(copy):
    shutil.rmtree(copy / "acquisition/ts/data")
    with pytest.raises(InconsistentMetadataError, match="zarr.json is gone"):
        _data(copy)


def test_the_node_document_is_read_once_per_array(copy):
    with NWBZarrIO(str(copy), "r") as io:
        data = io.read().acquisition["ts"].data
        data[:10]
        os.remove(copy / "acquisition/ts/data/zarr.json")  # checked already: later reads need only chunks
        np.testing.assert_array_equal(data[10:], DATA[10:])
