"""ZarrDataIO: per-dataset storage settings (api.md §4.7, format.md §1.12)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder
from hdmf.data_utils import DataChunkIterator
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, TransposeCodec, ZstdCodec

from hdmf_zarr import NWBZarrIO, ZarrDataIO, ZarrIO

DATA = np.arange(64, dtype=np.int32).reshape(8, 8)
SHARDS_WARNING = (
    "Specifying 'shards' without 'chunks' is not recommended. When using sharding, 'chunks' defines the inner "
    "chunk shape within each shard."
)


def node_json(path: Path, key: str = "") -> dict[str, Any]:
    doc = json.loads((path / key / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    return doc


def write_one(path: Path, data: Any, dtype: Any = None) -> dict[str, Any]:
    """Write ``data`` as dataset ``/d``; return its zarr.json."""
    with ZarrIO(path, "w") as io:
        io.write_builder(GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=data, dtype=dtype)}))
    return node_json(path, "d")


def read_one(path: Path) -> Any:
    return ZarrIO(path, "r").read_builder()["d"].data


# ------------------------------------------------------------------------------------------ settings on disk


def test_chunks_set_the_chunk_shape(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, chunks=(4, 2)))
    assert meta["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": [4, 2]}}
    assert sum(p.is_file() for p in (tmp_path / "f.zarr" / "d" / "c").rglob("*")) == 8
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_a_single_compressor_codec_is_written_after_the_serializer(tmp_path):
    codec = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, compressors=codec))
    assert meta["codecs"] == [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {
            "name": "blosc",
            "configuration": {"typesize": 4, "cname": "zstd", "clevel": 3, "shuffle": "shuffle", "blocksize": 0},
        },
    ]
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_a_list_of_compressors_is_applied_in_order(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, compressors=[ZstdCodec(level=5), GzipCodec(level=1)]))
    assert [c["name"] for c in meta["codecs"]] == ["bytes", "zstd", "gzip"]
    assert meta["codecs"][1]["configuration"]["level"] == 5
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_compressors_false_writes_no_compression(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, compressors=False))
    assert meta["codecs"] == [{"name": "bytes", "configuration": {"endian": "little"}}]
    raw = (tmp_path / "f.zarr" / "d" / "c" / "0" / "0").read_bytes()
    assert raw == DATA.tobytes(), "uncompressed chunk holds the raw little-endian bytes"


def test_compressors_false_on_text_keeps_only_the_string_codec(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(["a", "bc"], compressors=False), dtype="text")
    assert meta["codecs"] == [{"name": "vlen-utf8", "configuration": {}}]
    assert read_one(tmp_path / "f.zarr")[:].tolist() == ["a", "bc"]


def test_compressors_true_uses_the_zarr_default(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, compressors=True))
    assert meta["codecs"][1:] == [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}]


def test_filters_come_before_the_serializer(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, filters=[TransposeCodec(order=(1, 0))]))
    assert meta["codecs"][0] == {"name": "transpose", "configuration": {"order": [1, 0]}}
    assert meta["codecs"][1]["name"] == "bytes"
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_serializer_sets_the_byte_order(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, serializer=BytesCodec(endian="big"), compressors=False))
    assert meta["codecs"] == [{"name": "bytes", "configuration": {"endian": "big"}}]
    assert (tmp_path / "f.zarr" / "d" / "c" / "0" / "0").read_bytes() == DATA.astype(">i4").tobytes()
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_shards_wrap_inner_chunks_in_a_sharding_codec(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, chunks=(2, 2), shards=(4, 4)))
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [4, 4]
    (sharding,) = meta["codecs"]
    assert sharding["name"] == "sharding_indexed"
    assert sharding["configuration"]["chunk_shape"] == [2, 2]
    assert sharding["configuration"]["index_location"] == "end"
    assert sorted(p.name for p in (tmp_path / "f.zarr" / "d" / "c").iterdir()) == ["0", "1"]
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_auto_shards_are_accepted(tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Automatic shard shape inference is experimental")
        meta = write_one(tmp_path / "f.zarr", ZarrDataIO(DATA, chunks=(2, 2), shards="auto"))
    (sharding,) = meta["codecs"]
    assert sharding["name"] == "sharding_indexed" and sharding["configuration"]["chunk_shape"] == [2, 2]
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_fillvalue_becomes_the_array_fill_value(tmp_path):
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(np.array([1.5, 2.5]), fillvalue=-1.0))
    assert meta["fill_value"] == -1.0
    assert zarr.open_array(tmp_path / "f.zarr" / "d", mode="r").fill_value == -1.0


def test_settings_apply_to_data_chunk_iterators(tmp_path):
    iterator = DataChunkIterator(data=DATA, buffer_size=3)
    meta = write_one(tmp_path / "f.zarr", ZarrDataIO(iterator, chunks=(2, 8), compressors=False))
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [2, 8]
    assert meta["codecs"] == [{"name": "bytes", "configuration": {"endian": "little"}}]
    assert meta["attributes"]["_DTYPE"] == "<i4"
    np.testing.assert_array_equal(read_one(tmp_path / "f.zarr")[:], DATA)


def test_settings_apply_to_compound_datasets(tmp_path):
    fields = [{"name": "a", "dtype": "int32"}, {"name": "b", "dtype": "text"}]
    data = ZarrDataIO([(1, "x"), (2, "y"), (3, "z")], chunks=(2,), compressors=False)
    meta = write_one(tmp_path / "f.zarr", data, dtype=fields)
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [2]
    assert meta["codecs"] == [{"name": "bytes", "configuration": {"endian": "little"}}]
    assert read_one(tmp_path / "f.zarr")[:].tolist() == [(1, "x"), (2, "y"), (3, "z")]


def test_nwb_timeseries_data_keeps_its_zarr_settings(tmp_path):
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    data = ZarrDataIO(np.arange(100, dtype=np.float32), chunks=(10,), compressors=GzipCodec(level=4))
    nwb.add_acquisition(mock_TimeSeries(name="ts", data=data))
    path = tmp_path / "f.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    meta = node_json(path, "acquisition/ts/data")
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [10]
    assert meta["codecs"][1] == {"name": "gzip", "configuration": {"level": 4}}
    with NWBZarrIO(path, "r") as io:
        np.testing.assert_array_equal(io.read().acquisition["ts"].data[:], np.arange(100, dtype=np.float32))


def test_compound_reference_column_rebuilt_by_hdmf_keeps_every_setting(tmp_path):
    """hdmf's ObjectMapper rebuilds it as ``ZarrDataIO(refs, **old.get_io_params())`` before writing."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    ts = mock_TimeSeries(name="ts")
    nwb.add_acquisition(ts)
    nwb.add_trial(start_time=0.0, stop_time=1.0, timeseries=[ts])
    nwb.add_trial(start_time=1.0, stop_time=2.0, timeseries=[ts])
    column = nwb.trials["timeseries"].target
    column.set_data_io(ZarrDataIO, {"chunks": (1,), "compressors": False, "fillvalue": (-1, -1, "")})
    path = tmp_path / "f.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    meta = node_json(path, "intervals/trials/timeseries")
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [1]
    assert meta["codecs"] == [{"name": "bytes", "configuration": {"endian": "little"}}]
    assert meta["fill_value"] == {"idx_start": -1, "count": -1, "timeseries": ""}
    assert meta["attributes"]["_REFERENCE_FIELDS"] == ["timeseries"]
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        refs = read.trials["timeseries"].target.data[:]
        assert all(ref is read.acquisition["ts"] for ref in refs["timeseries"])


# ------------------------------------------------------------------------------------------ argument rules


@pytest.mark.parametrize("value", ["zstd", 5, [ZstdCodec()]])
def test_compressor_singular_that_is_not_a_codec_raises_type_error(value):
    with pytest.raises(TypeError, match="compressors"):
        ZarrDataIO(DATA, compressor=value)


@pytest.mark.parametrize("value", [ZstdCodec(), False, None])
def test_compressor_singular_is_the_deprecated_zarr2_spelling(value):
    """hdmf-zarr 0.14 refuses ``compressor``; we translate it (tests/test_zarr2_api.py covers numcodecs codecs)."""
    with pytest.warns(DeprecationWarning, match="is the zarr 2 spelling; use compressors="):
        dio = ZarrDataIO(DATA, compressor=value)
    assert dio.io_settings == {"compressors": [value] if value else None}


def test_filters_must_be_array_to_array_codecs():
    with pytest.raises(TypeError):
        ZarrDataIO(DATA, filters=[ZstdCodec()])


def test_bad_shards_string_raises_value_error():
    with pytest.raises(ValueError, match="'shards' must be a shape or 'auto'."):
        ZarrDataIO(DATA, chunks=(2, 2), shards="big")


@pytest.mark.parametrize(
    ("chunks", "shards"), [((2, 2), (4,)), ((2, 2), (4, 3)), ((3, 2), (4, 4))], ids=["ndim", "not-multiple", "chunk"]
)
def test_shards_that_do_not_fit_the_chunks_raise_value_error(chunks, shards):
    with pytest.raises(ValueError, match="shards"):
        ZarrDataIO(DATA, chunks=chunks, shards=shards)


def test_shards_without_chunks_warn():
    with pytest.warns(UserWarning, match=re.escape(SHARDS_WARNING)):
        dio = ZarrDataIO(DATA, shards=[4, 4])
    assert dio.io_settings == {"shards": (4, 4)}


def test_io_settings_use_create_array_keywords():
    filters = [TransposeCodec(order=(1, 0))]
    serializer = BytesCodec(endian="big")
    dio = ZarrDataIO(
        DATA, chunks=[2, 2], fillvalue=7, compressors=False, filters=filters, serializer=serializer, shards=[4, 4]
    )
    assert dio.io_settings == {
        "chunks": (2, 2),
        "fill_value": 7,
        "compressors": None,
        "filters": filters,
        "serializer": serializer,
        "shards": (4, 4),
    }
    assert "compressors" not in ZarrDataIO(DATA, compressors=True).io_settings
    assert ZarrDataIO(DATA).io_settings == {}


def test_link_data_is_only_kept_for_zarr_arrays(tmp_path):
    array = zarr.create_array(tmp_path / "a.zarr", shape=(3,), dtype="int8")
    assert ZarrDataIO(array, link_data=True).link_data is True
    assert ZarrDataIO(array).link_data is False
    assert ZarrDataIO(np.arange(3), link_data=True).link_data is False


@pytest.mark.parametrize(
    "settings",
    [
        {"chunks": (2, 2)},
        {"fillvalue": 7},
        {"compressors": False},
        {"compressors": True},
        {"compressors": BloscCodec(cname="lz4")},
        {"compressors": [ZstdCodec(level=3), GzipCodec()]},
        {"filters": [TransposeCodec(order=(1, 0))]},
        {"serializer": BytesCodec(endian="big")},
        {"chunks": (2, 2), "shards": (4, 4)},
        {"chunks": (2, 2), "shards": "auto"},
        {
            "chunks": (2, 4),
            "fillvalue": -1,
            "compressors": False,
            "filters": [TransposeCodec(order=(1, 0))],
            "serializer": BytesCodec(endian="big"),
            "shards": (4, 8),
        },
    ],
    ids=[
        "chunks",
        "fillvalue",
        "no-compression",
        "default-compression",
        "codec",
        "codecs",
        "filters",
        "serializer",
        "shards",
        "auto-shards",
        "everything",
    ],
)
def test_get_io_params_recreates_every_setting(settings):
    original = ZarrDataIO(DATA, **settings)
    copy = ZarrDataIO(DATA, **original.get_io_params())
    assert copy.io_settings == original.io_settings
    assert copy.get_io_params() == original.get_io_params()


def test_get_io_params_keeps_link_data_for_zarr_arrays(tmp_path):
    array = zarr.create_array(tmp_path / "a.zarr", shape=(3,), dtype="int8")
    original = ZarrDataIO(array, link_data=True, chunks=(3,))
    params = original.get_io_params()
    assert params["link_data"] is True
    copy = ZarrDataIO(array, **params)
    assert copy.link_data is True and copy.io_settings == original.io_settings


def test_get_io_params_round_trip_writes_the_same_array(tmp_path):
    original = ZarrDataIO(
        DATA, chunks=(2, 4), fillvalue=-1, compressors=False, serializer=BytesCodec(endian="big"), shards=(4, 8)
    )
    first = write_one(tmp_path / "first.zarr", original)
    second = write_one(tmp_path / "second.zarr", ZarrDataIO(DATA, **original.get_io_params()))
    assert first == second
    np.testing.assert_array_equal(read_one(tmp_path / "second.zarr")[:], DATA)


class XorBytesCodec(BytesCodec):
    """A third-party serializer: little-endian bytes with every byte XOR-ed with 0x5A."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": "test.xor-bytes"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XorBytesCodec:
        return cls()

    def _encode_sync(self, chunk_array, chunk_spec):
        encoded = super()._encode_sync(chunk_array, chunk_spec)
        raw = np.frombuffer(encoded.as_buffer_like(), dtype=np.uint8) ^ 0x5A
        return chunk_spec.prototype.buffer.from_bytes(raw.tobytes())

    def _decode_sync(self, chunk_bytes, chunk_spec):
        raw = np.frombuffer(chunk_bytes.as_buffer_like(), dtype=np.uint8) ^ 0x5A
        return super()._decode_sync(chunk_spec.prototype.buffer.from_bytes(raw.tobytes()), chunk_spec)

    async def _encode_single(self, chunk_array, chunk_spec):
        return self._encode_sync(chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return self._decode_sync(chunk_bytes, chunk_spec)


def test_third_party_serializer_registered_with_zarr_round_trips(tmp_path):
    zarr.registry.register_codec("test.xor-bytes", XorBytesCodec)
    path = tmp_path / "f.zarr"
    meta = write_one(path, ZarrDataIO(DATA, serializer=XorBytesCodec(), compressors=False))
    assert meta["codecs"] == [{"name": "test.xor-bytes"}]
    stored = (path / "d" / "c" / "0" / "0").read_bytes()
    assert stored != DATA.astype("<i4").tobytes()
    np.testing.assert_array_equal(read_one(path)[:], DATA)
