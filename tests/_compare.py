"""Object-by-object comparison of two NWB (or HDMF) container trees.

``compare_files(expected, actual)`` walks both trees from the root in parallel and returns a list of
human-readable differences (empty when the trees match). It compares, for every container: its
class, name and object_id, every field, and every dataset's values:

- containers held as children are compared recursively; containers held by reference or link
  (not children of the holder) are compared by class, name and object_id;
- array-like values (h5py / zarr arrays, the lazy reference and compound wrappers of the backends,
  lists, numpy arrays) are read in full and compared element by element: numbers by dtype and
  value (NaN equals NaN), text with bytes decoded, references by the target's object_id, compound
  rows field by field;
- finally every object of each tree (``all_children``) must have been reached and paired by the walk.

It has no backend-specific code, so it compares an HDF5 read with a Zarr read, or two Zarr reads.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from hdmf.container import AbstractContainer, Data

__all__ = ["compare_files", "normalize", "read_values"]

#: allowance(path, field, expected, actual) -> True to accept a difference
Allowance = Callable[[str, str, Any, Any], bool]

_MAX_DIFFS = 50


def compare_files(expected: Any, actual: Any, allow: Allowance | None = None) -> list[str]:
    """Differences between two container trees (typically two NWBFile reads)."""
    walker = _Walker(allow or (lambda *args: False))
    walker.container("", expected, actual)
    walker.all_objects(expected, actual)
    return walker.diffs


# ---------------------------------------------------------------------------- values


def read_values(value: Any) -> Any:
    """Materialise an array-like (h5py/zarr array, backend wrapper, Data) into numpy or a list."""
    if isinstance(value, Data):
        value = value.data
    if isinstance(value, (np.ndarray, list, tuple)):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "__getitem__"):
        if tuple(shape) == ():
            return value[()]
        if 0 in tuple(shape):
            return np.asarray(value[...] if hasattr(value, "dtype") else [])
        return value[:]
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, Mapping)):
        return list(value)
    return value


def normalize(value: Any) -> Any:
    """A plain, comparable form of a value: text as str, references as ('container', type, id, name)."""
    if isinstance(value, AbstractContainer):
        return ("container", type(value).__name__, value.object_id, value.name)
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.void) or (isinstance(value, tuple) and not hasattr(value, "_fields")):
        return tuple(normalize(v) for v in value)
    if isinstance(value, tuple):  # namedtuple (e.g. TimeSeriesReference)
        return tuple(normalize(v) for v in value)
    if isinstance(value, np.ndarray):
        if value.dtype.names is None and value.dtype.kind in "biuf" and value.dtype.kind != "O":
            return value
        if value.ndim == 0:
            return normalize(value[()])
        return [normalize(v) for v in value]
    if isinstance(value, (list,)):
        return [normalize(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    return value


def _equal(a: Any, b: Any) -> tuple[bool, str]:
    """Compare two normalized values; the text says why they differ."""
    a_arr, b_arr = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
    if a_arr or b_arr:
        if not (a_arr and b_arr):
            # a numeric array against a list (e.g. an empty dataset read as []): compare as lists
            a_list = a.tolist() if a_arr else a
            b_list = b.tolist() if b_arr else b
            if a_list == b_list:
                return True, ""
            return False, f"{_short(a)} != {_short(b)}"
        if a.shape != b.shape:
            return False, f"shape {a.shape} != {b.shape}"
        if a.dtype != b.dtype:
            return False, f"dtype {a.dtype} != {b.dtype}"
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            return False, f"values differ: {_short(a)} != {_short(b)}"
        return True, ""
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True, ""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False, f"length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            ok, why = _equal(x, y)
            if not ok:
                return False, f"[{i}]: {why}"
        return True, ""
    if a != b:
        return False, f"{_short(a)} != {_short(b)}"
    return True, ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


# ---------------------------------------------------------------------------- walker


class _Walker:
    def __init__(self, allow: Allowance) -> None:
        self.allow = allow
        self.diffs: list[str] = []
        self.pairs: dict[int, Any] = {}

    def add(self, path: str, text: str) -> None:
        if len(self.diffs) < _MAX_DIFFS:
            self.diffs.append(f"{path or '/'}: {text}")

    def container(self, path: str, a: AbstractContainer, b: AbstractContainer) -> None:
        if id(a) in self.pairs:
            return
        self.pairs[id(a)] = b
        if not self._same_identity(path, a, b):
            return
        fields_a, fields_b = _fields(a), _fields(b)
        for name in sorted(set(fields_a) | set(fields_b)):
            where = f"{path}.{name}"
            if name not in fields_b:
                if not self.allow(path, name, fields_a[name], None):
                    self.add(where, f"missing in actual (expected {_short(fields_a[name])})")
                continue
            if name not in fields_a:
                if not self.allow(path, name, None, fields_b[name]):
                    self.add(where, f"extra in actual ({_short(fields_b[name])})")
                continue
            self.field(path, name, a, fields_a[name], fields_b[name])

    def _same_identity(self, path: str, a: Any, b: Any) -> bool:
        if type(a).__name__ != type(b).__name__:
            self.add(path, f"class {type(a).__name__} != {type(b).__name__}")
            return False
        if a.name != b.name:
            self.add(path, f"name {a.name!r} != {b.name!r}")
            return False
        if a.object_id != b.object_id and not self.allow(path, "object_id", a.object_id, b.object_id):
            self.add(path, f"object_id {a.object_id} != {b.object_id}")
        return True

    def field(self, path: str, name: str, holder: Any, a: Any, b: Any) -> None:
        where = f"{path}.{name}"
        if isinstance(a, AbstractContainer) or isinstance(b, AbstractContainer):
            self.member(path, where, holder, a, b)
            return
        if _is_container_collection(a) or _is_container_collection(b):
            items_a, items_b = _as_named(a), _as_named(b)
            if list(items_a) != list(items_b) and sorted(items_a) != sorted(items_b):
                self.add(where, f"members {sorted(items_a)} != {sorted(items_b)}")
                return
            for key in items_a:
                self.member(path, f"{where}[{key}]", holder, items_a[key], items_b[key])
            return
        try:
            va, vb = normalize(read_values(a)), normalize(read_values(b))
        except Exception as exc:  # reading failed: that is a difference worth reporting
            self.add(where, f"could not read values: {type(exc).__name__}: {exc}")
            return
        ok, why = _equal(va, vb)
        if not ok and not self.allow(path, name, va, vb):
            self.add(where, why)

    def member(self, path: str, where: str, holder: Any, a: Any, b: Any) -> None:
        """A container held by ``holder`` (at ``path``): recurse into children, compare references by identity."""
        if not isinstance(a, AbstractContainer) or not isinstance(b, AbstractContainer):
            self.add(where, f"{_short(a)} != {_short(b)}")
            return
        if a.parent is holder:
            self.container(f"{path}/{a.name}", a, b)
        else:
            self._same_identity(where, a, b)

    def all_objects(self, a: Any, b: Any) -> None:
        """Every object of either tree was reached by the walk, and paired with one of the other tree."""
        partners = {id(y) for y in self.pairs.values()}
        for x in a.all_children():
            if id(x) not in self.pairs:
                self.add("objects", f"{type(x).__name__} {x.name!r} ({x.object_id}) not reached in expected")
        for y in b.all_children():
            if id(y) not in partners:
                self.add("objects", f"{type(y).__name__} {y.name!r} ({y.object_id}) only in actual")


def _fields(container: Any) -> dict[str, Any]:
    """The set fields of a container, plus the data of a Data object."""
    out = {k: v for k, v in container.fields.items() if not _is_empty(v)}
    if isinstance(container, Data):
        out["__data__"] = container.data
    return out


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (Mapping, list, tuple)) and len(value) == 0:
        return True
    return False


def _is_container_collection(value: Any) -> bool:
    if isinstance(value, Mapping):
        return len(value) > 0 and all(isinstance(v, AbstractContainer) for v in value.values())
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and all(isinstance(v, AbstractContainer) for v in value)
    return False


def _as_named(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return {getattr(v, "name", str(i)): v for i, v in enumerate(value)}
    return {}
