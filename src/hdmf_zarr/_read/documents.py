"""Load the metadata of every node of a Zarr v3 store: one request with consolidated metadata,
else one concurrent round per hierarchy level.

Each node document is parsed on its own, so one array that names a codec nobody installed does
not make the whole file unreadable: its unknown codecs are replaced by placeholders that raise
``MissingCodecError`` (naming the codec and the dataset) only when its data is read.

A document that is damaged (not JSON, not a JSON object, nested absurdly deep, or metadata zarr cannot
validate) raises ``DamagedFileError`` naming the store, the node and the document, and saying what to do.
No node is ever dropped silently: a missing object is worse than an error.
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
from .._stores import get_store_path
from ..errors import DamagedFileError, MissingCodecError  # (both raised here; importable from here as before)

_DOC = "zarr.json"
#: deepest nesting accepted in a node's attributes (the attributes object is level 1). HDMF writes at most
#: a few levels (lists of lists, link entries); far deeper values break later code that recurses (copying,
#: comparing, writing them again), so they are refused here, where the message can name the document.
MAX_ATTRIBUTE_DEPTH = 100
_BLOCK = "consolidated_metadata"
#: entries of a group's folder that are never child nodes (a child is any other name that holds a zarr.json)
_NOT_NODES = frozenset({_DOC, ".zgroup", ".zarray", ".zattrs", ".zmetadata"})
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


def parse_node(key: str, doc: Any, location: str | None = None, consolidated: bool = False) -> Any:
    """GroupMetadata or ArrayV3Metadata for one ``zarr.json`` document.

    DamagedFileError (naming ``location``, the node and the document) when ``doc`` is not node metadata;
    ``consolidated`` says it is an entry of the root's consolidated block rather than the node's own document.
    """
    reason = _shape_problem(doc)
    if reason is None:
        try:
            return _parse_metadata(key, doc)
        except MissingCodecError:
            raise
        except Exception as err:  # noqa: BLE001 - zarr raises many types (KeyError, TypeError, its own...)
            reason = f"is not metadata zarr can read ({_describe(err)})"
            raise _damaged(key, reason, location, consolidated) from err
    raise _damaged(key, reason, location, consolidated)


def _parse_metadata(key: str, doc: dict[str, Any]) -> Any:
    if doc["node_type"] == "group":
        return _group_metadata(without_block(doc))
    try:
        return ArrayV3Metadata.from_dict(doc)
    except Exception:
        codecs = doc.get("codecs", [])
        if not isinstance(codecs, list) or all(_codec_role(c) is not None for c in codecs):
            raise
        return ArrayV3Metadata.from_dict(_with_placeholders(doc, key))


def _group_metadata(doc: dict[str, Any]) -> GroupMetadata:
    """Group metadata keeping extra fields (``{"must_understand": false}``) even where zarr's own class
    has none for groups (zarr < 3.4.2): there they are set on the object, for our reader only."""
    if hasattr(GroupMetadata(), "extra_fields"):
        return GroupMetadata.from_dict(doc)
    extra = {k: v for k, v in doc.items() if isinstance(v, dict) and v.get("must_understand") is False}
    meta = GroupMetadata.from_dict({k: v for k, v in doc.items() if k not in extra})
    object.__setattr__(meta, "extra_fields", extra)
    return meta


def _shape_problem(doc: Any) -> str | None:
    """Why ``doc`` cannot be node metadata at all, or None."""
    if not isinstance(doc, dict):
        return f"holds a JSON {_json_type(doc)} where node metadata (a JSON object) belongs"
    if doc.get("zarr_format") != 3:
        found = doc.get("zarr_format")
        return "has no 'zarr_format'" if found is None else f"has 'zarr_format' {found!r}, not 3"
    if doc.get("node_type") not in ("group", "array"):
        found = doc.get("node_type")
        return "has no 'node_type'" if found is None else f"has 'node_type' {found!r}, not 'group' or 'array'"
    attributes = doc.get("attributes", {})
    if not isinstance(attributes, dict):
        return f"has attributes that are a JSON {_json_type(attributes)}, not an object"
    if _depth(attributes, MAX_ATTRIBUTE_DEPTH) > MAX_ATTRIBUTE_DEPTH:
        return f"has an attribute value nested more than {MAX_ATTRIBUTE_DEPTH} levels deep"
    return None


def _depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), counted without recursing; stops past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _node_name(key: str) -> str:
    return "/" + key.strip("/")


def _damaged(key: str, reason: str, location: str | None, consolidated: bool = False) -> DamagedFileError:
    """The error for the document of the node at ``key`` (from the consolidated block when ``consolidated``)."""
    where = location or "this store"
    if consolidated:
        return DamagedFileError(
            f"Cannot read '{_node_name(key)}' in '{where}': its entry '{key}' in the consolidated metadata of "
            f"'{_DOC}' {reason}. {_block_hint(location)}"
        )
    document = join_key(key, _DOC)
    return DamagedFileError(
        f"Cannot read '{_node_name(key)}' in '{where}': its metadata document '{document}' {reason}. The file is "
        f"damaged: restore '{document}' from a backup, or run `hdmf-zarr verify {location or 'PATH'}` to list "
        "every damaged object."
    )


def _block_hint(location: str | None) -> str:
    path = location or "PATH"
    return (
        f"The consolidated metadata is damaged: run `hdmf-zarr repair {path}` to rebuild it from the node "
        "documents, or open the file with mode 'r-', which reads the node documents instead."
    )


def decode_document(raw: bytes, key: str, location: str | None = None) -> Any:
    """The JSON of the ``zarr.json`` of the node at ``key``; DamagedFileError when it does not parse."""
    try:
        return json.loads(raw)
    except RecursionError as err:
        reason = "is nested deeper than a JSON parser can follow"
        raise _damaged(key, reason, location) from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        reason = "is empty" if not raw.strip() else f"is not valid JSON ({_describe(err)})"
        raise _damaged(key, reason, location) from err


async def _document(store: Store, key: str) -> dict[str, Any] | None:
    """The ``zarr.json`` of the node at ``key`` as a JSON object, None when there is none.

    DamagedFileError, naming the store and the node, when it is not JSON or not a JSON object.
    """
    path = join_key(key, _DOC)
    buffer = await store.get(path, prototype=default_buffer_prototype())
    if buffer is None:
        return None
    doc = decode_document(buffer.to_bytes(), key, get_store_path(store))
    if not isinstance(doc, dict):
        reason = f"holds a JSON {_json_type(doc)} where node metadata (a JSON object) belongs"
        raise _damaged(key, reason, get_store_path(store))
    return doc


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


class NodeDocuments(dict):
    """``{key: zarr.json}`` as ``load_documents`` returns it, knowing where the documents came from
    (the store's location, and whether from the consolidated block) so errors can name them."""

    location: str | None = None
    consolidated: bool = False


async def load_documents(store: Store, use_consolidated: bool) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The root ``zarr.json`` and ``{key: zarr.json}`` of every node below it (from the consolidated
    block when asked and present). FileNotFoundError when the store has no root document;
    DamagedFileError when a document (or, when used, the consolidated block) is damaged."""
    root = await _document(store, "")
    if root is None:
        raise FileNotFoundError("no zarr.json at the root of the store")
    location = get_store_path(store)
    block = root.get(_BLOCK) if use_consolidated else None
    if block is not None:
        found = flatten_block(block, location=location)
    else:
        found = await _walk(store, root)
    documents = NodeDocuments(found)
    documents.location, documents.consolidated = location, block is not None
    return root, documents


def parse_nodes(root: dict[str, Any], documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{key: metadata}`` for the root (key ``""``) and every document."""
    location = getattr(documents, "location", None)
    consolidated = getattr(documents, "consolidated", False)
    nodes = {"": parse_node("", root, location)}
    for key, doc in documents.items():
        nodes[key] = parse_node(key, doc, location, consolidated)
    return nodes


def flatten_block(block: Any, prefix: str = "", location: str | None = None) -> dict[str, dict[str, Any]]:
    """``{key: document}`` from a consolidated block, whether its writer nested group members or not.

    DamagedFileError (naming ``location`` and the entry) when the block is not one: not a JSON object,
    no ``metadata`` object, an entry that is not a JSON object.
    """
    if not isinstance(block, dict):
        raise _bad_block(prefix, f"is a JSON {_json_type(block)}, not an object", location)
    members = block.get("metadata")
    if not isinstance(members, dict):
        found = "has no 'metadata' object" if members is None else f"has a JSON {_json_type(members)} as 'metadata'"
        raise _bad_block(prefix, found, location)
    out: dict[str, dict[str, Any]] = {}
    for name, doc in members.items():
        key = f"{prefix}/{name}" if prefix else name
        if not isinstance(doc, dict):
            reason = f"is a JSON {_json_type(doc)} where node metadata (a JSON object) belongs"
            raise _damaged(key, reason, location, consolidated=True)
        out[key] = doc
        nested = doc.get(_BLOCK)
        if nested is not None and (not isinstance(nested, dict) or nested.get("metadata")):
            out.update(flatten_block(nested, key, location))
    return out


def _bad_block(prefix: str, reason: str, location: str | None) -> DamagedFileError:
    """The error for a consolidated block that is not one: the root's (``prefix`` "") or one nested in an entry."""
    where = f"'{_node_name(prefix)}' in '{location or 'this store'}'"
    block = f"the '{_BLOCK}' block of '{_DOC}'" if not prefix else f"the '{_BLOCK}' block in its entry '{prefix}'"
    return DamagedFileError(f"Cannot read {where}: {block} {reason}. {_block_hint(location)}")


def without_block(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "consolidated_metadata"}


def block_is_current(root: dict[str, Any], documents: dict[str, dict[str, Any]]) -> bool:
    """True when the root's consolidated block describes exactly ``documents``."""
    block = root.get(_BLOCK)
    if not isinstance(block, dict):
        return False
    try:
        stored = flatten_block(block)
    except DamagedFileError:  # a damaged block is not current: rebuilding it is the repair
        return False
    return stored.keys() == documents.keys() and all(
        without_block(stored[key]) == without_block(documents[key]) for key in documents
    )
