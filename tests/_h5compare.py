"""Storage-level comparison of an HDF5 file with its Zarr translation (a conversion or a virtual file)."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import zarr

HIDDEN = {"_DTYPE", "_LINKS", "_REFERENCE_FIELDS"}


def _ref_path(h5: h5py.File, ref: h5py.Reference) -> str:
    return h5[ref].name if ref else ""


def _text(value):
    """Text as the walker stores it: UTF-8, or Latin-1 where the bytes are not UTF-8."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


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


def _resolves(group: h5py.Group, name: str) -> bool:
    try:
        group[name]
    except (KeyError, OSError):
        return False
    return True


def _is_region_reference(node) -> bool:
    return isinstance(node, h5py.Dataset) and h5py.check_dtype(ref=node.dtype) is h5py.RegionReference


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
            if isinstance(link, h5py.ExternalLink) and not _resolves(h5group, name):
                if name in zgroup or name in links:
                    problems.append(f"{where}/{name}: a dangling external link written")
                continue  # the linked file is not there: skipped with a warning
            if isinstance(link, h5py.ExternalLink):  # a link to the linked file's conversion, or the object copied in
                entry = links.get(name)
                if entry is not None:
                    if entry["path"] != link.path or not entry["source"].endswith(Path(link.filename).name + ".zarr"):
                        problems.append(f"{where}/{name}: external link {entry} != {link.filename}:{link.path}")
                    continue
                if name not in zgroup and name in h5group:
                    problems.append(f"{where}/{name}: external link neither kept nor copied in")
                if name not in zgroup:
                    continue
            h5node = h5group[name]
            if _is_region_reference(h5node):  # region references are skipped with a warning
                if name in zgroup:
                    problems.append(f"{where}/{name}: region references written")
                continue
            try:
                znode = zgroup[name]
            except KeyError:
                problems.append(f"{where}/{name}: missing")
                continue
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
            if np.dtype(arr.dtype).newbyteorder("<") != ds.dtype.newbyteorder("<"):  # zarr reads in native order
                problems.append(f"{where}: dtype {arr.dtype} != {ds.dtype}")
            if stored.get("_DTYPE") != ds.dtype.name:
                problems.append(f"{where}: _DTYPE {stored.get('_DTYPE')!r} != {ds.dtype.name}")
            same = np.array_equal(np.asarray(actual), np.asarray(expected), equal_nan=ds.dtype.kind in "fc")
        if not same:
            problems.append(f"{where}: values differ")

    group(h5, root)
    return problems
