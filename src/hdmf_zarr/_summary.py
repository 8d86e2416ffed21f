"""A readable summary of a stored HDMF/NWB Zarr file: node tree, types, storage layout and sizes.

Everything here is read from the store itself: node metadata from the consolidated block of the root
``zarr.json`` (or from every node document when there is none), sizes from the store's keys (for a
local folder, by walking its files). No HDMF/PyNWB type map is needed, so it works on any hierarchy
written under the convention, including files with extensions whose specs are not installed. An Icechunk
repository is summarized as one of its snapshots (a branch's tip by default), with the commits that led to it.

Entry points: :func:`summarize` (path or Store -> :class:`StoreSummary`), :meth:`StoreSummary.format`
(the tree as text). The ``hdmf-zarr info`` command prints it.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._convention import (
    DTYPE_ATTR,
    LEGACY_DTYPE_ATTR,
    LEGACY_LINKS_ATTR,
    LINKS_ATTR,
    REFERENCE_DTYPE_ATTR_VALUE,
    REFERENCE_FIELDS_ATTR,
    spec_location,
)
from ._read.documents import flatten_block
from ._specs import version_key
from ._summarytext import (
    _can_print_unicode,
    _codec_text,
    _dtype_text,
    _itemsize,
    _preview,
    _ratio,
    _shape_text,
    format_bytes,
)

__all__ = ["NodeInfo", "RepositoryInfo", "StoreSummary", "summarize", "format_bytes"]

_V3_DOC = "zarr.json"
_V2_DOCS = (".zgroup", ".zarray", ".zattrs")
_V2_CONSOLIDATED = ".zmetadata"
_TYPE_ATTRS = ("neurodata_type", "data_type")


# ---------------------------------------------------------------------------------------------- model
@dataclass
class NodeInfo:
    """One group or array of the hierarchy, as stored."""

    key: str  # store-relative path, "" for the root
    kind: str  # "group" or "array"
    attributes: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    data_type: Any = None  # v3 data_type (str or dict) or v2 dtype string
    chunks: tuple[int, ...] | None = None  # chunk shape (inner chunk shape when sharded)
    shards: tuple[int, ...] | None = None
    codecs: list[str] = field(default_factory=list)  # short codec descriptions, in pipeline order
    fill_value: Any = None
    metadata_files: int = 0
    metadata_bytes: int = 0
    chunk_files: int = 0
    stored_bytes: int = 0  # bytes of chunk/shard objects
    children: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return posixpath.basename(self.key) if self.key else "/"

    @property
    def neurodata_type(self) -> str | None:
        for attr in _TYPE_ATTRS:
            value = self.attributes.get(attr)
            if isinstance(value, str):
                return value
        return None

    @property
    def links(self) -> list[dict[str, Any]]:
        links = self.attributes.get(LINKS_ATTR) or self.attributes.get(LEGACY_LINKS_ATTR) or []
        return [entry for entry in links if isinstance(entry, dict)]

    @property
    def itemsize(self) -> int | None:
        """Bytes per element for fixed-size types; None for variable-length ones (text, objects)."""
        return _itemsize(self.data_type)

    @property
    def logical_bytes(self) -> int | None:
        """Uncompressed size of the array's elements; None for groups and variable-length types."""
        if self.kind != "array" or self.shape is None or self.itemsize is None:
            return None
        return math.prod(self.shape) * self.itemsize

    @property
    def is_reference(self) -> bool:
        return self.attributes.get(DTYPE_ATTR) in (REFERENCE_DTYPE_ATTR_VALUE, "object") or (
            self.attributes.get(LEGACY_DTYPE_ATTR) == "object"
        )


@dataclass
class RepositoryInfo:
    """The Icechunk snapshot a summary shows: how it was chosen and the commits that led to it."""

    chosen: str  # "branch main", "tag v1", "snapshot 1CEC..."
    snapshot: str
    commits: list[Any] = field(default_factory=list)  # _icechunk.Commit, newest first
    more: bool = False  # older commits exist beyond those listed

    def lines(self) -> list[str]:
        lines = [
            f"Version: Icechunk {self.chosen}"
            + ("" if self.chosen.startswith("snapshot") else f", snapshot {self.snapshot}")
        ]
        if not self.commits:
            return lines
        n = len(self.commits)
        count = f"{n} commit{'s' if n != 1 else ''}"
        if self.more:
            count = "the last commit" if n == 1 else f"the last {count}"
        lines.append(f"History: {count}" + (", newest first" if n > 1 else ""))
        for commit in self.commits:
            when = commit.written_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
            lines.append(f"  {commit.id}  {when}  {commit.message}")
        return lines


@dataclass
class StoreSummary:
    """What :func:`summarize` found: every node, the store's files and the cached namespaces."""

    location: str
    zarr_format: int
    consolidated: bool
    nodes: dict[str, NodeInfo]
    total_files: int = 0
    total_bytes: int = 0
    other_files: int = 0  # keys that belong to no node (stray files)
    stale_nodes: list[str] = field(default_factory=list)  # on disk but missing from the consolidated block
    spec_location: str | None = None
    namespaces: dict[str, list[str]] = field(default_factory=dict)  # cached namespace -> versions
    scalar_values: dict[str, Any] = field(default_factory=dict)
    repository: RepositoryInfo | None = None  # set for a snapshot of an Icechunk repository

    # ---------------------------------------------------------------- totals
    def arrays(self, include_specs: bool = False) -> list[NodeInfo]:
        return [n for n in self.nodes.values() if n.kind == "array" and (include_specs or not self._in_specs(n.key))]

    @property
    def metadata_files(self) -> int:
        return sum(n.metadata_files for n in self.nodes.values())

    @property
    def metadata_bytes(self) -> int:
        return sum(n.metadata_bytes for n in self.nodes.values())

    @property
    def chunk_files(self) -> int:
        return sum(n.chunk_files for n in self.nodes.values())

    @property
    def stored_bytes(self) -> int:
        return sum(n.stored_bytes for n in self.nodes.values())

    def compression(self) -> tuple[int, int]:
        """``(logical bytes, stored bytes)`` over the fixed-size arrays (text and references excluded)."""
        logical = stored = 0
        for node in self.arrays(include_specs=True):
            if node.logical_bytes is not None:
                logical += node.logical_bytes
                stored += node.stored_bytes
        return logical, stored

    def subtree_bytes(self, key: str) -> int:
        prefix = key + "/" if key else ""
        return sum(n.stored_bytes for k, n in self.nodes.items() if k == key or k.startswith(prefix))

    @property
    def root_type(self) -> str | None:
        root = self.nodes.get("")
        return root.neurodata_type if root else None

    def _in_specs(self, key: str) -> bool:
        spec = self.spec_location
        return bool(spec) and (key == spec or key.startswith(spec + "/"))

    # ---------------------------------------------------------------- text
    def header_lines(self) -> list[str]:
        root = self.nodes.get("")
        attrs = root.attributes if root else {}
        if self.repository is not None:  # a snapshot lists its nodes: no consolidated block is kept or needed
            kind = f"Zarr v{self.zarr_format} in an Icechunk repository"
        else:
            kind = f"Zarr v{self.zarr_format}, " + (
                "consolidated metadata" if self.consolidated else "no consolidated metadata"
            )
        lines = [f"Store:   {self.location}"]
        if self.repository is not None:
            lines.append(self.repository.lines()[0])
        lines.append(f"Format:  {kind}; {len(self.nodes)} nodes")
        what = self.root_type or "group"
        if attrs.get("nwb_version"):
            what += f" (NWB {attrs['nwb_version']})"
        if self.namespaces:
            cached = ", ".join(f"{name} {'/'.join(versions)}" for name, versions in sorted(self.namespaces.items()))
            what += f"; cached namespaces: {cached}"
        lines.append(f"Content: {what}")
        files, objects = ("Keys:   ", "chunks") if self.repository is not None else ("Files:  ", "chunk objects")
        lines.append(
            f"{files} {self.total_files:,} ({self.metadata_files:,} metadata documents, {self.chunk_files:,} {objects}"
            f"{f', {self.other_files} other' if self.other_files else ''}), {format_bytes(self.total_bytes)}"
        )
        logical, stored = self.compression()
        if logical:
            lines.append(
                f"Data:    {format_bytes(logical)} in fixed-size arrays stored as {format_bytes(stored)} "
                f"({_ratio(logical, stored)}); text and reference arrays: "
                f"{format_bytes(self.stored_bytes - stored)}; metadata: {format_bytes(self.metadata_bytes)}"
            )
        if self.stale_nodes:
            stale = set(self.stale_nodes)
            tops = [k for k in self.stale_nodes if not any(k.startswith(s + "/") for s in stale)]
            shown = ", ".join("/" + k for k in tops[:5]) + (f" and {len(tops) - 5} more" if len(tops) > 5 else "")
            lines.append(
                f"Warning: the consolidated metadata is stale: {len(self.stale_nodes)} node(s) on disk are missing "
                f"from it (under {shown}); run zarr.consolidate_metadata on the store."
            )
        if self.repository is not None:
            lines += self.repository.lines()[1:]
        return lines

    def tree_lines(
        self, max_children: int | None = 40, max_depth: int | None = None, unicode: bool = True
    ) -> list[str]:
        """The node tree, one line per group, array and link."""
        glyphs = ("├── ", "└── ", "│   ", "    ") if unicode else ("|-- ", "`-- ", "|   ", "    ")
        rows: list[tuple[str, str]] = []
        root = self.nodes.get("")
        if root is None:
            return []
        rows.append(("/", self._describe(root)))
        self._walk(root, "", 1, rows, glyphs, max_children, max_depth)
        width = min(max(len(label) for label, _ in rows) + 2, 64)
        return [f"{label:<{width}}{detail}".rstrip() if detail else label for label, detail in rows]

    def format(self, max_children: int | None = 40, max_depth: int | None = None, unicode: bool | None = None) -> str:
        """Header and tree as one text block."""
        if unicode is None:
            unicode = _can_print_unicode()
        return "\n".join([*self.header_lines(), "", *self.tree_lines(max_children, max_depth, unicode)])

    def _walk(self, node, prefix, depth, rows, glyphs, max_children, max_depth) -> None:
        entries: list[tuple[str, Any]] = []
        children = [self.nodes[c] for c in node.children]
        children.sort(key=lambda n: (n.kind != "group", n.name))
        entries += [("node", child) for child in children]
        entries += [("link", link) for link in sorted(node.links, key=lambda e: str(e.get("name")))]
        hidden = 0
        if max_children is not None and len(entries) > max_children:
            hidden = len(entries) - max_children
            entries = entries[:max_children]
        for i, (what, item) in enumerate(entries):
            last = i == len(entries) - 1 and not hidden
            branch = prefix + (glyphs[1] if last else glyphs[0])
            deeper = prefix + (glyphs[3] if last else glyphs[2])
            if what == "link":
                source = item.get("source") or "."
                target = item.get("path", "?") if source == "." else f"{source}:{item.get('path', '?')}"
                rows.append((f"{branch}{item.get('name')}", f"link -> {target}"))
                continue
            if item.kind == "group":
                label = f"{branch}{item.name}/"
                if self._in_specs(item.key) and item.key == self.spec_location:
                    rows.append((label, self._describe_specs(item)))
                    continue
                rows.append((label, self._describe(item)))
                if max_depth is None or depth < max_depth:
                    self._walk(item, deeper, depth + 1, rows, glyphs, max_children, max_depth)
                elif item.children or item.links:
                    count = len(item.children) + len(item.links)
                    rows.append((f"{deeper}{glyphs[1]}...", f"{count} {'entry' if count == 1 else 'entries'}"))
            else:
                rows.append((f"{branch}{item.name}", self._describe(item)))
        if hidden:
            rows.append((f"{prefix}{glyphs[1]}...", f"{hidden} more {'entry' if hidden == 1 else 'entries'}"))

    def _describe(self, node: NodeInfo) -> str:
        parts = []
        if node.neurodata_type:
            parts.append(f"[{node.neurodata_type}]")
        if node.kind == "group":
            size = self.subtree_bytes(node.key)
            if size:
                parts.append(format_bytes(size))
            return "  ".join(parts)
        refs = node.attributes.get(REFERENCE_FIELDS_ATTR) or ()
        dtype = "reference" if node.is_reference else _dtype_text(node.data_type, set(refs))
        legacy = node.attributes.get(LEGACY_DTYPE_ATTR)
        if node.data_type == "|O" and isinstance(legacy, str) and not node.is_reference:
            dtype = f"|O[{legacy}]"
        if not node.shape:
            parts.append(f"{dtype} scalar")
            if node.key in self.scalar_values:
                parts.append(f"= {_preview(self.scalar_values[node.key])}")
            return "  ".join(parts)
        parts.append(f"{dtype} {_shape_text(node.shape)}")
        layout = []
        if node.chunks is not None and tuple(node.chunks) != tuple(node.shape):
            layout.append(f"chunks {_shape_text(node.chunks)}")
        if node.shards is not None:
            layout.append(f"shards {_shape_text(node.shards)}")
        codecs = [c for c in node.codecs if c]
        layout.append("+".join(codecs) if codecs else "uncompressed")
        parts.append(" ".join(layout))
        logical = node.logical_bytes
        if node.stored_bytes == 0 and math.prod(node.shape):
            parts.append("all fill value, nothing stored")
        elif logical:
            parts.append(
                f"{format_bytes(logical)} -> {format_bytes(node.stored_bytes)} ({_ratio(logical, node.stored_bytes)})"
            )
        else:
            parts.append(format_bytes(node.stored_bytes))
        return "  ".join(parts)

    def _describe_specs(self, node: NodeInfo) -> str:
        docs = [n for n in self.arrays(include_specs=True) if self._in_specs(n.key)]
        size = sum(n.stored_bytes for n in docs)
        cached = ", ".join(f"{name} {'/'.join(v)}" for name, v in sorted(self.namespaces.items()))
        return f"cached specs: {cached or 'none'}  ({len(docs)} documents, {format_bytes(size)})"


# ---------------------------------------------------------------------------------------------- reading
def summarize(
    path: Any,
    read_scalars: bool = True,
    storage_options: dict | None = None,
    version: Any = None,
    history: int = 5,
) -> StoreSummary:
    """Summarize the Zarr hierarchy at ``path`` (a local folder, a .zip file, a URL, or a zarr Store).

    Node metadata comes from the consolidated block when there is one (a local folder is also walked,
    so nodes missing from a stale block are found); sizes come from the store's keys. With
    ``read_scalars`` the values of 0-d arrays outside the cached specs are read for display.

    An Icechunk repository (a local folder or ``s3://`` prefix holding one, a ``Repository``, ``Session``
    or ``IcechunkStore``) is summarized as the snapshot ``version`` (an ``_icechunk.Version``: a branch,
    default ``main``, a tag or a snapshot id) picks, with its last ``history`` commits.
    """
    from zarr.core.sync import sync

    repository = _open_repository(path, storage_options, version, history)
    local = None if repository is not None else _local_folder(path)
    if repository is None and version is not None and not version.is_default():
        raise ValueError(f"'{path}' is not an Icechunk repository: --branch, --tag and --snapshot do not apply.")
    if repository is not None:
        store, info = repository
        location = _repository_location(path)
    elif local is not None:
        sizes = _walk_local(local)
        location = local

        def read(keys: list[str]) -> dict[str, bytes]:
            out = {}
            for key in keys:
                with open(os.path.join(local, key), "rb") as handle:
                    out[key] = handle.read()
            return out

        store = None
    else:
        from ._stores import get_store_path, is_reference_path, normalize_path, open_store

        store = open_store(normalize_path(path), "r", storage_options)
        location = f"{path} (JSON reference file)" if is_reference_path(path) else get_store_path(store)
    if store is not None:
        sizes = sync(_list_store(store))

        def read(keys: list[str]) -> dict[str, bytes]:
            return sync(_get_many(store, keys))

    summary = _build(location, sizes, read)
    summary.repository = info if repository is not None else None
    if read_scalars:
        summary.scalar_values = _read_scalars(summary, local if local is not None else store)
    return summary


def _open_repository(path: Any, storage_options: dict | None, version: Any, history: int) -> Any:
    """``(store, RepositoryInfo)`` when ``path`` is an Icechunk repository (or session, or store); else None."""
    from . import _icechunk

    if isinstance(path, Path):
        path = str(path)
    is_s3 = isinstance(path, str) and path.startswith(("s3://", "s3a://"))
    if not (_icechunk.is_icechunk_object(path) or _icechunk.is_local_repository(path)):
        if not is_s3:
            return None
        try:
            if not _icechunk.is_remote_repository(path, storage_options):
                return None
        except ImportError:
            if version is None or version.is_default():
                return None
            raise
    version = version or _icechunk.Version()
    if _icechunk.is_icechunk_object(path) and type(path).__name__ != "Repository":
        if not version.is_default():
            raise ValueError(
                "A Session or IcechunkStore shows its own snapshot: --branch, --tag and --snapshot apply to a "
                "repository."
            )
        store = _icechunk.open_store(path, "r", version)
        return store, RepositoryInfo(f"snapshot {store.session.snapshot_id}", store.session.snapshot_id)
    repo = _icechunk.open_repository(path, storage_options)
    store = _icechunk.open_snapshot(repo, version, _repository_location(path))
    snapshot = store.session.snapshot_id
    if version.tag is not None:
        chosen = f"tag {version.tag}"
    elif version.snapshot_id is not None:
        chosen = f"snapshot {snapshot}"
    else:
        chosen = f"branch {version.branch or _icechunk.DEFAULT_BRANCH}"
    commits = _icechunk.history(repo, snapshot, history + 1) if history else []
    info = RepositoryInfo(chosen, snapshot, commits[:history], more=len(commits) > history)
    return store, info


def _repository_location(path: Any) -> str:
    if isinstance(path, (str, Path)):
        text = str(path)
        return text if "://" in text else str(Path(text).resolve())
    return f"Icechunk {type(path).__name__}"


def _local_folder(path: Any) -> str | None:
    if isinstance(path, Path):
        path = str(path)
    if isinstance(path, str) and "://" not in path and os.path.isdir(path):
        return str(Path(path).resolve())
    try:
        from zarr.storage import LocalStore
    except ImportError:  # pragma: no cover
        return None
    if isinstance(path, LocalStore):
        return str(Path(path.root).resolve())
    return None


def _walk_local(root: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for folder, _dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        for name in files:
            try:
                size = os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
            sizes[f"{rel}/{name}" if rel else name] = size
    return sizes


async def _list_store(store: Any) -> dict[str, int]:
    keys = [key async for key in store.list()]
    semaphore = asyncio.Semaphore(64)

    async def size(key: str) -> int:
        async with semaphore:
            return await store.getsize(key)

    return dict(zip(keys, await asyncio.gather(*(size(k) for k in keys))))


async def _get_many(store: Any, keys: list[str]) -> dict[str, bytes]:
    from zarr.core.buffer import default_buffer_prototype

    prototype = default_buffer_prototype()
    semaphore = asyncio.Semaphore(64)

    async def get(key: str) -> bytes:
        async with semaphore:
            buffer = await store.get(key, prototype=prototype)
            return buffer.to_bytes() if buffer is not None else b""

    return dict(zip(keys, await asyncio.gather(*(get(k) for k in keys))))


def _split(key: str) -> tuple[str, str]:
    folder, _, name = key.rpartition("/")
    return folder, name


def _build(location: str, sizes: dict[str, int], read) -> StoreSummary:
    if _V3_DOC in sizes:
        documents, consolidated, stale = _v3_documents(sizes, read)
        nodes = {key: _v3_node(key, doc) for key, doc in documents.items()}
        fmt = 3
    elif ".zgroup" in sizes or ".zarray" in sizes:
        nodes, consolidated, stale = _v2_nodes(sizes, read)
        fmt = 2
    else:
        raise ValueError(f"'{location}' is not a Zarr store: it has no zarr.json (or .zgroup) at its root.")
    summary = StoreSummary(location=location, zarr_format=fmt, consolidated=consolidated, nodes=nodes)
    summary.stale_nodes = stale
    for key in sorted(nodes):
        if key:
            parent = _split(key)[0]
            if parent in nodes:
                nodes[parent].children.append(key)
    _assign_files(summary, sizes)
    _find_specs(summary)
    return summary


def _v3_documents(sizes: dict[str, int], read) -> tuple[dict[str, dict], bool, list[str]]:
    """Node documents keyed by node path, whether a consolidated block was used, and stale node paths."""
    root = json.loads(read([_V3_DOC])[_V3_DOC])
    block = root.get("consolidated_metadata")
    on_disk = {_split(k)[0] for k in sizes if _split(k)[1] == _V3_DOC}
    documents: dict[str, dict] = {"": root}
    stale: list[str] = []
    if isinstance(block, dict) and isinstance(block.get("metadata"), dict):
        documents.update(flatten_block(block))
        stale = sorted(k for k in on_disk if k not in documents)
        missing = stale
    else:
        missing = sorted(k for k in on_disk if k)
    if missing:
        keys = [f"{k}/{_V3_DOC}" for k in missing]
        for key, raw in read(keys).items():
            documents[_split(key)[0]] = json.loads(raw)
    return documents, isinstance(block, dict), stale


def _v3_node(key: str, doc: dict[str, Any]) -> NodeInfo:
    attrs = doc.get("attributes") or {}
    if doc.get("node_type") != "array":
        return NodeInfo(key=key, kind="group", attributes=attrs)
    grid = (doc.get("chunk_grid") or {}).get("configuration") or {}
    chunks = tuple(grid.get("chunk_shape", doc.get("shape", ())))
    shards = None
    codecs = doc.get("codecs") or []
    if len(codecs) == 1 and codecs[0].get("name") == "sharding_indexed":
        config = codecs[0].get("configuration") or {}
        shards, chunks = chunks, tuple(config.get("chunk_shape", chunks))
        codecs = config.get("codecs") or []
    return NodeInfo(
        key=key,
        kind="array",
        attributes=attrs,
        shape=tuple(doc.get("shape", ())),
        data_type=doc.get("data_type"),
        chunks=chunks,
        shards=shards,
        codecs=[_codec_text(c.get("name", "?"), c.get("configuration") or {}) for c in codecs],
        fill_value=doc.get("fill_value"),
    )


def _v2_nodes(sizes: dict[str, int], read) -> tuple[dict[str, NodeInfo], bool, list[str]]:
    on_disk = [k for k in sizes if _split(k)[1] in _V2_DOCS]
    docs: dict[str, Any] = {}
    consolidated = _V2_CONSOLIDATED in sizes
    if consolidated:
        docs = json.loads(read([_V2_CONSOLIDATED])[_V2_CONSOLIDATED]).get("metadata", {})
    # the root attributes are always read from the store: a consolidated block may predate them
    missing = [k for k in on_disk if k not in docs or k == ".zattrs"]
    docs.update({k: json.loads(v) for k, v in read(missing).items()})
    stale = sorted({_split(k)[0] for k in missing if _split(k)[1] != ".zattrs"}) if consolidated else []
    nodes: dict[str, NodeInfo] = {}
    for doc_key, doc in docs.items():
        key, name = _split(doc_key)
        if name == ".zgroup":
            nodes.setdefault(key, NodeInfo(key=key, kind="group"))
        elif name == ".zarray":
            compressor = doc.get("compressor")
            codecs = [*(doc.get("filters") or []), *([compressor] if compressor else [])]
            nodes[key] = NodeInfo(
                key=key,
                kind="array",
                shape=tuple(doc.get("shape", ())),
                data_type=doc.get("dtype"),
                chunks=tuple(doc.get("chunks", ())),
                codecs=[_codec_text(c.get("id", "?"), {k: v for k, v in c.items() if k != "id"}) for c in codecs],
                fill_value=doc.get("fill_value"),
            )
    for doc_key, doc in docs.items():
        key, name = _split(doc_key)
        if name == ".zattrs" and key in nodes:
            nodes[key].attributes = doc
    return nodes, consolidated, stale


def _assign_files(summary: StoreSummary, sizes: dict[str, int]) -> None:
    nodes = summary.nodes
    summary.total_files = len(sizes)
    summary.total_bytes = sum(sizes.values())
    doc_names = {_V3_DOC, *_V2_DOCS, _V2_CONSOLIDATED}
    for key, size in sizes.items():
        folder, name = _split(key)
        if name in doc_names and folder in nodes:
            nodes[folder].metadata_files += 1
            nodes[folder].metadata_bytes += size
            continue
        owner = folder
        while owner and not (owner in nodes and nodes[owner].kind == "array"):
            owner = _split(owner)[0]
        if owner in nodes and nodes[owner].kind == "array":
            nodes[owner].chunk_files += 1
            nodes[owner].stored_bytes += size
        else:
            summary.other_files += 1


def _find_specs(summary: StoreSummary) -> None:
    root = summary.nodes.get("")
    spec = spec_location(root.attributes) if root else None
    if spec is None or spec not in summary.nodes:
        return
    summary.spec_location = spec
    for ns_key in summary.nodes[summary.spec_location].children:
        versions = [posixpath.basename(v) for v in summary.nodes[ns_key].children if summary.nodes[v].kind == "group"]
        if versions:
            summary.namespaces[posixpath.basename(ns_key)] = sorted(versions, key=version_key)


def _read_scalars(summary: StoreSummary, where: Any) -> dict[str, Any]:
    """Values of the 0-d arrays (outside the cached specs), read concurrently; unreadable ones are skipped."""
    keys = [n.key for n in summary.arrays() if n.shape == () and not n.is_reference]
    if not keys or summary.zarr_format != 3:
        return {}
    import zarr
    from zarr.core.sync import sync

    store = zarr.storage.LocalStore(where, read_only=True) if isinstance(where, str) else where

    async def one(key: str) -> Any:
        try:
            array = await zarr.api.asynchronous.open_array(store=store, path=key, mode="r", zarr_format=3)
            value = await array.getitem(())
        except Exception:
            return None
        return value.item() if hasattr(value, "item") and getattr(value, "dtype", None) is not None else value

    async def all_of() -> list[Any]:
        return await asyncio.gather(*(one(k) for k in keys))

    values = sync(all_of())
    return {k: v for k, v in zip(keys, values) if v is not None}
