"""Storage-level HDF5 -> Zarr translation (``_convert/h5walk.py``): every HDF5 object is in the Zarr file."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from hdmf_zarr._convert.h5walk import convert_hdf5_storage

HIDDEN = {"_LINKS", "_DTYPE", "_REFERENCE_FIELDS"}

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
    # MatNWB file with an external link (skipped with a warning): pynwb cannot read it
    ("matnwb/link_test.nwb", False),
]


# ---------------------------------------------------------------------------------------- the comparer
def _ref_path(h5: h5py.File, ref: h5py.Reference) -> str:
    return h5[ref].name if ref else ""


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _expected_attribute(h5: h5py.File, name: str, value):
    if isinstance(value, h5py.Reference):
        if name == ".specloc":
            return _ref_path(h5, value).strip("/")
        return {"_REFERENCE": {"source": ".", "path": _ref_path(h5, value)}}
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _expected_attribute(h5, name, value[()])
        return [_expected_attribute(h5, name, v) for v in value]
    if isinstance(value, np.generic):
        return _text(value.item())
    return _text(value)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _expected_values(h5: h5py.File, ds: h5py.Dataset):
    """The HDF5 dataset's values as the Zarr file should hold them (references as paths, text as str)."""
    raw = ds[()]
    if h5py.check_dtype(ref=ds.dtype) is h5py.Reference:
        if ds.shape == ():
            return _ref_path(h5, raw)
        return np.array([_ref_path(h5, r) for r in np.asarray(raw).flat], dtype=object).reshape(ds.shape)
    if ds.dtype.names:
        rows = np.asarray(raw).reshape(-1)
        out = []
        for row in rows:
            fields = []
            for n in ds.dtype.names:
                v = row[n]
                fields.append(_ref_path(h5, v) if isinstance(v, h5py.Reference) else _text(v))
            out.append(tuple(fields))
        return out
    if h5py.check_string_dtype(ds.dtype) is not None or ds.dtype.kind == "O":
        if ds.shape == ():
            return _text(raw)
        return np.array([_text(v) for v in np.asarray(raw).flat], dtype=object).reshape(ds.shape)
    return raw


def compare_storage(h5: h5py.File, root: zarr.Group) -> list[str]:
    """Differences between the HDF5 file and its Zarr translation, object by object."""
    problems: list[str] = []

    def attrs_of(h5obj, zobj, where):
        stored = dict(zobj.attrs)
        for name in h5obj.attrs:
            expected = _expected_attribute(h5, name, h5obj.attrs[name])
            if name not in stored:
                problems.append(f"{where}: attribute {name} missing")
            elif not _same(stored[name], expected):
                problems.append(f"{where}: attribute {name} {stored[name]!r} != {expected!r}")
        extra = set(stored) - set(h5obj.attrs) - HIDDEN
        if extra:
            problems.append(f"{where}: extra attributes {sorted(extra)}")
        return stored

    def group(h5group: h5py.Group, zgroup: zarr.Group) -> None:
        where = h5group.name
        stored = attrs_of(h5group, zgroup, where)
        links = {entry["name"]: entry for entry in stored.get("_LINKS", [])}
        for name in h5group:
            link = h5group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                if links.get(name) != {"source": ".", "path": link.path, "name": name}:
                    problems.append(f"{where}/{name}: soft link {links.get(name)} != {link.path}")
                continue
            if isinstance(link, h5py.ExternalLink):  # skipped by this first step
                if name in links or name in zgroup:
                    problems.append(f"{where}/{name}: external link written")
                continue
            try:
                znode = zgroup[name]
            except KeyError:
                problems.append(f"{where}/{name}: missing")
                continue
            h5node = h5group[name]
            if isinstance(h5node, h5py.Group):
                if not isinstance(znode, zarr.Group):
                    problems.append(f"{h5node.name}: not a group")
                else:
                    group(h5node, znode)
            else:
                dataset(h5node, znode)

    def dataset(ds: h5py.Dataset, arr) -> None:
        where = ds.name
        if not isinstance(arr, zarr.Array):
            problems.append(f"{where}: not an array")
            return
        stored = attrs_of(ds, arr, where)
        if arr.shape != ds.shape:
            problems.append(f"{where}: shape {arr.shape} != {ds.shape}")
            return
        expected = _expected_values(h5, ds)
        actual = arr[...]
        if h5py.check_dtype(ref=ds.dtype) is h5py.Reference:
            if stored.get("_DTYPE") != "object_reference":
                problems.append(f"{where}: _DTYPE {stored.get('_DTYPE')!r} for references")
            if ds.shape == ():
                same = actual[()] == expected
            else:
                same = np.asarray(actual, dtype=object).tolist() == expected.tolist()
        elif ds.dtype.names:
            refs = [n for n in ds.dtype.names if h5py.check_dtype(ref=ds.dtype[n]) is h5py.Reference]
            if refs and stored.get("_REFERENCE_FIELDS") != refs:
                problems.append(f"{where}: _REFERENCE_FIELDS {stored.get('_REFERENCE_FIELDS')} != {refs}")
            rows = [tuple(r) for r in np.asarray(actual).reshape(-1).tolist()]
            same = len(rows) == len(expected) and all(_same(list(a), list(e)) for a, e in zip(rows, expected))
        elif isinstance(expected, (str, np.ndarray)) and np.asarray(expected).dtype.kind in "OU":
            if stored.get("_DTYPE") != "str":
                problems.append(f"{where}: _DTYPE {stored.get('_DTYPE')!r} for text")
            same = np.asarray(actual, dtype=object).tolist() == np.asarray(expected, dtype=object).tolist()
        else:
            if np.dtype(arr.dtype) != ds.dtype:
                problems.append(f"{where}: dtype {arr.dtype} != {ds.dtype}")
            if stored.get("_DTYPE") != ds.dtype.name:
                problems.append(f"{where}: _DTYPE {stored.get('_DTYPE')!r} != {ds.dtype.name}")
            same = np.array_equal(np.asarray(actual), np.asarray(expected), equal_nan=ds.dtype.kind in "fc")
        if not same:
            problems.append(f"{where}: values differ")

    group(h5, root)
    return problems


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
    if has_external:
        assert any("external link" in m for m in messages)
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
