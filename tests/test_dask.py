"""Dask arrays as dataset data: written block by block by dask (threads or a distributed cluster)."""

from __future__ import annotations

import io
import json
import os
import threading
import weakref

import numpy as np
import pytest
from hdmf.build import DatasetBuilder, GroupBuilder
from pynwb import TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ZarrIO
from hdmf_zarr._write import dask as _dask
from hdmf_zarr.utils import ZarrDataIO

dask = pytest.importorskip("dask")
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


# ------------------------------------------------------------------ memory: a few blocks at a time
class LiveBlocks:
    """A ``map_blocks`` function whose blocks count themselves while they are alive."""

    def __init__(self, columns):
        self.columns = columns
        self.lock = threading.Lock()
        self.alive = self.peak = self.made = 0

    def __call__(self, block_info=None):
        (start, stop), _ = block_info[None]["array-location"]
        block = np.add.outer(np.arange(start, stop) * self.columns, np.arange(self.columns))  # owns its data
        with self.lock:
            self.alive += 1
            self.made += 1
            self.peak = max(self.peak, self.alive)
        weakref.finalize(block, self.released)
        return block

    def released(self):
        with self.lock:
            self.alive -= 1


@pytest.mark.parametrize(
    ("scheduler", "workers", "chunks"),
    [
        ("synchronous", 1, (1_875, 8)),  # chunks cut by the block edges: they straddle blocks
        ("threads", 2, (1_875, 8)),
        ("threads", 2, (1_024, 16)),  # chunks inside the blocks
    ],
)
def test_a_block_is_alive_only_while_its_task_runs(tmp_path, scheduler, workers, chunks):
    """Each dask block feeds one write task, so at most one block per worker is in memory at once.

    Rechunking the blocks to the chunks (the earlier way) needs two neighbouring blocks at once for
    every rechunked block, and dask's order then leaves more waiting; here blocks are computed in
    array order and the chunks that straddle two blocks are put together from small copies.
    """
    rows, block_rows = 65_536, 4_096
    source = LiveBlocks(16)
    data = da.map_blocks(source, chunks=((block_rows,) * (rows // block_rows), (16,)), dtype="int64")
    with dask.config.set(scheduler=scheduler, num_workers=workers):
        _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=chunks)))
    assert source.made == rows // block_rows  # every block computed once
    assert source.peak <= workers
    values, stored, _ = _read_data(tmp_path / "f.nwb.zarr")
    assert stored == chunks
    np.testing.assert_array_equal(values, np.arange(rows * 16).reshape(-1, 16))


def test_default_local_pool_holds_few_blocks(tmp_path):
    """Unless dask's config says otherwise, the local pool runs only as many tasks as keep the cores busy:
    one, when a block holds a chunk per core (zarr encodes the chunks of a call on its own threads)."""
    import zarr

    source = LiveBlocks(64)
    data = da.map_blocks(source, chunks=((2_048,) * 16, (64,)), dtype="int64")  # 1 MiB blocks, 16 chunks each
    _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(1_000, 8))))
    cores = os.cpu_count() or 1
    assert source.peak <= -(-cores // min(cores, zarr.config.get("async.concurrency"), 16))
    values, _, _ = _read_data(tmp_path / "f.nwb.zarr")
    np.testing.assert_array_equal(values, np.arange(32_768 * 64).reshape(-1, 64))


def test_irregular_blocks_and_chunks_are_each_written_once(tmp_path):
    """Random block and chunk shapes in 1 to 3 dimensions: every element lands in exactly one write, and
    the stored array equals the source (spec dtype conversion and shards included)."""
    rng = np.random.default_rng(7)

    def sizes(n):
        out = []
        while sum(out) < n:
            out.append(min(int(rng.integers(0, n // 2 + 2)), n - sum(out)))
        return tuple(out)

    for trial in range(25):
        shape = tuple(int(rng.integers(1, 25)) for _ in range(int(rng.integers(1, 4))))
        blocks = tuple(sizes(n) for n in shape)
        chunks = tuple(int(rng.integers(1, n + 4)) for n in shape)
        plans, cells = _dask.plan_writes(blocks, chunks)
        cover = np.zeros(shape, dtype=int)
        for box in [plan.interior for plan in plans if plan.interior] + [cell.box for cell in cells]:
            cover[tuple(slice(a, b) for a, b in box)] += 1
        assert (cover == 1).all(), (shape, blocks, chunks)

        expected = rng.integers(0, 1_000, size=shape).astype("int32")
        options = {"chunks": chunks}
        if trial % 3 == 0:
            options["shards"] = tuple(c * int(rng.integers(1, 3)) for c in chunks)
        root = GroupBuilder("root")
        dtype = "int64" if trial % 2 else None
        root.set_dataset(
            DatasetBuilder("d", data=ZarrDataIO(da.from_array(expected, chunks=blocks), **options), dtype=dtype)
        )
        path = tmp_path / f"f{trial}.zarr"
        with ZarrIO(path, "w") as io:
            io.write_builder(root)
        with ZarrIO(path, "r") as io:
            np.testing.assert_array_equal(io.read_builder()["d"].data[...], expected)


def test_distributed_cluster_writes_chunks_that_straddle_blocks(tmp_path):
    distributed = pytest.importorskip("distributed")
    expected = np.arange(60_000, dtype="float64").reshape(-1, 6)
    data = da.from_array(expected, chunks=((3_333, 2_001, 4_666), (4, 2)))
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        _write(tmp_path / "f.nwb.zarr", _series(ZarrDataIO(data, chunks=(1_000, 3))))
    values, chunks, _ = _read_data(tmp_path / "f.nwb.zarr")
    assert chunks == (1_000, 3)
    np.testing.assert_array_equal(values, expected)
