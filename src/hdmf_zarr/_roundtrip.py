"""Object-by-object comparison of two HDMF / NWB container trees: the one comparator of the demo and the tests.

``compare_files(expected, actual)`` walks both trees from the root in parallel and returns a list of
human-readable differences (empty when the trees match). For every container it compares the class, name,
object_id and parent, every field, and every dataset's values:

- containers held as children are compared recursively (and must be children in both trees); containers
  held by reference or link are compared by class, name and object_id;
- array-like values (h5py / zarr arrays, the lazy reference and compound wrappers of the backends, lists,
  numpy arrays, ``DataIO`` wrappers) are read and compared element by element: numbers by dtype and value
  (NaN equals NaN), text with bytes decoded, references by the target's object_id, compound rows field by
  field; large numeric arrays are read block by block;
- finally every object of each tree (``all_children``) must have been reached and paired by the walk.

It has no backend-specific code, so it compares an HDF5 read with a Zarr read, or two Zarr reads.
``RoundTripCheck`` is the same walk with the original in-memory tree as the expected one (the demo's
check that a file read back matches what was written). This module imports only numpy and hdmf.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["Allowance", "RoundTripCheck", "TreeComparison", "compare_files", "normalize", "read_values"]

#: allowance(path, field, expected, actual) -> True to accept a difference. ``field`` is ``"object_id"`` for object
#: ids and ``"__data__"`` for the data of a ``Data`` object; values that both sides hold are given normalized, a
#: field that one side lacks is given as stored, with None for the other side
Allowance = Callable[[str, str, Any, Any], bool]

#: numeric arrays at least this large (with one shape and dtype on both sides) are compared block by block
BLOCK_COMPARE_BYTES = 16 << 20
#: at most this many differences are listed (one more line counts the others)
MAX_DIFFERENCES = 50


def compare_files(expected: Any, actual: Any, allow: Allowance | None = None) -> list[str]:
    """Differences between two container trees (typically two reads of NWBFiles)."""
    return TreeComparison(allow).run(expected, actual)


class TreeComparison:
    """One walk of two container trees; ``run`` returns the differences, the counters say how much was compared.

    ``written=True`` says that ``expected`` is the in-memory tree that was written and ``actual`` the tree read
    back: a collection read back may then also list children that the original holds in a dedicated field of
    the same container (pynwb reads ``NWBFile.trials`` and ``.epochs`` into ``.intervals`` as well).
    """

    def __init__(self, allow: Allowance | None = None, *, written: bool = False) -> None:
        self.allow: Allowance = allow or _allow_nothing
        self.written = written
        self.differences: list[str] = []
        self.omitted = 0  # differences beyond MAX_DIFFERENCES
        self.objects = 0
        self.fields = 0
        self.values = 0  # array elements (or scalars) compared
        self._pairs: dict[int, Any] = {}

    def run(self, expected: Any, actual: Any) -> list[str]:
        self._container("", expected, actual)
        self._all_objects(expected, actual)
        if self.omitted:
            self.differences.append(f"... and {self.omitted} more difference(s)")
        return self.differences

    def _add(self, path: str, text: str) -> None:
        if len(self.differences) < MAX_DIFFERENCES:
            self.differences.append(f"{path or '/'}: {text}")
        else:
            self.omitted += 1

    # ------------------------------------------------------------------------ containers

    def _container(self, path: str, a: Any, b: Any) -> None:
        if id(a) in self._pairs:
            return
        self._pairs[id(a)] = b
        self.objects += 1
        if not self._same_identity(path, a, b):
            return
        fields_a, fields_b = _fields(a), _fields(b)
        for name in sorted(set(fields_a) | set(fields_b)):
            where = _at(path, name)
            if name not in fields_b:
                if not self.allow(path, name, fields_a[name], None):
                    self._add(where, f"missing in actual (expected {_short(fields_a[name])})")
            elif name not in fields_a:
                if self._all_held_elsewhere(a, fields_b[name]):
                    continue
                if not self.allow(path, name, None, fields_b[name]):
                    self._add(where, f"extra in actual ({_short(fields_b[name])})")
            else:
                self.fields += 1
                self._field(path, name, (a, b), fields_a[name], fields_b[name])

    def _same_identity(self, path: str, a: Any, b: Any) -> bool:
        if _class_name(a) != _class_name(b):
            qualified = type(a).__name__ == type(b).__name__
            self._add(path, f"class {_class_name(a, qualified)} != {_class_name(b, qualified)}")
            return False
        if a.name != b.name:
            self._add(path, f"name {a.name!r} != {b.name!r}")
            return False
        if a.object_id != b.object_id and not self.allow(path, "object_id", a.object_id, b.object_id):
            self._add(path, f"object_id {a.object_id} != {b.object_id}")
        return True

    def _field(self, path: str, name: str, holders: tuple[Any, Any], a: Any, b: Any) -> None:
        from hdmf.container import AbstractContainer

        where = _at(path, name)
        if isinstance(a, AbstractContainer) or isinstance(b, AbstractContainer):
            self._member(path, where, holders, a, b)
            return
        if name != "__data__" and (_is_container_collection(a) or _is_container_collection(b)):
            # children or references held in a dict / list field; the data of a Data (references included) are
            # values, compared in order
            items_a, items_b = _as_named(a), _as_named(b)
            missing = [key for key in items_a if key not in items_b]
            extra = [
                key for key in items_b if key not in items_a and not self._held_elsewhere(holders[0], items_b[key])
            ]
            if missing or extra:
                self._add(where, f"members {sorted(items_a)} != {sorted(items_b)} (missing {missing}, extra {extra})")
            for key in items_a:
                if key in items_b:
                    self._member(path, f"{where}[{key}]", holders, items_a[key], items_b[key])
            return
        self._values(path, name, a, b)

    def _member(self, path: str, where: str, holders: tuple[Any, Any], a: Any, b: Any) -> None:
        """A container held by a container (at ``path``): recurse into children, compare references by identity."""
        from hdmf.container import AbstractContainer

        if not isinstance(a, AbstractContainer) or not isinstance(b, AbstractContainer):
            self._add(where, f"{_short(a)} != {_short(b)}")
            return
        child_a, child_b = a.parent is holders[0], b.parent is holders[1]
        if child_a != child_b:
            how = {True: "a child", False: "a reference"}
            self._add(where, f"{how[child_a]} in expected, {how[child_b]} in actual")
        if child_a:
            self._container(f"{path}/{a.name}", a, b)
        else:
            self._same_identity(where, a, b)

    def _held_elsewhere(self, holder: Any, value: Any) -> bool:
        if not self.written:
            return False
        object_id = getattr(value, "object_id", None)
        return object_id is not None and any(
            getattr(v, "object_id", None) == object_id for v in _fields(holder).values()
        )

    def _all_held_elsewhere(self, holder: Any, value: Any) -> bool:
        return _is_container_collection(value) and all(
            self._held_elsewhere(holder, v) for v in _as_named(value).values()
        )

    def _all_objects(self, a: Any, b: Any) -> None:
        """Every object of either tree was reached by the walk, and paired with one of the other tree."""
        partners = {id(y) for y in self._pairs.values()}
        for x in a.all_children():
            if id(x) not in self._pairs:
                self._add("objects", f"{type(x).__name__} {x.name!r} ({x.object_id}) not reached in expected")
        for y in b.all_children():
            if id(y) not in partners:
                self._add("objects", f"{type(y).__name__} {y.name!r} ({y.object_id}) only in actual")

    # ------------------------------------------------------------------------ values

    def _values(self, path: str, name: str, a: Any, b: Any) -> None:
        where = _at(path, name)
        try:
            if self._blocks_equal(a, b):
                return
            va, vb = normalize(read_values(a)), normalize(read_values(b))
        except Exception as exc:  # reading failed: that is a difference worth reporting
            self._add(where, f"could not read values: {type(exc).__name__}: {exc}")
            return
        ok, why = _equal(va, vb)
        self.values += _count(va)
        if not ok and not self.allow(path, name, va, vb):
            self._add(where, why)

    def _blocks_equal(self, a: Any, b: Any) -> bool:
        """Whether two large numeric arrays of one shape and dtype are equal, read block by block.

        False when they are not such arrays, or differ: the caller then compares them in full, as any value.
        """
        a, b = _unwrap(a), _unwrap(b)
        step = _block_rows(a, b)
        if step is None:
            return False
        for lo in range(0, a.shape[0], step):
            block_a, block_b = np.asarray(a[lo : lo + step]), np.asarray(b[lo : lo + step])
            if not np.array_equal(block_a, block_b, equal_nan=block_a.dtype.kind == "f"):
                return False
        self.values += int(np.prod(a.shape, dtype=np.int64))
        return True


def _block_rows(a: Any, b: Any) -> int | None:
    """Rows per block (whole chunks, about BLOCK_COMPARE_BYTES) to compare ``a`` and ``b`` by, or None when they are
    not large numeric arrays of one shape and dtype."""
    try:  # lazy wrappers of compound and reference datasets may answer dtypes that numpy does not take
        shape, dtype = tuple(a.shape), np.dtype(a.dtype)
        if len(shape) == 0 or shape != tuple(b.shape) or dtype != np.dtype(b.dtype) or dtype.kind not in "biuf":
            return None
        row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        if row_bytes * shape[0] < BLOCK_COMPARE_BYTES:
            return None
        chunk_rows = int((getattr(b, "chunks", None) or getattr(a, "chunks", None) or (1,))[0] or 1)
    except Exception:  # not array-like enough: compared in full, as any value
        return None
    return chunk_rows * max(1, BLOCK_COMPARE_BYTES // max(1, row_bytes * chunk_rows))


def read_values(value: Any) -> Any:
    """Materialise an array-like (h5py/zarr array, backend wrapper, Data, DataIO) into numpy or a list."""
    from hdmf.container import Data

    if isinstance(value, Data):
        value = value.data
    value = _unwrap(value)
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
    from hdmf.container import AbstractContainer

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
    if isinstance(value, np.void) or isinstance(value, tuple):  # compound rows, namedtuples (TimeSeriesReference)
        return tuple(normalize(v) for v in value)
    if isinstance(value, np.ndarray):
        if value.dtype.names is None and value.dtype.kind in "biuf":
            return value
        if value.ndim == 0:
            return normalize(value[()])
        return [normalize(v) for v in value]
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    return value


def _equal(a: Any, b: Any) -> tuple[bool, str]:
    """Compare two normalized values; the text says why they differ."""
    a_arr, b_arr = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
    if a_arr and b_arr:
        if a.shape != b.shape:
            return False, f"shape {a.shape} != {b.shape}"
        if a.dtype != b.dtype:
            return False, f"dtype {a.dtype} != {b.dtype}"
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            return False, f"values differ: {_first_difference(a, b)}"
        return True, ""
    if a_arr or b_arr:
        # a numeric array against a list (a list written from memory, an empty dataset read as []): as lists
        return _equal(_as_lists(a), _as_lists(b))
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


def _as_lists(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return value


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    same = a == b
    if a.dtype.kind in "fc":
        same |= np.isnan(a) & np.isnan(b)
    bad = np.argwhere(~same)
    if not len(bad):
        return f"{_short(a)} != {_short(b)}"
    first = tuple(int(i) for i in bad[0])
    return f"{len(bad)} value(s), first at {first}: {a[first]!r} != {b[first]!r}"


def _count(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1


def _short(value: Any) -> str:
    from hdmf.container import AbstractContainer

    if isinstance(value, AbstractContainer):
        return f"{type(value).__name__} {value.name!r}"
    if _is_container_collection(value):
        text = ", ".join(f"{key!r}: {_short(v)}" for key, v in _as_named(value).items())
        text = f"{{{text}}}" if isinstance(value, Mapping) else f"[{text}]"
    else:
        text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _at(path: str, name: str) -> str:
    """Where a field is: ``/.acquisition`` for a field of the root, ``/ts.data`` for a field of its child ``ts``."""
    return f"{path or '/'}.{name}"


def _class_name(value: Any, qualified: bool = True) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}" if qualified else cls.__name__


def _allow_nothing(path: str, field: str, expected: Any, actual: Any) -> bool:
    return False


def _unwrap(value: Any) -> Any:
    from hdmf.data_utils import DataIO

    while isinstance(value, DataIO):
        value = value.data
    return value


def _fields(container: Any) -> dict[str, Any]:
    """The set fields of a container, plus the data of a Data object (as ``__data__``)."""
    from hdmf.container import Data

    out = {k: v for k, v in container.fields.items() if not _is_empty(v)}
    if isinstance(container, Data):
        out["__data__"] = container.data
    return out


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, (Mapping, list, tuple)) and len(value) == 0


def _is_container_collection(value: Any) -> bool:
    from hdmf.container import AbstractContainer

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


class RoundTripCheck(TreeComparison):
    """Compare a container tree read back from a file with the in-memory original that was written.

    ``run(original, read)`` returns the differences; object ids must match, and the file read back may list
    children of a collection that the original holds in a dedicated field (see ``TreeComparison``).
    """

    def __init__(self, allow: Allowance | None = None) -> None:
        super().__init__(allow, written=True)
