"""HDF5 filters -> zarr v3 codecs: ``ZarrDataIO.hdf5_to_zarr_filters`` and ``from_h5py_dataset``."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from zarr.codecs import ZstdCodec
from zarr.codecs import numcodecs as nc

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO


@pytest.fixture
def h5file(tmp_path):
    with h5py.File(tmp_path / "filters.h5", "w") as handle:
        yield handle


def _names(codecs) -> list[dict]:
    return [c.to_dict() for c in codecs]


def test_gzip_and_shuffle_become_numcodecs_shuffle_then_zlib(h5file):
    dset = h5file.create_dataset(
        "test_dset",
        data=np.arange(100, dtype="int64"),
        chunks=(10,),
        compression="gzip",
        compression_opts=6,
        shuffle=True,
    )
    assert _names(ZarrDataIO.hdf5_to_zarr_filters(dset)) == [
        {"name": "numcodecs.shuffle", "configuration": {"elementsize": 8}},
        {"name": "numcodecs.zlib", "configuration": {"level": 6}},
    ]
    wrapped = ZarrDataIO.from_h5py_dataset(dset)
    assert _names(wrapped.io_settings["compressors"]) == _names(ZarrDataIO.hdf5_to_zarr_filters(dset))
    assert wrapped.io_settings["chunks"] == (10,)
    assert "filters" not in wrapped.io_settings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "lzf"}, "/d HDF5 szip or lzf compression ignored in Zarr"),
        ({"scaleoffset": 0}, "/d HDF5 scaleoffset filter ignored in Zarr"),
    ],
)
def test_filters_without_zarr_equivalent_warn_and_become_zstd(h5file, kwargs, message):
    dset = h5file.create_dataset("d", data=np.arange(100, dtype="int32"), chunks=(10,), **kwargs)
    with pytest.warns(UserWarning, match=message):
        assert ZarrDataIO.hdf5_to_zarr_filters(dset) == []
    with pytest.warns(UserWarning) as caught:
        wrapped = ZarrDataIO.from_h5py_dataset(dset)
    assert any("zstd instead" in str(w.message) for w in caught)
    assert wrapped.io_settings["compressors"] == [ZstdCodec()]


def test_uncompressed_datasets_get_the_zarr_default_and_fletcher32_is_dropped(h5file):
    plain = h5file.create_dataset("plain", data=np.arange(10), chunks=(5,))
    checked = h5file.create_dataset("checked", data=np.arange(10), chunks=(5,), fletcher32=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ZarrDataIO.hdf5_to_zarr_filters(plain) == []
        assert ZarrDataIO.hdf5_to_zarr_filters(checked) == []
        assert "compressors" not in ZarrDataIO.from_h5py_dataset(plain).io_settings


def test_explicit_arguments_win_and_byte_fill_values_are_decoded(h5file):
    dset = h5file.create_dataset("d", data=np.arange(10.0), chunks=(5,), compression="gzip", fillvalue=-1.0)
    wrapped = ZarrDataIO.from_h5py_dataset(dset, chunks=(2,), compressors=False, fillvalue=7.0)
    assert wrapped.io_settings["chunks"] == (2,)
    assert wrapped.io_settings["compressors"] is None
    assert wrapped.io_settings["fill_value"] == 7.0
    assert ZarrDataIO.from_h5py_dataset(dset).io_settings["fill_value"] == -1.0


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        ("Zstd", {"name": "numcodecs.zstd", "configuration": {"level": 3}}),
        ("Blosc", {"name": "numcodecs.blosc"}),
    ],
)
def test_plugin_filters_blosc_and_zstd(h5file, plugin, expected):
    hdf5plugin = pytest.importorskip("hdf5plugin")
    options = hdf5plugin.Zstd(clevel=3) if plugin == "Zstd" else hdf5plugin.Blosc(cname="lz4", clevel=5)
    dset = h5file.create_dataset("d", data=np.arange(1000, dtype="float32"), chunks=(100,), **options)
    (codec,) = ZarrDataIO.hdf5_to_zarr_filters(dset)
    assert codec.to_dict()["name"] == expected["name"]
    if plugin == "Zstd":
        assert codec.to_dict() == expected
    else:
        config = codec.to_dict()["configuration"]
        assert config["cname"] == "lz4" and config["clevel"] == 5
    assert isinstance(codec, (nc.Zstd, nc.Blosc))


@pytest.mark.parametrize(("plugin", "name"), [("LZ4", "lz4"), ("Bitshuffle", "bitshuffle")])
def test_plugin_filters_without_zarr_equivalent_warn(h5file, plugin, name):
    hdf5plugin = pytest.importorskip("hdf5plugin")
    dset = h5file.create_dataset(
        "d", data=np.arange(1000, dtype="float32"), chunks=(100,), **getattr(hdf5plugin, plugin)()
    )
    with pytest.warns(UserWarning, match=f"/d HDF5 {name} compression ignored in Zarr"):
        assert ZarrDataIO.hdf5_to_zarr_filters(dset) == []


def test_a_from_h5py_dataset_wrapper_writes_an_nwb_series(tmp_path):
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    with h5py.File(tmp_path / "raw.h5", "w") as handle:
        dset = handle.create_dataset("d", data=np.arange(1000.0), chunks=(100,), compression="gzip", shuffle=True)
        nwbfile = mock_NWBFile()
        nwbfile.add_acquisition(TimeSeries(name="ts", data=ZarrDataIO.from_h5py_dataset(dset), unit="m", rate=1.0))
        with NWBZarrIO(tmp_path / "out.nwb.zarr", "w") as io:
            io.write(nwbfile)
    with NWBZarrIO(tmp_path / "out.nwb.zarr", "r") as io:
        data = io.read().acquisition["ts"].data
        assert [c["name"] for c in data.metadata.to_dict()["codecs"]] == [
            "bytes",
            "numcodecs.shuffle",
            "numcodecs.zlib",
        ]
        np.testing.assert_array_equal(data[:], np.arange(1000.0))
    assert NWBHDF5IO  # pynwb imported fine alongside
