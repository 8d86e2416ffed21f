"""Dask arrays as dataset data: written block by block by dask (threads or a distributed cluster)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hdmf.build import DatasetBuilder, GroupBuilder
from pynwb import TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ZarrIO
from hdmf_zarr.utils import ZarrDataIO

da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _series(data, name="ts"):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name=name, data=data, unit="a.u.", rate=10.0))
    return nwbfile


def _read_data(path, name="ts"):
    with NWBZarrIO(path, "r") as io:
        data = io.read().acquisition[name].data
        return data[...], data.chunks, data.shards


@pytest.fixture
def never_materialized(monkeypatch):
    """Fail the test if the whole dask array is ever turned into one numpy array."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the dask array was materialized whole")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    monkeypatch.setattr(da.Array, "compute", refuse)


def test_dask_array_in_zarrdataio_is_written_block_by_block(tmp_path, never_materialized):
    expected = np.arange(60_000, dtype="int32").reshape(-1, 6)
    data = da.from_array(expected, chunks=(2_500, 6))
    _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(1_000, 6))))
    values, chunks, _ = _read_data(tmp_path / "f.nwb.zarr")
    assert chunks == (1_000, 6)
    np.testing.assert_array_equal(values, expected)


def _write(path, nwbfile, **kwargs):
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile, **kwargs)


def test_blocks_that_split_zarr_chunks_are_realigned(tmp_path, never_materialized):
    """Irregular dask blocks that cut through zarr chunks are rechunked so no two tasks write one chunk."""
    expected = np.random.default_rng(0).integers(0, 1000, size=(10_007, 3)).astype("int64")
    data = da.from_array(expected, chunks=((3_333, 2_001, 4_673), (2, 1)))
    _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(1_000, 3))))
    values, chunks, _ = _read_data(tmp_path / "f.nwb.zarr")
    assert chunks == (1_000, 3)
    np.testing.assert_array_equal(values, expected)


def test_spec_dtype_applies_to_dask_data(tmp_path):
    root = GroupBuilder("root")
    root.set_dataset(DatasetBuilder("d", data=da.arange(100, chunks=30), dtype="float32"))
    with ZarrIO(tmp_path / "f.zarr", "w") as io:
        io.write_builder(root)
    meta = json.loads((tmp_path / "f.zarr" / "d" / "zarr.json").read_text())
    assert meta["data_type"] == "float32" and meta["attributes"]["_DTYPE"] == "float32"
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        np.testing.assert_array_equal(io.read_builder()["d"].data[:], np.arange(100, dtype="float32"))


def test_plain_dask_array_in_a_builder_is_written_lazily(tmp_path, never_materialized):
    root = GroupBuilder("root")
    root.set_dataset(DatasetBuilder("d", data=da.ones((50, 40), chunks=(10, 40), dtype="uint8")))
    with ZarrIO(tmp_path / "f.zarr", "w") as io:
        io.write_builder(root)
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        assert io.read_builder()["d"].data[:].sum() == 2000


def test_progress_bar_counts_the_blocks(tmp_path):
    pytest.importorskip("tqdm")
    out = io.StringIO()
    data = da.from_array(np.arange(1000.0), chunks=100)
    _write(
        tmp_path / "f.nwb.zarr",
        _series(ZarrDataIO(data, chunks=(100,))),
        progress={"file": out, "mininterval": 0, "miniters": 1},
    )
    assert "10/10" in out.getvalue()
    assert "/acquisition/ts/data" in out.getvalue()


def test_no_progress_output_by_default(tmp_path, capsys):
    data = da.from_array(np.arange(1000.0), chunks=100)
    _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(100,))))
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_distributed_cluster_writes_the_blocks(tmp_path, never_materialized):
    distributed = pytest.importorskip("distributed")
    expected = np.arange(40_000, dtype="float64").reshape(-1, 4)
    data = da.from_array(expected, chunks=(1_000, 4))
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as stream,
    ):
        _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(1_000, 4))))
    writers = [task for task in stream.data if "BlockWriter" in str(task["key"])]
    assert len(writers) == 10  # one task per block
    assert len({task["worker"] for task in writers}) == 2  # spread over both workers
    values, _, _ = _read_data(tmp_path / "f.nwb.zarr")
    np.testing.assert_array_equal(values, expected)


def test_dask_data_can_be_sharded(tmp_path):
    expected = np.arange(80_000, dtype="int16").reshape(-1, 8)
    data = da.from_array(expected, chunks=(3_000, 8))
    _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(500, 8), shards=(2_000, 8))))
    values, chunks, shards = _read_data(tmp_path / "f.nwb.zarr")
    assert (chunks, shards) == ((500, 8), (2_000, 8))
    np.testing.assert_array_equal(values, expected)
