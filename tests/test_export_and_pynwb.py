"""Export between HDF5 and Zarr, and pynwb's entry points (read_nwb, validate)."""

from __future__ import annotations

import numpy as np
import pynwb
import pytest
from hdmf.backends.errors import UnsupportedOperation
from pynwb import NWBHDF5IO

from hdmf_zarr import NWBZarrIO


def _series_name(nwbfile):
    return next(k for k in nwbfile.acquisition if k.startswith("ElectricalSeries"))


def _assert_same(read, original):
    name = _series_name(original)
    np.testing.assert_array_equal(read.acquisition[name].data[:], original.acquisition[name].data[:])
    assert read.units.to_dataframe().shape == original.units.to_dataframe().shape
    np.testing.assert_array_equal(read.units["spike_times"][0], original.units["spike_times"][0])
    assert read.electrodes["group"][0].name == original.electrodes["group"][0].name
    assert read.identifier == original.identifier


@pytest.fixture
def h5_path(tmp_path, nwbfile):
    path = tmp_path / "source.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_export_from_hdf5_with_default_arguments_copies_data(h5_path, zarr_path, nwbfile):
    with NWBHDF5IO(h5_path, "r") as src, NWBZarrIO(zarr_path, "w") as dst:
        dst.export(src_io=src)
    h5_path.unlink()
    with NWBZarrIO(zarr_path, "r") as io:
        _assert_same(io.read(), nwbfile)


def test_export_zarr_to_zarr_copies_into_the_new_store(zarr_path, tmp_path, nwbfile):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    target = tmp_path / "copy.nwb.zarr"
    with NWBZarrIO(zarr_path, "r") as src, NWBZarrIO(target, "w") as dst:
        dst.export(src_io=src)
    assert (target / "acquisition" / _series_name(nwbfile) / "data" / "zarr.json").is_file()
    with NWBZarrIO(target, "r") as io:
        _assert_same(io.read(), nwbfile)


def test_export_zarr_to_hdf5(zarr_path, tmp_path, nwbfile):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    target = tmp_path / "back.nwb"
    with NWBZarrIO(zarr_path, "r") as src, NWBHDF5IO(target, "w") as dst:
        dst.export(src_io=src, write_args={"link_data": False})
    with NWBHDF5IO(target, "r") as io:
        _assert_same(io.read(), nwbfile)


def test_export_requires_mode_w(zarr_path, h5_path):
    with NWBHDF5IO(h5_path, "r") as src, NWBZarrIO(zarr_path, "a") as dst:
        with pytest.raises(UnsupportedOperation, match="mode 'w'"):
            dst.export(src_io=src)


def test_pynwb_read_nwb_and_class_read_nwb(zarr_path, nwbfile):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    for read in (pynwb.read_nwb(zarr_path), NWBZarrIO.read_nwb(zarr_path)):
        _assert_same(read, nwbfile)
        read.read_io.close()


def test_pynwb_validate_by_io_and_by_path(zarr_path, nwbfile):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    with NWBZarrIO(zarr_path, "r") as io:
        assert pynwb.validate(io=io) == []
    assert pynwb.validate(path=str(zarr_path)) == []


def test_can_read(zarr_path, tmp_path, nwbfile):
    assert not NWBZarrIO.can_read(zarr_path)
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    assert NWBZarrIO.can_read(path=str(zarr_path))
    (tmp_path / "plain.txt").write_text("x")
    assert not NWBZarrIO.can_read(tmp_path / "plain.txt")
