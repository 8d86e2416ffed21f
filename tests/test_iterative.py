"""Iterative writes from DataChunkIterators, and parallel writes in worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr
from hdmf.data_utils import DataChunkIterator, GenericDataChunkIterator
from pynwb import TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO


class ArrayChunkIterator(GenericDataChunkIterator):
    """A picklable GenericDataChunkIterator over an in-memory array.

    With ``log`` (a folder), every read of a selection is recorded in ``<log>/<process id>.log``, whatever the
    process that reads it: ``readers(log)`` then says which processes read (and so wrote) which selections.
    """

    def __init__(self, array: np.ndarray, log: str | None = None, **kwargs):
        self.array = array
        self.log = log
        self._kwargs = kwargs
        super().__init__(**kwargs)

    def _to_dict(self):
        return {"array": self.array, "log": self.log, **self._kwargs}

    @staticmethod
    def _from_dict(state):
        return ArrayChunkIterator(**state)

    def _get_data(self, selection):
        if self.log is not None:
            with open(os.path.join(self.log, f"{os.getpid()}.log"), "a") as file:
                file.write(json.dumps([[s.start, s.stop] for s in selection]) + "\n")
        return self.array[selection]

    def _get_maxshape(self):
        return self.array.shape

    def _get_dtype(self):
        return self.array.dtype


def readers(log) -> dict[int, list[tuple[tuple[int, int], ...]]]:
    """``{process id: [selection read, as ((start, stop), ...)]}`` from the folder given as ``log``."""
    return {
        int(file.stem): [tuple(map(tuple, json.loads(line))) for line in file.read_text().splitlines()]
        for file in Path(log).glob("*.log")
    }


def _assert_written_by_workers(log, data: np.ndarray) -> dict[int, list[tuple[tuple[int, int], ...]]]:
    """Every value of ``data`` was read (to be written) by a process other than this one, and only once."""
    read = readers(log)
    assert read and os.getpid() not in read, f"this process read data itself (a serial write): {sorted(read)}"
    covered = np.zeros(data.shape, dtype=int)
    for selections in read.values():
        for selection in selections:
            covered[tuple(slice(start, stop) for start, stop in selection)] += 1
    assert (covered == 1).all(), "the worker processes did not read every value exactly once"
    return read


def _write_series(path, data, **write_kwargs):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="ts", data=data, unit="V", rate=10.0))
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile, **write_kwargs)


def _read_series(path):
    with NWBZarrIO(path, "r") as io:
        return io.read().acquisition["ts"].data[:]


def test_data_chunk_iterator_of_unknown_length_grows_the_array(zarr_path):
    rows = [np.full(3, i, dtype="int16") for i in range(7)]
    _write_series(zarr_path, DataChunkIterator(data=iter(rows), buffer_size=2))
    np.testing.assert_array_equal(_read_series(zarr_path), np.stack(rows))
    array = zarr.open_array(zarr_path / "acquisition" / "ts" / "data", mode="r")
    assert array.attrs["_DTYPE"] == "<i2"


def test_generic_iterator_written_in_one_process(zarr_path):
    data = np.arange(5000, dtype="float32").reshape(1000, 5)
    _write_series(zarr_path, ArrayChunkIterator(data, buffer_shape=(100, 5), chunk_shape=(50, 5)))
    np.testing.assert_array_equal(_read_series(zarr_path), data)


@pytest.fixture
def read_log(tmp_path) -> Path:
    """A folder for ``ArrayChunkIterator(log=...)``."""
    folder = tmp_path / "reads"
    folder.mkdir()
    return folder


def test_generic_iterator_written_by_worker_processes(zarr_path, read_log):
    data = np.arange(20000, dtype="int32").reshape(2000, 10)
    iterator = ArrayChunkIterator(data, log=str(read_log), buffer_shape=(300, 10), chunk_shape=(100, 10))
    _write_series(zarr_path, iterator, number_of_jobs=2)
    np.testing.assert_array_equal(_read_series(zarr_path), data)
    read = _assert_written_by_workers(read_log, data)
    assert sum(len(selections) for selections in read.values()) == 7  # one task per buffer of 300 rows


def test_parallel_sharded_write_gives_each_shard_to_one_worker(zarr_path, read_log):
    data = np.arange(4000, dtype="int64").reshape(400, 10)
    iterator = ArrayChunkIterator(data, log=str(read_log), buffer_shape=(60, 10), chunk_shape=(20, 10))
    wrapped = ZarrDataIO(iterator, chunks=(20, 10), shards=(100, 10))
    _write_series(zarr_path, wrapped, number_of_jobs=2)
    np.testing.assert_array_equal(_read_series(zarr_path), data)
    array = zarr.open_array(zarr_path / "acquisition" / "ts" / "data", mode="r")
    assert array.shards == (100, 10)
    shard_readers: dict[int, set[int]] = {}
    for pid, selections in _assert_written_by_workers(read_log, data).items():
        for (start, stop), _ in selections:
            assert start // 100 == (stop - 1) // 100, f"rows {start}:{stop} straddle two shards"
            shard_readers.setdefault(start // 100, set()).add(pid)
    assert sorted(shard_readers) == [0, 1, 2, 3]
    assert all(len(pids) == 1 for pids in shard_readers.values()), shard_readers


def test_exhaust_dci_false_leaves_data_for_close(zarr_path):
    rows = [np.arange(4, dtype="float64") + i for i in range(5)]
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(TimeSeries(name="ts", data=DataChunkIterator(data=iter(rows)), unit="V", rate=1.0))
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile, exhaust_dci=False)
    np.testing.assert_array_equal(_read_series(zarr_path), np.stack(rows))


@pytest.mark.parametrize("chunks", [(10,), None])
def test_lazy_read_touches_no_array_data_until_indexed(zarr_path, chunks, monkeypatch):
    data = np.arange(100.0)
    _write_series(zarr_path, ZarrDataIO(data, chunks=chunks) if chunks else data)
    calls = []
    original = zarr.core.array.AsyncArray._get_selection

    async def spy(self, *args, **kwargs):
        calls.append(self.path)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(zarr.core.array.AsyncArray, "_get_selection", spy)
    with NWBZarrIO(zarr_path, "r") as io:
        series = io.read().acquisition["ts"]
        assert not [c for c in calls if c.endswith("ts/data")]
        assert series.data[3] == 3.0
    assert [c for c in calls if c.endswith("ts/data")]


def test_number_of_jobs_uses_a_process_pool(zarr_path, read_log, monkeypatch):
    import hdmf_zarr._write.iterators as parallel

    pools = []

    class CountingPool(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", CountingPool)
    data = np.arange(600, dtype="int16").reshape(200, 3)
    iterator = ArrayChunkIterator(data, log=str(read_log), buffer_shape=(50, 3), chunk_shape=(25, 3))
    _write_series(zarr_path, iterator, number_of_jobs=2)
    assert pools == [2]
    np.testing.assert_array_equal(_read_series(zarr_path), data)
    _assert_written_by_workers(read_log, data)  # by the pool's processes: no serial fallback


def test_shard_tasks_cover_every_shard_exactly_once():
    from hdmf_zarr._write.iterators import _iter_shard_buffer_selections, _iter_shard_selections

    shape, shards, buffer = (250, 7), (100, 4), (30, 3)
    covered = np.zeros(shape, dtype=int)
    for shard in _iter_shard_selections(shape, shards):
        pieces = list(_iter_shard_buffer_selections(shard, buffer))
        for piece in pieces:
            assert all(p.stop - p.start <= b for p, b in zip(piece, buffer))
            covered[piece] += 1
    assert (covered == 1).all()
