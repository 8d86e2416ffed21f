"""zarr-python 3's extension points through hdmf_zarr: codecs found by entry point, custom stores."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from zarr.abc.store import Store
from zarr.codecs import BytesCodec
from zarr.core.buffer import cpu
from zarr.storage import LocalStore, MemoryStore, WrapperStore

from hdmf_zarr import NWBZarrIO, ZarrDataIO, ZarrIO

DATA = np.arange(-50, 50, dtype="int32").reshape(10, 10)


def _entry_point_codecs() -> dict[str, Any]:
    pytest.importorskip("hdmf_zarr_testcodecs", reason="the test codec package (tests/codec_package) is not installed")
    from zarr.registry import get_codec_class

    return {
        "filter": get_codec_class("hdmf_zarr_test.negate")(),
        "serializer": get_codec_class("hdmf_zarr_test.xor-bytes")(),
        "compressor": get_codec_class("hdmf_zarr_test.reverse")(),
    }


def _write_codec_file(path, **settings) -> None:
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="custom", data=ZarrDataIO(DATA, chunks=(5, 5), **settings)))
    nwbfile.add_acquisition(mock_TimeSeries(name="plain", data=DATA))
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile)


_FRESH_READ = textwrap.dedent(
    """
    import sys, json
    from hdmf_zarr import NWBZarrIO
    with NWBZarrIO(sys.argv[1], "r") as io:
        data = io.read().acquisition["custom"].data
        before = "hdmf_zarr_testcodecs" in sys.modules
        values = data[:].tolist()
    print(json.dumps({"values": values, "imported_before_access": before,
                      "imported_after": "hdmf_zarr_testcodecs" in sys.modules}))
    """
)


def _read_in_fresh_process(path) -> dict:
    result = subprocess.run([sys.executable, "-c", _FRESH_READ, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_entry_point_codecs_as_filter_serializer_and_compressor(zarr_path):
    codecs = _entry_point_codecs()
    _write_codec_file(
        zarr_path, filters=[codecs["filter"]], serializer=codecs["serializer"], compressors=[codecs["compressor"]]
    )
    meta = json.loads((zarr_path / "acquisition" / "custom" / "data" / "zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]] == [
        "hdmf_zarr_test.negate",
        "hdmf_zarr_test.xor-bytes",
        "hdmf_zarr_test.reverse",
    ]
    fresh = _read_in_fresh_process(zarr_path)
    assert fresh["values"] == DATA.tolist()
    assert fresh["imported_after"]


def test_numcodecs_wrapper_codecs_read_back_in_a_fresh_process(zarr_path):
    from zarr.codecs.numcodecs import Delta, Zlib

    _write_codec_file(zarr_path, filters=[Delta(dtype="<i4")], compressors=[Zlib(level=3)])
    meta = json.loads((zarr_path / "acquisition" / "custom" / "data" / "zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]] == ["numcodecs.delta", "bytes", "numcodecs.zlib"]
    assert _read_in_fresh_process(zarr_path)["values"] == DATA.tolist()


class CountingStore(WrapperStore[Store]):
    """A store that counts the requests made to the store it wraps."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.counts: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    async def get(self, key, prototype, byte_range=None):
        self._count("get")
        return await self._store.get(key, prototype, byte_range)

    async def set(self, key, value):
        self._count("set")
        return await self._store.set(key, value)

    def with_read_only(self, read_only: bool = False) -> CountingStore:
        return CountingStore(self._store.with_read_only(read_only))


@pytest.mark.parametrize("inner", ["local", "memory"])
def test_custom_store_subclass_round_trip(tmp_path, inner, nwbfile):
    store = CountingStore(LocalStore(tmp_path / "s.zarr") if inner == "local" else MemoryStore())
    with NWBZarrIO(store, "w") as io:
        io.write(nwbfile)
    assert store.counts["set"] > 0
    writes = store.counts["set"]
    with NWBZarrIO(store, "r") as io:
        read = io.read()
        name = next(k for k in read.acquisition if k.startswith("ElectricalSeries"))
        np.testing.assert_array_equal(read.acquisition[name].data[:], nwbfile.acquisition[name].data[:])
    assert store.counts["set"] == writes
    assert store.counts["get"] > 0


def test_read_only_custom_store_refuses_writes_before_changing_anything(tmp_path):
    path = tmp_path / "ro.zarr"
    with ZarrIO(path, "w") as io:
        io.write_builder(GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=np.arange(3))}))
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    store = CountingStore(LocalStore(path, read_only=True))
    for mode in ("w", "a", "r+"):
        with pytest.raises(ValueError, match="read-only store"):
            ZarrIO(store, mode)
    assert store.counts.get("set", 0) == 0
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    with ZarrIO(store, "r") as io:
        assert io.read_builder()["d"].data[:].tolist() == [0, 1, 2]


def _rename_codec(path, old: str, new: str) -> None:
    for doc in path.rglob("zarr.json"):
        text = doc.read_text()
        if f'"{old}"' in text:
            doc.write_text(text.replace(f'"{old}"', f'"{new}"'))


@pytest.mark.parametrize("role", ["compressor", "serializer", "filter"])
@pytest.mark.parametrize("consolidated", [True, False])
def test_missing_codec_fails_on_data_access_only(zarr_path, role, consolidated):
    from zarr.codecs.numcodecs import Delta, Zlib

    settings = {
        "compressor": {"compressors": [Zlib(level=1)]},
        "filter": {"filters": [Delta(dtype="<i4")]},
        "serializer": {"serializer": BytesCodec(endian="big")},
    }[role]
    _write_codec_file(zarr_path, **settings)
    old = {"compressor": "numcodecs.zlib", "filter": "numcodecs.delta", "serializer": "bytes"}[role]
    if role == "serializer":  # rename only the custom array's serializer
        doc = zarr_path / "acquisition" / "custom" / "data" / "zarr.json"
        meta = json.loads(doc.read_text())
        meta["codecs"][0]["name"] = "not.installed"
        doc.write_text(json.dumps(meta))
        root = json.loads((zarr_path / "zarr.json").read_text())
        root["consolidated_metadata"]["metadata"]["acquisition/custom/data"] = meta
        (zarr_path / "zarr.json").write_text(json.dumps(root))
    else:
        _rename_codec(zarr_path, old, "not.installed")
    if not consolidated:
        root = json.loads((zarr_path / "zarr.json").read_text())
        root.pop("consolidated_metadata")
        (zarr_path / "zarr.json").write_text(json.dumps(root))
    with NWBZarrIO(zarr_path, "r") as io:
        read = io.read()
        assert read.acquisition["plain"].data[:].tolist() == DATA.tolist()
        custom = read.acquisition["custom"]
        assert custom.data.shape == DATA.shape
        with pytest.raises(Exception, match=r"'/acquisition/custom/data'.*'not.installed'.*not installed"):
            custom.data[:]


class StandInDeviceArray(np.ndarray):
    """Stands in for device memory on machines without a GPU: a distinct array type."""


class StandInDeviceNDBuffer(cpu.NDBuffer):
    """An NDBuffer prototype that allocates StandInDeviceArray, as zarr's GPU NDBuffer allocates cupy arrays."""

    @classmethod
    def create(cls, *, shape, dtype, order="C", fill_value=None):
        out = super().create(shape=shape, dtype=dtype, order=order, fill_value=fill_value)
        return cls(out.as_ndarray_like().view(StandInDeviceArray))

    @classmethod
    def from_numpy_array(cls, array_like):
        return cls(np.asanyarray(array_like).view(StandInDeviceArray))

    @classmethod
    def empty(cls, shape, dtype, order="C"):
        return cls(np.empty(shape, dtype=dtype, order=order).view(StandInDeviceArray))


def test_buffer_prototype_arrays_reach_the_caller_without_a_host_copy(zarr_path):
    """The contract enable_gpu() relies on, checked with a stand-in device array type (no GPU needed)."""
    from hdmf.common import DynamicTable, VectorData
    from zarr.registry import register_ndbuffer

    register_ndbuffer(StandInDeviceNDBuffer, qualname="tests.StandInDeviceNDBuffer")
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(np.arange(1000.0), chunks=(100,))))
    words = VectorData(name="text", description="words", data=["alpha", "beta"])
    nwbfile.add_acquisition(DynamicTable(name="notes", description="text", columns=[words]))
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    with zarr.config.set({"ndbuffer": "tests.StandInDeviceNDBuffer"}), NWBZarrIO(zarr_path, "r") as io:
        read = io.read()
        block = read.acquisition["ts"].data[10:20]
        assert type(block) is StandInDeviceArray
        assert block.tolist() == list(range(10, 20))
        assert type(read.acquisition["ts"].rate) is float
        assert isinstance(read.identifier, str)
        assert list(read.acquisition["notes"]["text"][:]) == ["alpha", "beta"]
