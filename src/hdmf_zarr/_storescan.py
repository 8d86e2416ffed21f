"""The walk of a store's node documents that ``verify_store`` (``_verify.py``) and ``repair_store``
(``_repair.py``) share, and the problems it finds on the way.

``scan_hierarchy`` reads every node document by listing the store level by level (never trusting the
consolidated block) into a ``Scan``: each document as JSON and as parsed metadata, the damaged ones, and the
listed names without a zarr.json. ``block_entries`` reads the consolidated block, ``check_orphans`` reports
the names that belong to no node, ``describes`` tells whether the block matches the documents.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.core.sync import sync

from ._convention import V3_DOCUMENT, join_key, parent_key
from ._read.documents import (
    MissingCompressor,
    MissingFilter,
    MissingSerializer,
    decode_document,
    flatten_block,
    parse_node,
    without_block,
)
from ._stores import get_store_path, not_found, store_format
from .errors import DamagedFileError, MissingCodecError

ERROR = "error"
WARNING = "warning"
#: stored objects read (or documents fetched, folders listed) at the same time
CONCURRENCY = 16
BLOCK = "consolidated_metadata"
#: names in a group's folder that are never child nodes
_NOT_NODES = frozenset({V3_DOCUMENT, ".zgroup", ".zarray", ".zattrs", ".zmetadata", "c"})
_PLACEHOLDERS = (MissingFilter, MissingSerializer, MissingCompressor)
#: the reason inside a DamagedFileError of documents.py ("... its metadata document 'k/zarr.json' REASON. The ...")
_REASON = re.compile(r"its metadata document '[^']*' (.*?)\. The file is damaged", re.DOTALL)
#: fields zarr writes with these values when a document leaves them out
_DEFAULT_FIELDS = {"attributes": {}, "storage_transformers": [], "dimension_names": None}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: the node (``/a/b``, ``/`` for the root), a short kind, and what is wrong."""

    path: str
    kind: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        kind = self.kind if self.severity == ERROR else f"{self.kind} ({self.severity})"
        return f"{self.path}: {kind}: {self.message}"


def counted(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def node_path(key: str) -> str:
    return "/" + key.strip("/")


@dataclass
class Scan:
    """Every node document of a store, as far as it could be read."""

    location: str
    root_raw: bytes | None = None
    root: dict[str, Any] | None = None  # the root document as a JSON object (None: missing or damaged)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> JSON object (root excluded)
    nodes: dict[str, Any] = field(default_factory=dict)  # key -> metadata zarr could read (root "" included)
    damaged: set[str] = field(default_factory=set)  # keys whose document exists but is damaged
    orphans: dict[str, list[str]] = field(default_factory=dict)  # listed names without zarr.json -> names below
    stray: set[str] = field(default_factory=set)  # orphans that are objects (files), not folders
    problems: list[Problem] = field(default_factory=list)

    def add(self, key: str, kind: str, message: str, severity: str = ERROR) -> None:
        self.problems.append(Problem(node_path(key), kind, message, severity))


class Requests:
    """The store's requests, at most ``CONCURRENCY`` at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.limit = asyncio.Semaphore(CONCURRENCY)

    async def get(self, key: str) -> bytes | None:
        async with self.limit:
            found = await self.store.get(key, prototype=default_buffer_prototype())
        return None if found is None else found.to_bytes()

    async def list_dir(self, key: str) -> list[str]:
        prefix = f"{key}/" if key else ""
        async with self.limit:
            names = [name.rstrip("/") async for name in self.store.list_dir(prefix)]
        return [name for name in names if name]

    async def list_prefix(self, key: str) -> list[str]:
        prefix = f"{key}/" if key else ""
        async with self.limit:
            return [found async for found in self.store.list_prefix(prefix)]

    async def exists(self, key: str) -> bool:
        async with self.limit:
            return bool(await self.store.exists(key))


def _damage_reason(err: DamagedFileError) -> str:
    found = _REASON.search(str(err))
    return f"its zarr.json {found.group(1)}" if found else str(err)


def _read_document(scan: Scan, key: str, raw: bytes) -> tuple[Any, Any]:
    """``(JSON value, metadata)`` of the document ``raw`` of the node at ``key``; a problem added (and the
    metadata None) when it is damaged. The JSON value is None when it is not JSON."""

    def damaged(kind: str, message: str, doc: Any = None) -> tuple[Any, None]:
        scan.damaged.add(key)
        scan.add(key, kind, message)
        return doc, None

    try:
        doc = decode_document(raw, key, scan.location)
    except DamagedFileError as err:
        return damaged("damaged-metadata", _damage_reason(err))
    try:
        return doc, parse_node(key, doc, scan.location)
    except DamagedFileError as err:
        return damaged("damaged-metadata", _damage_reason(err), doc)
    except MissingCodecError as err:
        return damaged("missing-codec", str(err), doc)


async def _scan(store: Store) -> Scan:
    """Read every node document, one concurrent round per hierarchy level, collecting a problem per bad one.

    A listed name without a zarr.json (an orphan) is listed once more, to find nodes whose parent lost its
    document and chunks whose array lost it.
    """
    scan = Scan(get_store_path(store))
    requests = Requests(store)
    scan.root_raw = await requests.get(V3_DOCUMENT)
    root_is_group = True
    if scan.root_raw is None:
        scan.add("", "missing-node", "the root zarr.json is missing from the store")
    else:
        doc, meta = _read_document(scan, "", scan.root_raw)
        scan.root = doc if isinstance(doc, dict) else None
        if meta is not None:
            scan.nodes[""] = meta
        root_is_group = not isinstance(meta, ArrayV3Metadata)
    level = [("", False)] if root_is_group else []
    while level:
        listings = await asyncio.gather(*(requests.list_dir(key) for key, _ in level))
        candidates: list[tuple[str, bool]] = []
        for (key, orphan), names in zip(level, listings):
            if orphan:
                scan.orphans[key] = names
            candidates += [(join_key(key, name), orphan) for name in names if name not in _NOT_NODES]
        raws = await asyncio.gather(*(requests.get(join_key(child, V3_DOCUMENT)) for child, _ in candidates))
        level = []
        for (child, below_orphan), raw in zip(candidates, raws):
            if raw is None:
                if not below_orphan:
                    level.append((child, True))
                continue
            doc, meta = _read_document(scan, child, raw)
            if isinstance(doc, dict):
                scan.documents[child] = doc
            if meta is not None:
                scan.nodes[child] = meta
            is_array = isinstance(meta, ArrayV3Metadata) or (isinstance(doc, dict) and doc.get("node_type") == "array")
            if not is_array:
                level.append((child, False))
    empty = [key for key, names in scan.orphans.items() if not names]
    found = await asyncio.gather(*(requests.exists(key) for key in empty))
    scan.stray = {key for key, is_object in zip(empty, found) if is_object}
    return scan


def block_entries(scan: Scan) -> dict[str, dict[str, Any]] | None:
    """The root's consolidated block as ``{key: document}``; None when there is none or it is damaged
    (a problem added)."""
    if scan.root is None or scan.root.get(BLOCK) is None:
        return None
    try:
        return flatten_block(scan.root[BLOCK], location=scan.location)
    except DamagedFileError as err:
        scan.add("", "damaged-block", str(err))
        return None


def check_orphans(scan: Scan, block: dict[str, dict[str, Any]] | None) -> None:
    """Problems for listed names without a zarr.json that the block does not explain."""
    below = {parent_key(key) for key in (*scan.documents, *scan.damaged)}
    for key, names in sorted(scan.orphans.items()):
        if block is not None and key in block:
            continue  # reported as a node of the block missing from the store
        if key in below:
            scan.add(key, "missing-node", "holds nodes but has no zarr.json: readers do not see anything below it")
        elif "c" in names:
            scan.add(key, "missing-node", "holds chunks but has no zarr.json: the array's metadata document is gone")
        elif names:
            scan.add(key, "stray-object", "is not part of the hierarchy (it has no zarr.json)", WARNING)
    for key in sorted(scan.stray):
        scan.add(key, "stray-object", "is a stored object that belongs to no node (left by a writer?)", WARNING)


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A node document with the fields zarr fills in when absent spelled out, so both spellings compare equal."""
    return {**_DEFAULT_FIELDS, **without_block(doc)}


def describes(block: dict[str, dict[str, Any]], documents: dict[str, dict[str, Any]]) -> bool:
    """True when the consolidated ``block`` describes exactly the node ``documents`` (what verify checks)."""
    return block.keys() == documents.keys() and all(comparable(block[k]) == comparable(documents[k]) for k in block)


def uninstalled_codec(meta: ArrayV3Metadata) -> Any:
    """The first codec of ``meta`` that is not installed (a documents.py placeholder), or None."""
    return next((codec for codec in meta.codecs if isinstance(codec, _PLACEHOLDERS)), None)


def check_format(store: Store) -> None:
    """ValueError for a Zarr v2 store: verify and repair know Zarr v3 only."""
    if store_format(store) == 2:
        location = get_store_path(store)
        raise ValueError(
            f"'{location}' is a Zarr v2 file (hdmf-zarr 0.13 or older): verify and repair check Zarr v3 files. "
            f"Read it with NWBZarrIO, or convert it to Zarr v3 with `hdmf-zarr convert {location} NEW.nwb.zarr`."
        )


def scan_hierarchy(store: Store, mode: str) -> Scan:
    """The scan of ``store``; StoreNotFoundError when it holds no node document at all (not a Zarr store)."""
    scan = sync(_scan(store))
    if scan.root_raw is None and not scan.documents and not scan.damaged:
        raise not_found(scan.location, mode, "it is not a Zarr store (there is no zarr.json in it)")
    return scan
