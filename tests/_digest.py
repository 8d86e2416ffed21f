"""A JSON digest of an NWB Zarr file, as one implementation of ``hdmf_zarr.NWBZarrIO`` reads it.

Runnable by our virtual environment and by a side environment holding the reference implementation::

    python tests/_digest.py PATH [PATH ...]

prints one JSON object ``{PATH: digest}`` (a digest is ``{"error": ...}`` when the file cannot be
read), plus ``"__implementation__"``: the version and location of the ``hdmf_zarr`` it imported.
It uses only pynwb / hdmf APIs and ``hdmf_zarr.NWBZarrIO``, which both implementations provide,
so running it under each and comparing the outputs checks that both read the same thing.

A digest has two parts:

- ``containers``: every container of the file (``NWBFile.all_children()``), keyed by its path of
  names from the root: neurodata type, object_id, and every field -- scalars as JSON values,
  containers as ``{"child"| "ref": path}``, arrays as shape, dtype and a SHA-256 of the values
  (references inside arrays are replaced by the path of their target before hashing);
- ``builders``: the stored object tree (``read_builder()``): every group, dataset and link by
  path, with its attributes (references as target paths) and, for datasets, the dtype and shape
  (and the value of scalars).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import sys
import traceback
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

#: how many leading values of an array are kept in clear next to the hash (to make diffs readable)
HEAD = 4
#: the key of the output that names the implementation (never a path)
IMPLEMENTATION_KEY = "__implementation__"


# ---------------------------------------------------------------------------- containers


def container_path(obj: Any) -> str:
    names = []
    while obj is not None and obj.parent is not None:
        names.append(obj.name)
        obj = obj.parent
    return "/" + "/".join(reversed(names))


def _is_container(value: Any) -> bool:
    from hdmf.container import AbstractContainer

    return isinstance(value, AbstractContainer)


def plain(value: Any) -> Any:
    """A JSON-able form of one element: text as str, references as ``{"ref": path}``."""
    if _is_container(value):
        return {"ref": container_path(value)}
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
        value = float(value)
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, np.void):
        return [plain(v) for v in value.tolist()] if value.dtype.names is None else [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value] if value.ndim else plain(value[()])
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return repr(value)


def materialize(value: Any) -> Any:
    """Read an array-like (h5py/zarr array, lazy reference or compound wrapper) in full."""
    if isinstance(value, (np.ndarray, list, tuple)):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "__getitem__"):
        shape = tuple(shape)
        if shape == ():
            return value[()]
        if 0 in shape:
            return np.zeros(shape, dtype=getattr(value, "dtype", None) or float) if hasattr(value, "dtype") else []
        return value[:]
    return list(value)


def array_digest(value: Any) -> dict[str, Any]:
    """Shape, a dtype class and a hash of the values of an array-like."""
    data = materialize(value)
    if isinstance(data, np.ndarray) and data.dtype.names is None and data.dtype.kind in "biufc":
        canonical = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
        return {
            "shape": list(data.shape),
            "dtype": data.dtype.name,
            "sha": hashlib.sha256(canonical.tobytes()).hexdigest()[:16],
            "head": plain(data.reshape(-1)[:HEAD]),
        }
    if isinstance(data, np.ndarray) and data.ndim == 0:
        return {"shape": [], "dtype": _kind_of(data[()]), "value": plain(data[()])}
    if not isinstance(data, (np.ndarray, list, tuple)):
        return {"shape": [], "dtype": _kind_of(data), "value": plain(data)}
    shape = list(np.shape(data)) if isinstance(data, np.ndarray) else [len(data)]
    values = plain(data)
    flat = values if isinstance(values, list) else [values]
    text = json.dumps(values, sort_keys=True)
    return {
        "shape": shape,
        "dtype": _kind_of(flat[0]) if flat else "empty",
        "sha": hashlib.sha256(text.encode()).hexdigest()[:16],
        "head": flat[:HEAD],
    }


def _kind_of(element: Any) -> str:
    element = plain(element)
    if isinstance(element, dict) and "ref" in element:
        return "reference"
    if isinstance(element, list):
        return "compound" if element and not isinstance(element[0], list) else "array"
    if isinstance(element, str):
        return "text"
    return type(element).__name__


def field_digest(holder: Any, value: Any) -> Any:
    from hdmf.container import Data

    if _is_container(value):
        key = "child" if value.parent is holder else "ref"
        return {key: container_path(value)}
    if isinstance(value, Mapping):
        if value and all(_is_container(v) for v in value.values()):
            return {str(k): field_digest(holder, v) for k, v in sorted(value.items())}
        return plain(value)
    if isinstance(value, (list, tuple)) and value and all(_is_container(v) for v in value):
        return [field_digest(holder, v) for v in value]
    if isinstance(value, Data):
        return array_digest(value.data)
    if isinstance(value, np.generic):
        return {"value": plain(value), "dtype": value.dtype.name}
    if isinstance(value, (str, bytes, bool, int, float, datetime.date)) or value is None:
        return plain(value)
    return array_digest(value)


def container_digest(obj: Any) -> dict[str, Any]:
    from hdmf.container import Data

    out: dict[str, Any] = {
        "type": f"{getattr(obj, 'namespace', '?')}:{getattr(obj, 'neurodata_type', type(obj).__name__)}",
        "class": type(obj).__name__,
        "object_id": obj.object_id,
        "fields": {},
    }
    for name, value in sorted(obj.fields.items()):
        if value is None or (isinstance(value, (Mapping, list, tuple)) and len(value) == 0):
            continue
        try:
            out["fields"][name] = field_digest(obj, value)
        except Exception as exc:
            out["fields"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    if isinstance(obj, Data):
        try:
            out["data"] = array_digest(obj.data)
        except Exception as exc:
            out["data"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


# ---------------------------------------------------------------------------- builders


def builder_path(builder: Any) -> str:
    names = []
    while builder is not None and builder.parent is not None:
        names.append(builder.name)
        builder = builder.parent
    return "/" + "/".join(reversed(names))


def attribute_value(value: Any) -> Any:
    from hdmf.build import Builder, ReferenceBuilder

    if isinstance(value, ReferenceBuilder):
        value = value.builder
    if isinstance(value, Builder):
        return {"ref": builder_path(value)}
    return plain(value)


def builder_dtype(dtype: Any) -> Any:
    """A builder's dtype as text: a numpy or spec dtype name, or ``[[name, dtype], ...]`` for compounds."""
    if dtype is None or isinstance(dtype, str):
        return dtype
    if isinstance(dtype, Mapping):
        return [dtype.get("name"), builder_dtype(dtype.get("dtype"))]
    if isinstance(dtype, (list, tuple)):
        return [builder_dtype(f) if isinstance(f, Mapping) else [f.name, builder_dtype(f.dtype)] for f in dtype]
    try:
        return np.dtype(dtype).name
    except Exception:
        return repr(dtype)


def builder_digest(root: Any) -> dict[str, Any]:
    from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder

    out: dict[str, Any] = {}

    def visit(builder: Any, path: str) -> None:
        if isinstance(builder, LinkBuilder):
            out[path] = {"kind": "link", "target": builder_path(builder.builder)}
            return
        attrs = {k: attribute_value(v) for k, v in sorted(builder.attributes.items())}
        if isinstance(builder, DatasetBuilder):
            shape = getattr(builder.data, "shape", None)
            out[path] = {
                "kind": "dataset",
                "attributes": attrs,
                "dtype": builder_dtype(builder.dtype),
                "shape": list(shape) if shape is not None else None,
            }
            if shape is None or tuple(shape) == ():
                out[path]["value"] = attribute_value(builder.data)
            return
        out[path] = {"kind": "group", "attributes": attrs}
        assert isinstance(builder, GroupBuilder)
        for child in (*builder.groups.values(), *builder.datasets.values(), *builder.links.values()):
            visit(child, f"{path.rstrip('/')}/{child.name}")

    visit(root, "/")
    return out


# ---------------------------------------------------------------------------- entry points


def digest(path: str) -> dict[str, Any]:
    from hdmf_zarr import NWBZarrIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBZarrIO(path, "r") as io:
            nwbfile = io.read()
            containers: dict[str, Any] = {}
            for obj in [nwbfile, *nwbfile.all_children()]:
                key = container_path(obj)
                if key in containers and containers[key]["object_id"] != obj.object_id:
                    key = f"{key}#{obj.object_id}"
                containers[key] = container_digest(obj)
            builders = builder_digest(io.read_builder())
    return {"containers": dict(sorted(containers.items())), "builders": dict(sorted(builders.items()))}


def implementation() -> dict[str, str]:
    """Which ``hdmf_zarr`` this interpreter imports (so a caller can check it ran the one it meant)."""
    import hdmf_zarr

    return {"version": getattr(hdmf_zarr, "__version__", "?"), "file": str(hdmf_zarr.__file__)}


def main(argv: list[str]) -> int:
    results: dict[str, Any] = {IMPLEMENTATION_KEY: implementation()}
    for path in argv:
        try:
            results[path] = digest(path)
        except Exception as exc:
            results[path] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    json.dump(results, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
