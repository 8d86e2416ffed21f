"""Sharding policy: big arrays become a few shard objects holding MB-sized inner chunks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ShardingPolicy
from hdmf_zarr._write.sharding import shard_settings
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SMALL = ShardingPolicy(min_bytes=1 << 20, chunk_bytes=64 << 10, shard_bytes=1 << 20)


def _write(path, data, **kwargs):
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=data))
    with NWBZarrIO(path, "w") as nwb_io:
        nwb_io.write(nwbfile, **kwargs)
    return json.loads((path / "acquisition" / "ts" / "data" / "zarr.json").read_text())


def _stored_objects(path):
    return sum(len(files) for _, _, files in os.walk(path / "acquisition" / "ts" / "data" / "c"))


def _read(path):
    with NWBZarrIO(path, "r") as nwb_io:
        return nwb_io.read().acquisition["ts"].data[:]


def test_default_policy_shards_big_arrays_with_automatic_chunks():
    settings = shard_settings((16_000_000, 8), np.dtype("int16"), {}, ShardingPolicy())  # 244 MiB
    chunks, shards = settings["chunks"], settings["shards"]
    assert np.prod(chunks) * 2 <= 4 << 20 and np.prod(shards) * 2 <= 128 << 20
    assert all(s % c == 0 for s, c in zip(shards, chunks))
    assert np.prod(shards) * 2 > 32 << 20  # shards hold many inner chunks
    assert shard_settings((1_000, 8), np.dtype("int16"), {}, ShardingPolicy()) is None  # small: left alone
    explicit = {"chunks": (30_000, 8)}
    assert shard_settings((16_000_000, 8), np.dtype("int16"), explicit, ShardingPolicy()) is None


def test_big_array_is_stored_in_few_shards(tmp_path):
    data = np.random.default_rng(0).standard_normal((400_000, 4))  # 12.2 MiB
    meta = _write(tmp_path / "f.nwb.zarr", data, sharding=SMALL)
    assert meta["codecs"][0]["name"] == "sharding_indexed"
    inner = meta["codecs"][0]["configuration"]["chunk_shape"]
    outer = meta["chunk_grid"]["configuration"]["chunk_shape"]
    assert np.prod(inner) * 8 <= 64 << 10 and np.prod(outer) * 8 <= 1 << 20
    assert _stored_objects(tmp_path / "f.nwb.zarr") == -(-400_000 // outer[0]) * -(-4 // outer[1])
    np.testing.assert_array_equal(_read(tmp_path / "f.nwb.zarr"), data)


def test_sharding_false_keeps_plain_chunks(tmp_path):
    data = np.arange(400_000.0).reshape(-1, 4)
    meta = _write(tmp_path / "f.nwb.zarr", data, sharding=False)
    assert meta["codecs"][0]["name"] != "sharding_indexed"


def test_user_chunks_are_kept_unless_sharding_is_true(tmp_path):
    data = np.arange(400_000.0).reshape(-1, 4)
    meta = _write(tmp_path / "a.nwb.zarr", ZarrDataIO(data, chunks=(5_000, 4)), sharding=SMALL)
    assert meta["codecs"][0]["name"] != "sharding_indexed"
    policy = ShardingPolicy(min_bytes=1 << 20, chunk_bytes=64 << 10, shard_bytes=1 << 20, explicit_chunks=True)
    meta = _write(tmp_path / "b.nwb.zarr", ZarrDataIO(data, chunks=(5_000, 4)), sharding=policy)
    assert meta["codecs"][0]["configuration"]["chunk_shape"] == [5_000, 4]
    np.testing.assert_array_equal(_read(tmp_path / "b.nwb.zarr"), data)


def test_zarrdataio_shards_win_over_the_policy(tmp_path):
    data = np.arange(400_000.0).reshape(-1, 4)
    meta = _write(tmp_path / "f.nwb.zarr", ZarrDataIO(data, chunks=(1_000, 4), shards=(50_000, 4)), sharding=SMALL)
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [50_000, 4]


def test_bad_sharding_value_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="sharding="):
        _write(tmp_path / "f.nwb.zarr", np.arange(10.0), sharding="sometimes")
