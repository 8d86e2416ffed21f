"""Every HDF5 file of the test-data corpus through the storage-level walker: converted (``hdmf-zarr convert``,
data copied) and virtualized (a JSON reference file and an Icechunk repository), each checked object by
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
#: files Icechunk cannot hold: it refuses the bare NaN that zarr writes for a NaN attribute (``conversion``)
NOT_FOR_ICECHUNK = {"pynwb_misc/496908818s.nwb": "an attribute is NaN, which Icechunk refuses in zarr.json"}


def _nwb_differences(source: Path, destinations: list[Path]) -> dict[str, list[str]] | None:
    """Differences between the NWBFile read from ``source`` (HDF5) and each of ``destinations`` (Zarr), leaving out
    those two reads of the source already disagree on (object ids pynwb makes up for files that lack them); None
    when pynwb cannot read the source."""
    from pynwb import NWBHDF5IO

    from hdmf_zarr._roundtrip import compare_files

    try:
        first, second = NWBHDF5IO(str(source), "r"), NWBHDF5IO(str(source), "r")
        original = first.read()
        unstable = {d.split(":")[0] for d in compare_files(original, second.read())}
    except Exception:  # noqa: BLE001 - pynwb cannot read this file: nothing to compare at NWB level
        return None
    try:
        found = {}
        for destination in destinations:
            with NWBZarrIO(str(destination), "r") as zio:
                differences = compare_files(original, zio.read())
            found[destination.name] = [d for d in differences if d.split(":")[0] not in unstable]
        return found
    finally:
        first.close()
        second.close()


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
    if name not in NOT_FOR_ICECHUNK:
        destinations.append(tmp_path / "virtual.repo")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            virtualize(source, destinations[-1])
    for destination in destinations:
        group = zarr.open_group(open_store(str(destination), "r"), mode="r")
        assert _storage_differences(source, group) == [], destination.name
    differences = _nwb_differences(source, destinations)
    if differences is not None:
        assert differences == {d.name: [] for d in destinations}
