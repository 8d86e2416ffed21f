"""Names and encodings of the hdmf-zarr storage convention (see docs/convention.md).

Everything that decides how an HDMF concept is spelled inside a Zarr hierarchy lives here:
reserved attribute names, the JSON shape of links and references, builder paths and the location
of the cached specifications.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Awaitable, Callable
from typing import Any

from zarr.abc.store import Store
from zarr.core.sync import sync

ROOT_NAME = "root"
SPEC_LOC_ATTR = ".specloc"
DEFAULT_SPEC_LOC_DIR = "specifications"
REFERENCE_DTYPE_ATTR_VALUE = "object_reference"
COMPOUND_DTYPE_MIN_STRING_LENGTH = 512

LINKS_ATTR = "_LINKS"
DTYPE_ATTR = "_DTYPE"
REFERENCE_FIELDS_ATTR = "_REFERENCE_FIELDS"
REFERENCE_KEY = "_REFERENCE"
DIMENSIONS_ATTR = "_ARRAY_DIMENSIONS"
LEGACY_DTYPE_ATTR = "zarr_dtype"
LEGACY_LINKS_ATTR = "zarr_link"
#: extra field (``{"must_understand": false}``) of a 0-d array's zarr.json: its value is its fill value
#: and it has no chunk (see _inline.py); outside ``attributes``, so no reader shows it as an attribute
INLINE_SCALAR_FIELD = "hdmf_zarr.inline_scalar"
#: extra field of an array's zarr.json: ``{"must_understand": false, "shape": [...]}`` says the writer stored
#: every chunk (fill-valued ones too) of the region ``[0, shape)``, so a missing chunk there is damage
CHUNK_RECORD_FIELD = "hdmf_zarr.stored_chunks"
#: extra field of the root zarr.json while a writer works on the file (see _writestate.py); removed when it ends
WRITE_STATE_FIELD = "hdmf_zarr.write_state"

#: attributes that belong to the convention and are never handed to HDMF as builder attributes
RESERVED_ATTRS = frozenset(
    {DTYPE_ATTR, LINKS_ATTR, REFERENCE_FIELDS_ATTR, LEGACY_DTYPE_ATTR, LEGACY_LINKS_ATTR, SPEC_LOC_ATTR}
)

SAME_STORE = "."

#: the metadata document of a Zarr v3 node, and those of a Zarr v2 node
V3_DOCUMENT = "zarr.json"
V2_DOCUMENTS = (".zgroup", ".zarray", ".zattrs")


def builder_path(builder: Any) -> str:
    """The absolute in-store path ("/a/b") of a builder, "/" for the root.

    The path runs up the builder's parents; a top builder other than the root counts where its
    ``location`` puts it (builders read from a file, or written on their own into a parent group),
    else at the top of the file.
    """
    names = []
    node = builder
    while node.parent is not None:
        names.append(node.name)
        node = node.parent
    location = getattr(node, "location", None)
    is_root = node.name == ROOT_NAME and (location is None or location.strip("/") == "")
    if not is_root:
        names.append(node.name)
    base = location if location is not None and not is_root else "/"
    return posixpath.normpath(posixpath.join("/", base, *reversed(names))).replace("\\", "/")


def reference_path(target: Any) -> str:
    """The stored path of an object reference's target; ValueError when the target is not in a file."""
    top = root_of(target)
    if top.name == ROOT_NAME or getattr(top, "location", None) is not None:
        return builder_path(target)
    raise ValueError(
        f"Cannot store a reference to '{target.name}': it is not part of the file being written "
        f"(its top-level parent is '{top.name}'). Add the referenced object to the file first."
    )


def root_of(builder: Any) -> Any:
    """The top builder above ``builder``."""
    while builder.parent is not None:
        builder = builder.parent
    return builder


def link_entry(name: str, source: str, path: str) -> dict[str, str]:
    """One ``_LINKS`` item, keys in the order the convention writes them."""
    return {"source": source, "path": path, "name": name}


def attribute_reference(path: str, source: str = SAME_STORE) -> dict[str, dict[str, str]]:
    """The JSON wrapper an object reference takes inside an attribute."""
    return {REFERENCE_KEY: {"source": source, "path": path}}


def reference_target(value: Any) -> dict[str, Any] | None:
    """Return ``{"source", "path"}`` when ``value`` is a stored attribute reference, else None.

    Understands the v3 wrapper (``{"_REFERENCE": {...}}``) and the legacy v2 wrapper
    (``{"zarr_dtype": "object", "value": {...}}``).
    """
    if not isinstance(value, dict):
        return None
    if REFERENCE_KEY in value:
        return dict(value[REFERENCE_KEY])
    if LEGACY_DTYPE_ATTR in value:
        if value[LEGACY_DTYPE_ATTR] != "object":
            raise NotImplementedError(f"attribute value of legacy dtype {value[LEGACY_DTYPE_ATTR]!r} is not supported")
        return dict(value["value"])
    return None


def parse_reference_element(value: Any) -> dict[str, Any]:
    """Normalise one stored element of a reference dataset to ``{"source", "path"}``.

    Accepts a plain absolute path, a JSON text of ``{"source", "path"}``, a dict, or a 0-d array.
    """
    if hasattr(value, "ndim") and getattr(value, "ndim", None) == 0:
        value = value[()]
        if hasattr(value, "item"):
            value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, dict):
        return {"source": value.get("source", SAME_STORE) or SAME_STORE, "path": value.get("path")}
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, dict):
                return parse_reference_element(decoded)
        return {"source": SAME_STORE, "path": value}
    raise ValueError(f"cannot interpret {value!r} as an object reference")


def spec_location(root_attributes: dict[str, Any]) -> str | None:
    """The store key of the cached-spec group that the root's ``.specloc`` names (a path or, as written
    by hdmf-zarr <= 0.13, a reference to it), or None when the file caches no specifications."""
    value = root_attributes.get(SPEC_LOC_ATTR)
    if isinstance(value, dict):
        value = (reference_target(value) or {}).get("path")
    return value.strip("/") or None if isinstance(value, str) else None


def detect_format(store: Store, exists: Callable[[str], Awaitable[bool]] | None = None) -> int | None:
    """3 or 2 for the Zarr hierarchy (or array) at the root of ``store``, None when there is none.

    A v3 root document wins over leftover v2 ones. ``exists`` asks whether a key is there (default:
    ``store.exists``). Errors of the store itself (an unreachable server) propagate; ``_stores.store_format``
    turns them into errors that name the store.
    """

    async def found(key: str) -> bool:
        return bool(await (exists or store.exists)(key))

    async def found_v2(key: str) -> bool:
        try:
            return await found(key)
        except Exception:  # noqa: BLE001 - stores that hold only Zarr v3 (Icechunk) refuse v2 key names
            if type(store).__module__.split(".")[0] != "icechunk":
                raise
            return False

    if sync(found(V3_DOCUMENT)):
        return 3
    if any(sync(found_v2(name)) for name in V2_DOCUMENTS[:2]):
        return 2
    return None


def join_key(parent: str, name: str) -> str:
    """The store key of ``name`` inside the node at ``parent`` ("" is the root)."""
    return f"{parent}/{name}" if parent else name


def parent_key(key: str) -> str:
    """The store key of the node holding ``key`` ("" for a child of the root)."""
    return key.rsplit("/", 1)[0] if "/" in key else ""
