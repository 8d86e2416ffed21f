"""Reading Zarr v2 stores written by hdmf-zarr <= 0.13 through the same builder reader as v3.

:class:`V2StoreIndex` is the v2 flavour of :class:`~hdmf_zarr._read.builders.StoreIndex`: it builds the
metadata of every node from ``.zmetadata`` (one request) or, without it, from the ``.zgroup`` /
``.zarray`` / ``.zattrs`` documents of a listing. Arrays zarr-python 3 can open stay lazy
``zarr.Array`` objects; the others (pickled references, JSON-coded specs, vlen-bytes text,
structured arrays with object fields) and the one-element ``scalar`` arrays are decoded by hand into
in-memory arrays when the file is read, their chunks fetched in one concurrent batch (they are small).
The legacy conventions the builder reader does not know (compound reference fields spelled in
``zarr_dtype``) are translated here, so one reader serves both formats.
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.metadata.v2 import ArrayV2Metadata
from zarr.core.sync import sync

from .._arrays import array_from_metadata
from .._convention import LEGACY_DTYPE_ATTR, REFERENCE_FIELDS_ATTR, spec_location
from .._read.arrays import HDMFZarrArray, ZarrReference
from .._read.builders import StoreIndex
from ..errors import DamagedFileError
from .decode import chunk_keys, codec_ids, decode_array, fetch_chunks, numpy_dtype, zarr_cannot_read
from .safe_pickle import LegacyReference, UnsafePickleCodecError

__all__ = ["V2StoreIndex", "LegacyArrayMetadata", "legacy_source_location"]

_DOCUMENTS = (".zgroup", ".zarray", ".zattrs")


@dataclass
class LegacyArrayMetadata:
    """The ``.zarray`` and ``.zattrs`` of an array read by hand (zarr-python cannot open it)."""

    zarray: dict[str, Any]
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.zarray["shape"])

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self.zarray["chunks"])

    @property
    def dtype(self) -> np.dtype:
        return numpy_dtype(self.zarray["dtype"])


class V2StoreIndex(StoreIndex):
    """The node metadata of a Zarr v2 store, with hand decoding for the arrays zarr cannot open."""

    zarr_format = 2

    def __init__(
        self,
        store: Store,
        nodes: dict[str, Any],
        zarrays: dict[str, dict[str, Any]],
        allow_pickle: bool = False,
        skipped: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(store, nodes)
        self.zarrays = zarrays
        self.allow_pickle = allow_pickle
        self.skipped: list[tuple[str, str]] = list(skipped or [])
        self._decoded: dict[str, np.ndarray] = {}
        self._raw: dict[str, bytes | None] = {}
        self._specloc = spec_location(nodes[""].attributes)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, store: Store, allow_pickle: bool = False) -> V2StoreIndex:  # type: ignore[override]
        documents = sync(_documents(store))
        nodes, zarrays, skipped = {}, {}, []
        for key, docs in sorted(documents.items()):
            attrs = docs.get(".zattrs") or {}
            if ".zarray" in docs:
                try:
                    nodes[key] = _array_metadata(docs[".zarray"], attrs)
                except Exception as err:
                    skipped.append(("/" + key, f"unreadable .zarray: {type(err).__name__}: {err}"))
                    continue
                zarrays[key] = docs[".zarray"]
            elif ".zgroup" in docs or key == "":
                nodes[key] = GroupMetadata(attributes=attrs, zarr_format=2)
        _drop_orphans(nodes, zarrays)
        for path, reason in skipped:
            warnings.warn(f"Skipping '{path}': {reason}", UserWarning, stacklevel=3)
        return cls(store, nodes, zarrays, allow_pickle, skipped)

    def prepare(self, ignored: Callable[[str], bool]) -> None:
        """Decode every hand-decoded array of the tree (one concurrent fetch of their chunks).

        Unreadable arrays are recorded in ``skipped`` and left out; a refused pickle raises
        :class:`UnsafePickleCodecError`.
        """
        keys = [k for k in self.zarrays if not ignored(k) and self.is_hand_decoded(k) and k not in self._decoded]
        self._prefetch(keys)
        for key in keys:
            try:
                self.decode(key)
            except UnsafePickleCodecError:
                raise
            except ValueError as err:
                self._skip(key, str(err))

    def _prefetch(self, keys: list[str]) -> None:
        wanted = [chunk for k in keys for chunk in chunk_keys(k, self.zarrays[k]).values() if chunk not in self._raw]
        self._raw.update(fetch_chunks(self.store, wanted))

    def _is_scalar(self, key: str) -> bool:
        zarray = self.zarrays[key]
        return (
            zarray["shape"] in ([1], [])
            and list(zarray["chunks"]) == list(zarray["shape"])
            and self.nodes[key].attributes.get(LEGACY_DTYPE_ATTR) == "scalar"
        )

    def _in_specs(self, key: str) -> bool:
        return self._specloc is not None and key.startswith(self._specloc + "/")

    def _skip(self, key: str, reason: str) -> None:
        """Forget an unreadable node (and everything below it), recording why."""
        self.skipped.append(("/" + key, reason))
        warnings.warn(f"Skipping '/{key}': {reason}", UserWarning, stacklevel=4)
        for other in [k for k in self.nodes if k == key or k.startswith(key + "/")]:
            del self.nodes[other]
            self.zarrays.pop(other, None)
        siblings = self.children.get(key.rsplit("/", 1)[0] if "/" in key else "", [])
        if key in siblings:
            siblings.remove(key)

    # ------------------------------------------------------------------ node access (StoreIndex hooks)
    def attributes(self, key: str) -> dict[str, Any]:
        attrs = dict(self.nodes[key].attributes)
        legacy = attrs.get(LEGACY_DTYPE_ATTR)
        if isinstance(legacy, list):  # compound: reference fields are the ones whose dtype is "object"
            refs = [f["name"] for f in legacy if isinstance(f, dict) and f.get("dtype") == "object"]
            if refs:
                attrs[REFERENCE_FIELDS_ATTR] = refs
        return attrs

    def native_dtype(self, key: str) -> np.dtype:
        meta = self.nodes[key]
        if isinstance(meta, ArrayV2Metadata):
            return meta.dtype.to_native_dtype()
        return meta.dtype

    def chunk_shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.zarrays[key]["chunks"])

    def is_hand_decoded(self, key: str) -> bool:
        """Arrays zarr cannot open, and one-element ``scalar`` arrays (decoded in one batch, not one by one)."""
        return not isinstance(self.nodes[key], ArrayV2Metadata) or self._is_scalar(key)

    def source_location(self, here: str, source: str) -> str:
        """Where a link's ``source`` points; local files of hdmf-zarr <= 0.10 wrote it relative to the parent folder."""
        from .._stores import is_url, resolve_source

        return resolve_source(here, source) if is_url(here) else legacy_source_location(here, source)

    def array(self, key: str) -> Any:
        """A lazy ``zarr.Array``, or the in-memory values of an array decoded by hand."""
        if self.is_hand_decoded(key):
            return self.decode(key)
        return array_from_metadata(self.store, key, self.nodes[key], HDMFZarrArray)

    def fetch_scalars(self, keys: list[str]) -> dict[str, Any]:
        self._prefetch([k for k in keys if k not in self._decoded])
        return {key: self.decode(key) for key in keys}

    # ------------------------------------------------------------------ decoding
    def decode(self, key: str) -> np.ndarray:
        """The values of the array at ``key``, decoded by hand (cached)."""
        values = self._decoded.get(key)
        if values is None:
            zarray = self.zarrays[key]
            allow_pickle = self.allow_pickle
            if self._in_specs(key):
                allow_pickle = False
                if "pickle" in codec_ids(zarray):
                    raise UnsafePickleCodecError(
                        f"The cached spec '/{key}' is stored with the pickle codec; cached specs are never "
                        "unpickled, with or without allow_pickle=True."
                    )
            raw = {chunk: self._raw.pop(chunk) for chunk in chunk_keys(key, zarray).values() if chunk in self._raw}
            values = decode_array(self.store, key, zarray, allow_pickle, raw)
            values = _plain_references(values)
            self._decoded[key] = values
        return values


def _plain_references(values: np.ndarray) -> np.ndarray:
    """Legacy reference objects (``ZarrReference`` and its stand-in) as plain dicts."""
    if not values.dtype.hasobject:
        return values
    kinds = (LegacyReference, ZarrReference)
    if values.dtype.names:
        for name in values.dtype.names:
            if values.dtype[name].hasobject:
                column = values[name]
                for index, item in np.ndenumerate(column):
                    if isinstance(item, kinds):
                        column[index] = dict(item)
        return values
    for index, item in np.ndenumerate(values):
        if isinstance(item, kinds):
            values[index] = dict(item)
    return values


def _array_metadata(zarray: dict[str, Any], attrs: dict[str, Any]) -> Any:
    if zarr_cannot_read(zarray):
        meta = LegacyArrayMetadata(zarray, attrs)
        _ = meta.dtype  # a dtype numpy cannot parse makes the entry unreadable
        return meta
    try:
        return ArrayV2Metadata.from_dict({**zarray, "attributes": attrs})
    except Exception:
        meta = LegacyArrayMetadata(zarray, attrs)
        _ = meta.dtype
        return meta


def _drop_orphans(nodes: dict[str, Any], zarrays: dict[str, Any]) -> None:
    """Remove nodes whose parent is not a group of the index (a stale or partial listing)."""
    for key in sorted(nodes, key=lambda k: k.count("/")):
        if not key or key not in nodes:
            continue
        parent = key.rsplit("/", 1)[0] if "/" in key else ""
        if not isinstance(nodes.get(parent), GroupMetadata):
            for other in [k for k in nodes if k == key or k.startswith(key + "/")]:
                del nodes[other]
                zarrays.pop(other, None)


# ---------------------------------------------------------------------- metadata documents


async def _get_json(store: Store, key: str) -> Any:
    """The JSON document at ``key``, None when there is none; DamagedFileError when it is damaged.

    Every v2 metadata document (``.zgroup``, ``.zarray``, ``.zattrs``, ``.zmetadata``, a v3 ``zarr.json``)
    is a JSON object.
    """
    buffer = await store.get(key, prototype=default_buffer_prototype())
    if buffer is None:
        return None
    raw = buffer.to_bytes()
    try:
        document = json.loads(raw)
    except RecursionError as err:
        raise _damaged(store, key, "is nested deeper than a JSON parser can follow") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        reason = "is empty" if not raw.strip() else f"is not valid JSON ({type(err).__name__}: {err})"
        raise _damaged(store, key, reason) from err
    if not isinstance(document, dict):
        raise _damaged(store, key, f"holds a JSON {_json_type(document)} where a JSON object belongs")
    return document


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _damaged(store: Store, key: str, reason: str) -> DamagedFileError:
    """The error for the damaged metadata document ``key`` of a v2 store."""
    from .._stores import get_store_path

    location = get_store_path(store)
    node, _, name = key.rpartition("/")
    if name == ".zmetadata" and not node:
        return DamagedFileError(
            f"Cannot read '{location}': its consolidated metadata '.zmetadata' {reason}. The consolidated metadata "
            "only copies the node documents: move '.zmetadata' aside (keep it as a backup) and the reader lists the "
            f"nodes instead, or run `hdmf-zarr verify {location}` to list every damaged object."
        )
    return DamagedFileError(
        f"Cannot read '/{node}' in '{location}': its metadata document '{key}' {reason}. The file is damaged: "
        f"restore '{key}' from a backup, or run `hdmf-zarr verify {location}` to list every damaged object."
    )


async def _documents(store: Store) -> dict[str, dict[str, Any]]:
    """``{node key: {".zgroup"/".zarray"/".zattrs": document}}`` for every node of a v2 store.

    Consolidated metadata is used when present; the root ``.zattrs`` is always read from the store
    (hdmf-zarr wrote ``.specloc`` after consolidating), and a spec group missing from the
    consolidated block is listed from the store.
    """
    consolidated, root_attrs = await asyncio.gather(_get_json(store, ".zmetadata"), _get_json(store, ".zattrs"))
    if consolidated is None:
        return await _listed_documents(store, "")
    if not isinstance(consolidated.get("metadata"), dict):
        raise _damaged(store, ".zmetadata", "has no 'metadata' object")
    out = _group_documents(consolidated["metadata"], store)
    out.setdefault("", {})[".zattrs"] = root_attrs or {}
    specloc = spec_location(root_attrs or {})
    if specloc and not any(k == specloc or k.startswith(specloc + "/") for k in out) and store.supports_listing:
        out.update(await _listed_documents(store, specloc + "/"))
    return out


def _group_documents(flat: dict[str, Any], store: Store | None = None) -> dict[str, dict[str, Any]]:
    """``{node key: {document name: document}}``; with ``store``, the documents come from its ``.zmetadata``
    and one that is not a JSON object raises DamagedFileError."""
    out: dict[str, dict[str, Any]] = {}
    for path, document in flat.items():
        node, _, name = path.rpartition("/")
        if name in _DOCUMENTS:
            if store is not None and not isinstance(document, dict):
                reason = f"has a JSON {_json_type(document)} as its entry '{path}', where a JSON object belongs"
                raise _damaged(store, ".zmetadata", reason)
            out.setdefault(node, {})[name] = document
    return out


async def _listed_documents(store: Store, prefix: str) -> dict[str, dict[str, Any]]:
    if not store.supports_listing:
        raise ValueError(f"Cannot list the Zarr v2 store {store}, and it has no consolidated metadata (.zmetadata).")
    keys = [key async for key in store.list_prefix(prefix) if posixpath.basename(key) in _DOCUMENTS]
    values = await asyncio.gather(*(_get_json(store, key) for key in keys))
    return _group_documents({key: value for key, value in zip(keys, values) if value is not None})


# ---------------------------------------------------------------------- formats and sources


def is_nwb_file(path: str, storage_options: dict | None = None) -> bool:
    """True when the root of the Zarr store at ``path`` names an NWB version (an NWB file, not plain HDMF)."""
    from .._stores import open_store

    store = open_store(path, "r", storage_options)
    try:
        attrs = sync(_get_json(store, ".zattrs")) or {}
        if not attrs:
            root = sync(_get_json(store, "zarr.json")) or {}
            attrs = root.get("attributes", {})
        return "nwb_version" in attrs
    finally:
        store.close()


def legacy_source_location(folder: str, source: str) -> str:
    """Where a v2 link or reference ``source`` points: relative to the store, else to its parent folder.

    Files of hdmf-zarr 0.10 and earlier wrote sources relative to the folder holding the store.
    """
    for base in (folder, os.path.dirname(folder)):
        candidate = os.path.abspath(os.path.normpath(os.path.join(base, source)))
        if os.path.isdir(candidate):
            return candidate
    return folder
