"""Compare an NWB container tree read back from a file with the in-memory original, object by object."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import numpy as np

#: arrays at least this large are compared block by block instead of loaded whole
BLOCK_COMPARE_BYTES = 16 << 20


class RoundTripCheck:
    """Compare a container tree read back from a file with the in-memory original.

    Every object is matched by ``object_id``; its type, name, parent and every field are compared.
    Datasets are compared with numpy (large ones block by block); containers inside fields are
    compared by identity (their own fields are compared when the object itself is visited).
    """

    def __init__(self) -> None:
        self.differences: list[str] = []
        self.objects = 0
        self.fields = 0
        self.values = 0  # array elements compared

    def run(self, original: Any, read: Any) -> list[str]:
        mine = {c.object_id: c for c in original.all_children()}
        theirs = {c.object_id: c for c in read.all_children()}
        for object_id in sorted(set(mine) - set(theirs)):
            self._diff(_where(mine[object_id]), "missing from the file read back")
        for object_id in sorted(set(theirs) - set(mine)):
            self._diff(_where(theirs[object_id]), "present in the file read back but not in the original")
        for object_id in mine:
            if object_id in theirs:
                self.container(mine[object_id], theirs[object_id])
        return self.differences

    def _diff(self, where: str, what: str) -> None:
        self.differences.append(f"{where}: {what}")

    def container(self, a: Any, b: Any) -> None:
        from hdmf.container import AbstractContainer, Data

        where = _where(a)
        self.objects += 1
        if type(a) is not type(b):
            self._diff(where, f"type {type(a).__name__} read back as {type(b).__name__}")
        if a.name != b.name:
            self._diff(where, f"name {a.name!r} read back as {b.name!r}")
        parent_a, parent_b = getattr(a.parent, "object_id", None), getattr(b.parent, "object_id", None)
        if parent_a != parent_b:
            self._diff(where, "parent differs")
        fields_a, fields_b = dict(a.fields), dict(b.fields)
        if isinstance(a, Data):  # hdmf keeps Data.data outside of ``fields``
            fields_a["data"], fields_b["data"] = a.data, b.data
        # pynwb leaves dict fields unset on read where the original holds an empty dict (NWBFile.analysis...)
        for mine, other in ((fields_a, fields_b), (fields_b, fields_a)):
            for name, value in other.items():
                if name not in mine and hasattr(value, "keys"):
                    mine[name] = {}
        held = {v.object_id for v in fields_a.values() if isinstance(v, AbstractContainer)}
        for name in sorted(set(fields_a) | set(fields_b)):
            if name not in fields_b:
                self._diff(f"{where}.{name}", "field missing after reading")
            elif name not in fields_a:
                self._diff(f"{where}.{name}", f"unexpected field after reading: {_short(fields_b[name])}")
            elif isinstance(fields_a[name], dict) and hasattr(fields_b[name], "keys"):
                self.fields += 1
                self.children(fields_a[name], fields_b[name], f"{where}.{name}", held)
            else:
                self.fields += 1
                self.value(fields_a[name], fields_b[name], f"{where}.{name}")

    def children(self, a: dict, b: Any, where: str, held: set[str]) -> None:
        """Compare dicts of child containers (NWBFile.acquisition, ...).

        The file read back may list, in addition, children that the original holds in a dedicated field
        of the same container (pynwb reads NWBFile.trials and .epochs into .intervals as well).
        """
        extra = [k for k in b.keys() if k not in a and getattr(b[k], "object_id", None) not in held]
        missing = [k for k in a if k not in b.keys()]
        if extra or missing:
            self._diff(where, f"children missing after reading: {missing}; unexpected: {extra}")
        for key in a:
            if key in b.keys():
                self.value(a[key], b[key], f"{where}[{key!r}]")

    def value(self, a: Any, b: Any, where: str) -> None:
        from hdmf.container import AbstractContainer
        from hdmf.data_utils import DataIO

        if isinstance(a, DataIO):
            a = a.data
        if isinstance(a, AbstractContainer):
            if not isinstance(b, AbstractContainer) or a.object_id != b.object_id:
                self._diff(where, f"refers to {_where(a)} but the file refers to {_short(b)}")
            return
        if a is None or b is None:
            if a is not b:
                self._diff(where, f"{_short(a)} read back as {_short(b)}")
            return
        if isinstance(a, dict):
            if not hasattr(b, "keys") or set(a) != set(b.keys()):
                self._diff(where, f"keys {sorted(a)} read back as {sorted(getattr(b, 'keys', list)())}")
                return
            for key in a:
                self.value(a[key], b[key], f"{where}[{key!r}]")
            return
        if _is_scalar(a):
            if not _scalar_equal(a, b):
                self._diff(where, f"{_short(a)} read back as {_short(b)}")
            self.values += 1
            return
        self.sequence(a, b, where)

    def sequence(self, a: Any, b: Any, where: str) -> None:
        """Compare array-like values: numeric arrays with numpy, other sequences element by element."""
        if isinstance(a, np.ndarray) and a.dtype.names is None and a.dtype.kind in "biuf":
            self.numeric(a, b, where)
            return
        shape_b = _shape(b)
        if not shape_b or shape_b[0] != len(a):
            self._diff(where, f"length {len(a)} read back as shape {shape_b}")
            return
        items_b = list(b[:]) if hasattr(b, "__getitem__") and not isinstance(b, (list, tuple)) else list(b)
        first = a[0] if len(a) else None
        if len(a) and (_is_scalar(first) or isinstance(first, (str, bytes))) and not _is_datetime(first):
            expected, got = np.asarray(a), np.asarray(items_b)
            if expected.dtype.kind in "biuf" and got.dtype.kind in "biuf":
                self.numeric(expected, got, where, check_dtype=False)
                return
            expected, got = _as_text(expected), _as_text(got)
            if expected.shape != got.shape or not np.array_equal(expected, got):
                self._diff(where, f"values {_short(a)} read back as {_short(items_b)}")
            self.values += expected.size
            return
        for index, (x, y) in enumerate(zip(a, items_b)):
            if isinstance(x, tuple) or isinstance(x, np.void):
                fields = list(x)
                other = list(y)
                if len(fields) != len(other):
                    self._diff(f"{where}[{index}]", f"{_short(x)} read back as {_short(y)}")
                for k, (u, v) in enumerate(zip(fields, other)):
                    self.value(u, v, f"{where}[{index}][{k}]")
            else:
                self.value(x, y, f"{where}[{index}]")

    def numeric(self, a: np.ndarray, b: Any, where: str, check_dtype: bool = True) -> None:
        shape_b = _shape(b)
        if tuple(a.shape) != tuple(shape_b):
            self._diff(where, f"shape {a.shape} read back as {shape_b}")
            return
        dtype_b = getattr(b, "dtype", None)
        if check_dtype and dtype_b is not None and np.dtype(dtype_b) != a.dtype:
            self._diff(where, f"dtype {a.dtype} read back as {dtype_b}")
        if a.nbytes >= BLOCK_COMPARE_BYTES and a.ndim >= 1:
            step = max(1, int((getattr(b, "chunks", None) or (a.shape[0],))[0]))
            for lo in range(0, a.shape[0], step):
                if not self._equal(a[lo : lo + step], np.asarray(b[lo : lo + step]), where, offset=lo):
                    return
            self.values += a.size
            return
        got = np.asarray(b[...] if hasattr(b, "shape") and not isinstance(b, np.ndarray) else b)
        self._equal(a, got, where)
        self.values += a.size

    def _equal(self, a: np.ndarray, b: np.ndarray, where: str, offset: int = 0) -> bool:
        """Compare two numeric arrays of one shape; record the first mismatch (``offset`` shifts row numbers)."""
        same = a == b
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            same |= np.isnan(a) & np.isnan(b)
        if np.all(same):
            return True
        bad = np.argwhere(~same) if a.ndim else np.zeros((1, 0), dtype=int)
        first = tuple(int(i) for i in bad[0])
        shown = (first[0] + offset, *first[1:]) if first else ()
        self._diff(
            where,
            f"{len(bad)} value(s) differ{' in rows from ' + str(offset) if offset else ''}; first at {shown}: "
            f"{a[first]!r} read back as {b[first]!r}",
        )
        return False


def _where(container: Any) -> str:
    parts = []
    node = container
    while node is not None:
        parts.append(node.name)
        node = node.parent
    path = "/".join(reversed(parts[:-1]))
    return f"{type(container).__name__} '/{path}'"


def _short(value: Any, limit: int = 80) -> str:
    from hdmf.container import AbstractContainer

    if isinstance(value, AbstractContainer):
        return _where(value)
    if hasattr(value, "shape") and not isinstance(value, (np.ndarray, np.generic)):
        return f"{type(value).__name__}(shape={value.shape})"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_short(v, 40) for v in value[:3])
        return f"[{items}{', ...' if len(value) > 3 else ''}] ({len(value)} items)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_scalar(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return isinstance(value, (str, bytes, bool, int, float, complex, np.generic, datetime, date))


def _is_datetime(value: Any) -> bool:
    return isinstance(value, (datetime, date, np.datetime64))


def _scalar_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        a = a[()]
    if isinstance(b, np.ndarray) and b.ndim == 0:
        b = b[()]
    if isinstance(a, bytes):
        a = a.decode("utf-8")
    if isinstance(b, bytes):
        b = b.decode("utf-8")
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if _is_datetime(a):
        return a == b
    try:
        if isinstance(a, (float, np.floating)) and math.isnan(a):
            return isinstance(b, (float, np.floating)) and math.isnan(b)
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _shape(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(shape)
    # only the length: np.shape would iterate the elements, which may be lazy containers
    return (len(value),) if hasattr(value, "__len__") else ()


def _as_text(values: np.ndarray) -> np.ndarray:
    flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.reshape(-1)]
    return np.array(flat, dtype=object).reshape(values.shape)
