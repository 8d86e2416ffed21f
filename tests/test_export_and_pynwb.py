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


def test_nwbzarrio_export_takes_every_argument_of_zarrio_export():
    from hdmf.utils import get_docval

    from hdmf_zarr import ZarrIO

    def arguments(method, renamed=None):
        return {(renamed or {}).get(a["name"], a["name"]): (a.get("default"), a["type"]) for a in get_docval(method)}

    theirs = arguments(NWBZarrIO.export, {"nwbfile": "container"})
    ours = arguments(ZarrIO.export)
    assert set(theirs) == set(ours)
    assert {k: v[0] for k, v in theirs.items()} == {k: v[0] for k, v in ours.items()}


def _export_error(dst_class, dst_path, src, **kwargs):
    with dst_class(dst_path, "w") as dst:
        with pytest.raises(Exception) as raised:
            dst.export(src_io=src, **kwargs)
    return raised.value


def test_export_checks_its_arguments_as_hdf5io_does(h5_path, zarr_path, tmp_path, nwbfile):
    """Same exception types as NWBHDF5IO.export for the same mistakes, raised before anything is exported."""
    with NWBHDF5IO(h5_path, "r") as src:
        src.read()
        cases = {
            "not read by src_io": {"nwbfile": nwbfile},  # the in-memory original, never read by src
        }
        for what, kwargs in cases.items():
            ours = _export_error(NWBZarrIO, tmp_path / f"{what}.zarr", src, **kwargs)
            theirs = _export_error(NWBHDF5IO, tmp_path / f"{what}.nwb", src, **kwargs)
            assert type(ours) is type(theirs) is ValueError, what
            assert "must have been read by the provided src_io" in str(ours)
    with NWBHDF5IO(h5_path, "r") as src, NWBZarrIO(zarr_path, "w") as io:
        io.export(src_io=src)
    # link_data=True from a source of another backend: HDF5IO refuses a Zarr source the same way
    with NWBHDF5IO(h5_path, "r") as src:
        ours = _export_error(NWBZarrIO, tmp_path / "linked.zarr", src, write_args={"link_data": True})
    with NWBZarrIO(zarr_path, "r") as src:
        theirs = _export_error(NWBHDF5IO, tmp_path / "linked.nwb", src, write_args={"link_data": True})
    assert type(ours) is type(theirs) is UnsupportedOperation
    assert "link_data=True" in str(ours) and "NWBHDF5IO" in str(ours)
    # a container given while src_io has no BuildManager
    with NWBHDF5IO(h5_path, "r") as src:
        read = src.read()
        src._HDMFIO__manager = None
        ours = _export_error(NWBZarrIO, tmp_path / "nomanager.zarr", src, nwbfile=read)
        theirs = _export_error(NWBHDF5IO, tmp_path / "nomanager.nwb", src, nwbfile=read)
    assert type(ours) is type(theirs) is ValueError
    assert "BuildManager" in str(ours)


def test_export_of_an_unmodified_file_does_not_rebuild_it(h5_path, zarr_path, monkeypatch):
    """Default arguments export the builders as read (as HDF5 -> HDF5 export does): no container is rebuilt,
    so files that pynwb cannot rebuild still export."""
    from hdmf.build import BuildManager

    def refuse(*args, **kwargs):
        raise AssertionError("export rebuilt a container")

    with NWBHDF5IO(h5_path, "r") as src, NWBZarrIO(zarr_path, "w") as dst:
        src.read()
        monkeypatch.setattr(BuildManager, "build", refuse)
        dst.export(src_io=src)
        monkeypatch.undo()
    with NWBHDF5IO(h5_path, "r") as src, NWBZarrIO(zarr_path, "r") as zio:
        original, read = src.read(), zio.read()
        _assert_same(read, original)
