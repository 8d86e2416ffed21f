"""Load the metadata of every node of a Zarr v3 store: one request with consolidated metadata,
else one concurrent round per hierarchy level.

Each node document is parsed on its own, so one array that names a codec nobody installed does
not make the whole file unreadable: its unknown codecs are replaced by placeholders that raise
``MissingCodecError`` (naming the codec and the dataset) only when its data is read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.registry import get_codec_class, register_codec

from .._convention import join_key
from ..errors import MissingCodecError  # noqa: F401  (raised here; importable from here as before)

_DOC = "zarr.json"
#: entries of a group's folder that are never child nodes (a child is any other name that holds a zarr.json)
_NOT_NODES = frozenset({_DOC, ".zgroup", ".zarray", ".zattrs", ".zmetadata", "c"})
_MISSING = {
    "array_array": "hdmf_zarr.missing-filter",
    "array_bytes": "hdmf_zarr.missing-serializer",
    "bytes_bytes": "hdmf_zarr.missing-compressor",
}


def _is_known(name: str) -> bool:
    try:
        get_codec_class(name)
    except Exception:  # noqa: BLE001 - zarr raises its own error types for unknown names
        return False
    return True


class _MissingCodecMixin:
    codec: str
    dataset: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        config = data.get("configuration", {})
        return cls(codec=config.get("codec", "?"), dataset=config.get("dataset", "?"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.codec}

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise MissingCodecError(
            f"Cannot read dataset '/{self.dataset}': it is encoded with the codec '{self.codec}', which is not "
            "installed. Install the package that provides it (zarr finds codecs through the 'zarr.codecs' "
            "entry point group)."
        )

    def resolve_metadata(self, chunk_spec: Any) -> Any:
        return chunk_spec

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
        return input_byte_length

    async def _decode_single(self, *args: Any) -> Any:
        self._fail()

    async def _encode_single(self, *args: Any) -> Any:
        self._fail()


@dataclass(frozen=True)
class MissingFilter(_MissingCodecMixin, ArrayArrayCodec):
    codec: str = "?"
    dataset: str = "?"
    is_fixed_size = True


@dataclass(frozen=True)
class MissingSerializer(_MissingCodecMixin, ArrayBytesCodec):
    codec: str = "?"
    dataset: str = "?"
    is_fixed_size = True


@dataclass(frozen=True)
class MissingCompressor(_MissingCodecMixin, BytesBytesCodec):
    codec: str = "?"
    dataset: str = "?"
    is_fixed_size = True


register_codec(_MISSING["array_array"], MissingFilter)
register_codec(_MISSING["array_bytes"], MissingSerializer)
register_codec(_MISSING["bytes_bytes"], MissingCompressor)


def _codec_role(codec: Any) -> str | None:
    name = codec.get("name") if isinstance(codec, dict) else codec
    if not _is_known(name):
        return None
    cls = get_codec_class(name)
    for role, base in (("array_array", ArrayArrayCodec), ("array_bytes", ArrayBytesCodec)):
        if issubclass(cls, base):
            return role
    return "bytes_bytes"


def _with_placeholders(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """``doc`` with each unknown codec replaced by a placeholder of the role its position implies."""
    codecs = list(doc.get("codecs", []))
    roles = [_codec_role(c) for c in codecs]
    serializer = roles.index("array_bytes") if "array_bytes" in roles else None
    if serializer is None:  # the serializer itself is unknown: take the first unknown codec
        serializer = roles.index(None)
    replaced = []
    for index, (codec, role) in enumerate(zip(codecs, roles)):
        if role is None:
            name = codec.get("name") if isinstance(codec, dict) else codec
            role = "array_array" if index < serializer else "array_bytes" if index == serializer else "bytes_bytes"
            codec = {"name": _MISSING[role], "configuration": {"codec": name, "dataset": key}}
        replaced.append(codec)
    return {**doc, "codecs": replaced}


def parse_node(key: str, doc: dict[str, Any]) -> Any:
    """GroupMetadata or ArrayV3Metadata for one ``zarr.json`` document."""
    if doc.get("node_type") == "group":
        return GroupMetadata.from_dict(without_block(doc))
    try:
        return ArrayV3Metadata.from_dict(doc)
    except Exception:
        if all(_codec_role(c) is not None for c in doc.get("codecs", [])):
            raise
        return ArrayV3Metadata.from_dict(_with_placeholders(doc, key))


async def _document(store: Store, key: str) -> dict[str, Any] | None:
    path = join_key(key, _DOC)
    buffer = await store.get(path, prototype=default_buffer_prototype())
    return None if buffer is None else json.loads(buffer.to_bytes())


async def _walk(store: Store, root: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every node document below the root, one concurrent round of requests per level."""
    documents: dict[str, dict[str, Any]] = {}
    level = [""]
    while level:
        listings = await asyncio.gather(*(_children(store, key) for key in level))
        children = [child for names in listings for child in names]
        docs = await asyncio.gather(*(_document(store, child) for child in children))
        level = []
        for child, doc in zip(children, docs):
            if doc is not None:
                documents[child] = doc
                if doc.get("node_type") == "group":
                    level.append(child)
    return documents


async def _children(store: Store, key: str) -> list[str]:
    prefix = f"{key}/" if key else ""
    names = [name.rstrip("/") async for name in store.list_dir(prefix)]
    return [f"{prefix}{name}" for name in names if name and name not in _NOT_NODES]


async def load_documents(store: Store, use_consolidated: bool) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The root ``zarr.json`` and ``{key: zarr.json}`` of every node below it (from the consolidated
    block when asked and present). FileNotFoundError when the store has no root document."""
    root = await _document(store, "")
    if root is None:
        raise FileNotFoundError("no zarr.json at the root of the store")
    block = root.get("consolidated_metadata") if use_consolidated else None
    documents = flatten_block(block) if isinstance(block, dict) else await _walk(store, root)
    return root, documents


def parse_nodes(root: dict[str, Any], documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{key: metadata}`` for the root (key ``""``) and every document."""
    nodes = {"": parse_node("", root)}
    for key, doc in documents.items():
        nodes[key] = parse_node(key, doc)
    return nodes


def flatten_block(block: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """``{key: document}`` from a consolidated block, whether its writer nested group members or not."""
    out: dict[str, dict[str, Any]] = {}
    for name, doc in (block.get("metadata") or {}).items():
        key = f"{prefix}/{name}" if prefix else name
        out[key] = doc
        nested = doc.get("consolidated_metadata") if isinstance(doc, dict) else None
        if isinstance(nested, dict) and nested.get("metadata"):
            out.update(flatten_block(nested, key))
    return out


def without_block(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "consolidated_metadata"}


def block_is_current(root: dict[str, Any], documents: dict[str, dict[str, Any]]) -> bool:
    """True when the root's consolidated block describes exactly ``documents``."""
    block = root.get("consolidated_metadata")
    if not isinstance(block, dict):
        return False
    stored = flatten_block(block)
    return stored.keys() == documents.keys() and all(
        without_block(stored[key]) == without_block(documents[key]) for key in documents
    )
