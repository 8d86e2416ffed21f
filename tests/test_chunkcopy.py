"""Copying h5py datasets and zarr arrays chunk by chunk: stored bytes as they are where the codecs match."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr
from hdmf.backends.hdf5 import H5DataIO
from pynwb import NWBHDF5IO
from zarr.core.sync import sync

from hdmf_zarr import NWBZarrIO
from hdmf_zarr._write.chunkcopy import ArrayCopy, h5_chunks_match, zarr_chunks_match
from hdmf_zarr._write.copy import copy_block_shape, copy_settings
from hdmf_zarr._write.options import WriteOptions

RNG = np.random.default_rng(7)


def _noise(shape, dtype="int16") -> np.ndarray:
    return (RNG.standard_normal(shape) * 40).astype(dtype)


@pytest.fixture
def h5file(tmp_path):
    with h5py.File(tmp_path / "source.h5", "w") as handle:
        yield handle


def copy_into(tmp_path: Path, source, options=None, **settings) -> tuple[zarr.Array, ArrayCopy]:
    """Copy ``source`` into a new zarr array made with its copy settings (``settings`` win)."""
    options = options or WriteOptions()
    kwargs = {**copy_settings(source, options.compressors), **settings}
    dtype = np.dtype(source.dtype)
    target = zarr.create_array(
        store=str(tmp_path / "target.zarr"), name="x", shape=source.shape, dtype=dtype, overwrite=True, **kwargs
    )
    copier = ArrayCopy(
        target.store,
        "x",
        target.metadata,
        source,
        lambda block: np.asarray(block, dtype=dtype),
        target._async_array.setitem,
        options,
    )
    sync(copier.run())
    return zarr.open_array(str(tmp_path / "target.zarr"), path="x", mode="r"), copier


def _stored(array: zarr.Array, coords: tuple[int, ...]) -> bytes | None:
    path = Path(array.store.root) / array.path / array.metadata.encode_chunk_key(coords)
    return path.read_bytes() if path.exists() else None


def _chunk_count(shape, chunks) -> int:
    return int(np.prod([-(-s // c) for s, c in zip(shape, chunks)]))


# ----------------------------------------------------------------------------------------- HDF5 sources
def test_gzip_shuffle_chunks_are_stored_byte_for_byte_edge_chunks_included(tmp_path, h5file):
    data = _noise((1000, 7))
    dset = h5file.create_dataset("d", data=data, chunks=(256, 4), compression="gzip", shuffle=True)
    array, copier = copy_into(tmp_path, dset)
    assert [c.to_dict()["name"] for c in array.metadata.codecs] == ["bytes", "numcodecs.shuffle", "numcodecs.zlib"]
    assert copier.copied_raw == _chunk_count(data.shape, dset.chunks) == 8
    for info in (dset.id.get_chunk_info(i) for i in range(dset.id.get_num_chunks())):
        coords = tuple(o // c for o, c in zip(info.chunk_offset, dset.chunks))
        assert _stored(array, coords) == dset.id.read_direct_chunk(info.chunk_offset)[1]
    np.testing.assert_array_equal(array[:], data)


def test_gzip_without_shuffle_and_uncompressed_chunks_are_copied_as_stored(tmp_path, h5file):
    gz = h5file.create_dataset("gz", data=_noise((300,), "float64"), chunks=(64,), compression="gzip")
    plain = h5file.create_dataset("plain", data=_noise((300,), "uint8"), chunks=(64,))
    array, copier = copy_into(tmp_path, gz)
    assert copier.copied_raw == 5
    np.testing.assert_array_equal(array[:], gz[:])
    array, copier = copy_into(tmp_path, plain, compressors=None)
    assert copier.copied_raw == 5
    np.testing.assert_array_equal(array[:], plain[:])


def test_unallocated_chunks_stay_absent_and_read_as_the_fill_value(tmp_path, h5file):
    dset = h5file.create_dataset("d", shape=(100,), chunks=(10,), dtype="i4", fillvalue=-1, compression="gzip")
    dset[20:35] = 5
    array, copier = copy_into(tmp_path, dset)
    assert copier.copied_raw == 2
    assert _stored(array, (0,)) is None and _stored(array, (2,)) is not None
    np.testing.assert_array_equal(array[:], dset[:])


def test_unallocated_chunks_are_written_when_the_fill_values_differ(tmp_path, h5file):
    dset = h5file.create_dataset("d", shape=(100,), chunks=(10,), dtype="i4", fillvalue=-1, compression="gzip")
    dset[20:30] = 5
    array, copier = copy_into(tmp_path, dset, fill_value=0)
    assert copier.copied_raw == 1
    np.testing.assert_array_equal(array[:], dset[:])


def test_a_chunk_stored_with_a_skipped_filter_is_decoded_and_re_encoded(tmp_path, h5file):
    import zlib

    data = np.arange(40, dtype="<i4")
    dset = h5file.create_dataset("d", shape=(40,), chunks=(10,), dtype="<i4", compression="gzip")
    for start in (0, 20, 30):
        dset.id.write_direct_chunk((start,), zlib.compress(data[start : start + 10].tobytes()))
    dset.id.write_direct_chunk((10,), data[10:20].tobytes(), filter_mask=1)  # deflate skipped for this chunk
    np.testing.assert_array_equal(dset[:], data)
    array, copier = copy_into(tmp_path, dset)
    assert copier.copied_raw == 3
    np.testing.assert_array_equal(array[:], data)


def test_fletcher32_checksums_are_not_copied(tmp_path, h5file):
    dset = h5file.create_dataset("d", data=_noise((500,)), chunks=(100,), compression="gzip", fletcher32=True)
    assert not h5_chunks_match(dset, zarr.create_array(store={}, shape=(500,), dtype="i2", chunks=(100,)).metadata)
    array, copier = copy_into(tmp_path, dset)
    assert copier.copied_raw == 0
    np.testing.assert_array_equal(array[:], dset[:])


def test_big_endian_data_reads_back_equal(tmp_path, h5file):
    dset = h5file.create_dataset("d", data=np.arange(300, dtype=">i4"), chunks=(64,), compression="gzip", shuffle=True)
    array, _ = copy_into(tmp_path, dset)
    np.testing.assert_array_equal(array[:], np.arange(300))


def test_another_chunk_shape_is_decoded_a_few_chunks_at_a_time(tmp_path, h5file):
    data = _noise((1000, 6))
    dset = h5file.create_dataset("d", data=data, chunks=(250, 6), compression="gzip", shuffle=True)
    array, copier = copy_into(tmp_path, dset, chunks=(100, 3))
    assert copier.copied_raw == 0 and array.chunks == (100, 3)
    np.testing.assert_array_equal(array[:], data)


def test_recompress_option_decodes_every_chunk(tmp_path, h5file):
    dset = h5file.create_dataset("d", data=_noise((300,)), chunks=(100,), compression="gzip", shuffle=True)
    array, copier = copy_into(tmp_path, dset, WriteOptions(chunk_copy=False))
    assert copier.copied_raw == 0
    np.testing.assert_array_equal(array[:], dset[:])


def test_compressors_option_replaces_the_source_codecs(tmp_path, h5file):
    dset = h5file.create_dataset("d", data=_noise((300,)), chunks=(100,), compression="gzip")
    array, copier = copy_into(tmp_path, dset, WriteOptions(compressors=[zarr.codecs.ZstdCodec(level=2)]))
    assert [c.to_dict()["name"] for c in array.metadata.codecs] == ["bytes", "zstd"]
    assert copier.copied_raw == 0
    np.testing.assert_array_equal(array[:], dset[:])


@pytest.mark.parametrize("compression", ["lzf", "scaleoffset"])
def test_filters_zarr_cannot_express_warn_and_fall_back_to_zstd(tmp_path, h5file, compression):
    kwargs = {"compression": "lzf"} if compression == "lzf" else {"scaleoffset": 0}
    dset = h5file.create_dataset("d", data=np.arange(300, dtype="i4"), chunks=(100,), **kwargs)
    with pytest.warns(UserWarning) as caught:
        array, copier = copy_into(tmp_path, dset)
    messages = " ".join(str(w.message) for w in caught)
    assert "ignored in Zarr" in messages and "zstd" in messages
    assert [c.to_dict()["name"] for c in array.metadata.codecs] == ["bytes", "zstd"]
    np.testing.assert_array_equal(array[:], np.arange(300))


@pytest.mark.parametrize("plugin", ["Blosc", "Zstd"])
def test_hdf5plugin_blosc_and_zstd_chunks_are_copied_as_stored(tmp_path, h5file, plugin):
    hdf5plugin = pytest.importorskip("hdf5plugin")
    data = np.repeat(np.arange(200), 10).astype("float32")  # compressible: no chunk is stored unfiltered
    dset = h5file.create_dataset("d", data=data, chunks=(512,), **getattr(hdf5plugin, plugin)())
    array, copier = copy_into(tmp_path, dset)
    assert copier.copied_raw == 4
    np.testing.assert_array_equal(array[:], data)


# ----------------------------------------------------------------------------------------- zarr sources
def test_zarr_arrays_with_the_same_layout_copy_their_chunk_objects(tmp_path):
    source = zarr.create_array(
        store=str(tmp_path / "src.zarr"),
        shape=(200, 30),
        dtype="f8",
        chunks=(50, 10),
        shards=(100, 30),
        compressors=[zarr.codecs.BloscCodec(cname="lz4")],
        fill_value=np.nan,
    )
    source[:150] = _noise((150, 30), "f8")
    array, copier = copy_into(tmp_path, source, fill_value=np.nan)
    assert zarr_chunks_match(source, array.metadata)
    assert copier.copied_raw == 2  # two shard objects
    for coords in [(0, 0), (1, 0)]:
        assert (
            _stored(array, coords) == (Path(source.store.root) / source.metadata.encode_chunk_key(coords)).read_bytes()
        )
    np.testing.assert_array_equal(array[:], source[:])


def test_zarr_v2_arrays_in_c_order_copy_their_chunks(tmp_path):
    import numcodecs

    source = zarr.create_array(
        store=str(tmp_path / "v2.zarr"),
        shape=(90,),
        dtype="<i8",
        chunks=(40,),
        zarr_format=2,
        compressors=numcodecs.Zlib(level=3),
        fill_value=0,
    )
    source[:] = np.arange(90)
    array, copier = copy_into(tmp_path, source)
    assert copier.copied_raw == 3
    np.testing.assert_array_equal(array[:], np.arange(90))


# ----------------------------------------------------------------------------------------- memory
class RecordingSource:
    """A numpy array that records the size of every region read from it."""

    def __init__(self, values: np.ndarray) -> None:
        self.values, self.shape, self.dtype, self.largest = values, values.shape, values.dtype, 0

    def __getitem__(self, region):
        block = self.values[region]
        self.largest = max(self.largest, block.nbytes)
        return block


def test_copies_read_a_few_chunks_at_a_time_whatever_the_array_size(tmp_path):
    values = np.arange(4_000_000, dtype="f8").reshape(-1, 100)  # 32 MB, chunks of 320 kB
    source = RecordingSource(values)
    array, _ = copy_into(tmp_path, source, chunks=(400, 100))
    assert source.largest <= 4 * 400 * 100 * 8
    np.testing.assert_array_equal(array[-5:], values[-5:])


@pytest.mark.parametrize(
    ("shape", "chunks", "source_chunks", "expected"),
    [
        ((10_000, 384), (30_000, 64), None, (30_000, 64)),  # a big chunk: one at a time
        ((1000, 10), (10, 10), None, (1000, 10)),  # tiny chunks: grouped up to about 1 MiB (here: all)
        ((100_000, 10), (10, 10), None, (13_100, 10)),
        ((10_000, 384), (1000, 64), (2500, 64), (5000, 64)),  # whole source chunks in each block
        ((10_000, 384), (1000, 64), (1999, 64), (2000, 64)),
    ],
)
def test_block_shapes(shape, chunks, source_chunks, expected):
    assert copy_block_shape(shape, chunks, 8, source_chunks) == expected


# ----------------------------------------------------------------------------------------- NWB export
@pytest.fixture
def gzip_nwb(tmp_path):
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    data = _noise((3001, 8))
    mock_ElectricalSeries(
        name="es", nwbfile=nwbfile, data=H5DataIO(data, chunks=(1000, 4), compression="gzip", shuffle=True)
    )
    path = tmp_path / "gzip.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path, data


@pytest.mark.parametrize("jobs", [1, 3])
def test_export_from_hdf5_stores_the_gzip_chunks_unchanged(gzip_nwb, tmp_path, jobs):
    path, data = gzip_nwb
    target = tmp_path / "out.nwb.zarr"
    with NWBHDF5IO(path, "r") as src, NWBZarrIO(target, "w") as dst:
        dst.export(src_io=src) if jobs == 1 else _export_with_jobs(dst, src, jobs)
    with h5py.File(path, "r") as handle, NWBZarrIO(target, "r") as io:
        dset = handle["acquisition/es/data"]
        array = zarr.open_array(str(target), path="acquisition/es/data", mode="r")
        assert _stored(array, (2, 1)) == dset.id.read_direct_chunk((2000, 4))[1]
        np.testing.assert_array_equal(io.read().acquisition["es"].data[:], data)


def _export_with_jobs(dst, src, jobs):
    from hdmf_zarr.backend import ZarrIO

    ZarrIO.export(dst, src_io=src, number_of_jobs=jobs)


def test_export_zarr_to_zarr_keeps_the_chunk_objects(gzip_nwb, tmp_path):
    path, data = gzip_nwb
    first, second = tmp_path / "a.nwb.zarr", tmp_path / "b.nwb.zarr"
    with NWBHDF5IO(path, "r") as src, NWBZarrIO(first, "w") as dst:
        dst.export(src_io=src)
    with NWBZarrIO(first, "r") as src, NWBZarrIO(second, "w") as dst:
        dst.export(src_io=src)
    key = Path("acquisition/es/data/c/1/1")
    assert (second / key).read_bytes() == (first / key).read_bytes()
    with NWBZarrIO(second, "r") as io, warnings.catch_warnings():
        nwbfile = io.read()
        np.testing.assert_array_equal(nwbfile.acquisition["es"].data[:], data)


def test_two_conversions_at_once_each_keep_their_own_options(tmp_path):
    """Write options are values handed down, not process state: two conversions overlapping in two threads,
    one recompressing and one copying chunks as stored, each get what they asked for."""
    import threading

    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    from hdmf_zarr._convert.convert import convert

    nwbfile = mock_NWBFile()
    for index in range(4):
        data = H5DataIO(_noise((20_000, 4)), chunks=(1000, 4), compression="gzip")
        nwbfile.add_acquisition(mock_TimeSeries(name=f"ts{index}", data=data))
    source = tmp_path / "source.nwb"
    with NWBHDF5IO(source, "w") as io:
        io.write(nwbfile)
    started = {name: threading.Event() for name in ("recompressed", "as_stored")}

    def run(name: str, other: str, **kwargs) -> None:
        def progress(_: int) -> None:
            started[name].set()
            started[other].wait(timeout=10)  # go on copying only once the other conversion copies too

        convert(str(source), str(tmp_path / f"{name}.nwb.zarr"), progress=progress, **kwargs)

    threads = [
        threading.Thread(
            target=run, args=("recompressed", "as_stored"), kwargs={"compressors": [zarr.codecs.ZstdCodec(level=2)]}
        ),
        threading.Thread(target=run, args=("as_stored", "recompressed")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(event.is_set() for event in started.values())
    for name, codec in (("recompressed", "zstd"), ("as_stored", "numcodecs.zlib")):  # HDF5 gzip, as stored
        for index in range(4):
            array = zarr.open_array(str(tmp_path / f"{name}.nwb.zarr"), path=f"acquisition/ts{index}/data", mode="r")
            assert [c.to_dict()["name"] for c in array.metadata.codecs][-1] == codec, (name, index)
