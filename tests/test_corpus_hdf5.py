"""Every HDF5 file of the test-data corpus through the storage-level walker: converted (``hdmf-zarr convert``,
data copied) and virtualized (a JSON reference file; an Icechunk repository for a few), each checked object by
object at storage level and, where pynwb reads the source, read to the NWBFile NWBHDF5IO reads."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import pytest
import zarr

from _h5compare import compare_storage
from conftest import TESTDATA
from hdmf_zarr.nwb import NWBZarrIO

CORPUS = sorted(str(p.relative_to(TESTDATA / "hdf5")) for p in (TESTDATA / "hdf5").rglob("*") if p.is_file())
#: a few kinds of file also virtualized into an Icechunk repository (the JSON kind covers the whole corpus)
ICECHUNK_TOO = {
    "hdmf_zarr_gallery/sub-healthy-simulated-beta_ses-162_ecephys.nwb",
    "pynwb_back_compat/1.5.1_timeintervals_non_ndtype_tsref.nwb",
    "neuroconv/tests_test_on_data_test.nwb",
    "matnwb/link_test.nwb",
    "pynwb_back_compat/2.1.0_imageseries_no_data.nwb",
}


def _nwb_differences(source: Path, destination: Path) -> list[str] | None:
    """Differences between the NWBFiles read from ``source`` (HDF5) and ``destination`` (Zarr), leaving out
    those two reads of the source already disagree on (object ids pynwb makes up for files that lack them);
    None when pynwb cannot read the source."""
    from pynwb import NWBHDF5IO

    from hdmf_zarr._roundtrip import compare_files

    try:
        with NWBHDF5IO(str(source), "r") as first, NWBHDF5IO(str(source), "r") as second:
            unstable = {d.split(":")[0] for d in compare_files(first.read(), second.read())}
    except Exception:  # noqa: BLE001 - pynwb cannot read this file: nothing to compare at NWB level
        return None
    with NWBHDF5IO(str(source), "r") as h5io, NWBZarrIO(str(destination), "r") as zio:
        differences = compare_files(h5io.read(), zio.read())
    return [d for d in differences if d.split(":")[0] not in unstable]


def _storage_differences(source: Path, group: zarr.Group) -> list[str]:
    with h5py.File(source, "r") as h5:
        return compare_storage(h5, group)


@pytest.mark.parametrize("name", CORPUS or ["(no corpus)"])
def test_corpus_file_converts_and_virtualizes(testdata: Path, tmp_path: Path, name: str) -> None:
    from hdmf_zarr._convert.convert import convert
    from hdmf_zarr._stores import open_store
    from hdmf_zarr.virtual import virtualize

    source = testdata / "hdf5" / name
    if not h5py.is_hdf5(source):
        pytest.skip(f"{name} is not an HDF5 file")
    copied, referenced = tmp_path / "copy.nwb.zarr", tmp_path / "virtual.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # filters without zarr codecs, links to files not in the corpus
        convert(str(source), str(copied))
        virtualize(source, referenced)
    destinations = [copied, referenced]
    if name in ICECHUNK_TOO:
        destinations.append(tmp_path / "virtual.repo")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            virtualize(source, destinations[-1])
    for destination in destinations:
        group = zarr.open_group(open_store(str(destination), "r"), mode="r")
        assert _storage_differences(source, group) == [], destination.name
        assert not _nwb_differences(source, destination), destination.name
