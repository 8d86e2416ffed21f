"""Storage-level HDF5 -> Zarr translation (``_convert/h5walk.py``): every HDF5 object is in the Zarr file."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from _h5compare import compare_storage
from hdmf_zarr._convert.storage import convert_hdf5 as convert_hdf5_storage

#: (corpus file, whether pynwb reads it)
CASES = [
    # ecephys: electrodes table, object-reference column, vlen strings, soft links, attribute references
    ("hdmf_zarr_gallery/sub-healthy-simulated-beta_ses-162_ecephys.nwb", True),
    # a compound dataset with a reference field (TimeSeriesReferenceVectorData)
    ("pynwb_back_compat/1.5.1_timeintervals_non_ndtype_tsref.nwb", True),
    # soft links between TimeSeries (AqNWB writer)
    ("aqnwb/testLinkTimeSeriesExample.nwb", True),
    # many soft links, gzip-compressed datasets
    ("neuroconv/tests_test_on_data_test.nwb", True),
    # attribute references on the electrodes table
    ("pynwb_back_compat/3.0.0_electrodes_dynamic_table.nwb", True),
    # NWB 1.x, 813 datasets of which 242 scalars: pynwb cannot read it
    ("pynwb_misc/496908818s.nwb", False),
    # MatNWB file with an external link (its file converted next to the new one and linked): pynwb cannot read it
    ("matnwb/link_test.nwb", False),
]


# ---------------------------------------------------------------------------------------- tests
def _convert(source: Path, destination: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert_hdf5_storage(str(source), str(destination))
    return [str(w.message) for w in caught]


def _check_pynwb(source: Path, destination: Path) -> None:
    from pynwb import NWBHDF5IO

    from hdmf_zarr._roundtrip import compare_files
    from hdmf_zarr.nwb import NWBZarrIO

    with NWBHDF5IO(str(source), "r") as h5io, NWBZarrIO(str(destination), "r") as zio:
        differences = compare_files(h5io.read(), zio.read())
    assert differences == []


@pytest.mark.parametrize(("name", "pynwb_reads"), CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_corpus_file(testdata: Path, tmp_path: Path, name: str, pynwb_reads: bool) -> None:
    source = testdata / "hdf5" / name
    if not source.is_file():
        pytest.skip(f"{source} is not in the corpus")
    destination = tmp_path / "out.nwb.zarr"
    messages = _convert(source, destination)
    with h5py.File(source, "r") as h5:
        has_external = []
        h5.visititems_links(lambda n, link: has_external.append(n) if isinstance(link, h5py.ExternalLink) else None)
        assert compare_storage(h5, zarr.open_group(str(destination), mode="r")) == []
    for key in has_external:  # each linked file was converted next to the new one, and opens
        link = h5py.File(source, "r").get(key, getlink=True)
        assert (tmp_path / (Path(link.filename).name + ".zarr") / "zarr.json").is_file() or any(
            "external link" in m for m in messages
        )
    if pynwb_reads:
        _check_pynwb(source, destination)


def test_mock_file(nwbfile, tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    source = tmp_path / "mock.nwb"
    with NWBHDF5IO(str(source), "w") as io:
        io.write(nwbfile)
    destination = tmp_path / "mock.nwb.zarr"
    _convert(source, destination)
    with h5py.File(source, "r") as h5:
        assert compare_storage(h5, zarr.open_group(str(destination), mode="r")) == []
    _check_pynwb(source, destination)


def test_numeric_chunks_copied_as_stored(tmp_path: Path) -> None:
    """A gzip-compressed chunked dataset keeps its chunking and codec, and its chunks are copied as they are."""
    source = tmp_path / "plain.h5"
    data = np.arange(1000, dtype="<i4").reshape(100, 10)
    with h5py.File(source, "w") as h5:
        h5.create_dataset("data", data=data, chunks=(10, 10), compression="gzip", shuffle=True)
        h5["data"].attrs["unit"] = b"volts"
        h5.create_group("g")["link"] = h5py.SoftLink("/data")
    destination = tmp_path / "plain.zarr"
    _convert(source, destination)
    arr = zarr.open_array(str(destination / "data"), mode="r")
    assert arr.chunks == (10, 10)
    assert [c.to_dict()["name"] for c in arr.metadata.codecs][1:] == ["numcodecs.shuffle", "numcodecs.zlib"]
    with h5py.File(source, "r") as h5:
        offset_0 = h5["data"].id.read_direct_chunk((0, 0))[1]
        assert (destination / "data" / "c" / "0" / "0").read_bytes() == offset_0
        assert compare_storage(h5, zarr.open_group(str(destination), mode="r")) == []
