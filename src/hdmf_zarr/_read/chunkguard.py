"""Reading an array's chunks with two checks that keep damage from reading as data.

* A chunk that the array's record (``_chunkrecord.py``) says was stored, but that the store does not
  return, raises ``MissingChunkError`` instead of reading as the fill value: a deleted chunk object, or
  a server that answers 404 for an object it holds.
* When the array's metadata came from the consolidated block, its own ``zarr.json`` is read once, at
  the first chunk read, and must agree with the block on everything that decides how chunks decode
  (shape, data type, chunk grid, codecs, fill value): else ``InconsistentMetadataError``.

A chunk an Icechunk repository refuses because the file its virtual reference points into changed raises
``SourceChangedError`` naming the dataset (Icechunk's own message names the source).

All three live in a ``StorePath`` subclass that zarr's codec pipeline reads chunks through, so the zarr
array itself (and ``array.store``, which tools read) is the usual one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.storage import StorePath

from .._chunkrecord import is_recorded_chunk, recorded_shape
from .._convention import V3_DOCUMENT, join_key
from .._icechunk import is_icechunk_store
from .._stores import get_store_path
from ..errors import InconsistentMetadataError, MissingChunkError, SourceChangedError
from .documents import decode_document, parse_node

#: how Icechunk says that the source of a virtual chunk changed since the reference was made
_CHANGED_SOURCE = "checksum of the object owning the virtual chunk has changed"
#: metadata that decides how an array's chunks decode: the node document must agree with the block on these
_DECODING_FIELDS = ("shape", "data_type", "chunk_grid", "chunk_key_encoding", "codecs", "fill_value")


class ArrayChecks:
    """The checks of one array (shared by every StorePath of its chunks)."""

    def __init__(self, store: Store, key: str, metadata: Any, check_document: bool) -> None:
        self.store, self.key, self.metadata = store, key, metadata
        self.document_pending = check_document
        self.document_check: asyncio.Future | None = None  # shared by the chunk reads that start together
        self.recorded = recorded_shape(metadata) is not None

    def where(self) -> str:
        if is_icechunk_store(self.store):
            return f"dataset '/{self.key}' of Icechunk snapshot {self.store.session.snapshot_id}"
        return f"dataset '/{self.key}' of '{get_store_path(self.store)}'"

    async def check_document(self) -> None:
        """Compare the node's own document with the block's metadata, once (one read however many chunk reads
        are waiting for it)."""
        if not self.document_pending:
            return
        if self.document_check is None or self.document_check.get_loop() is not asyncio.get_running_loop():
            self.document_check = asyncio.ensure_future(self._compare_document())
        await asyncio.shield(self.document_check)

    async def _compare_document(self) -> None:
        found = await self.store.get(join_key(self.key, V3_DOCUMENT), prototype=default_buffer_prototype())
        hint = (
            "The file was changed after its consolidated metadata was written. Run `hdmf-zarr verify PATH` to "
            "list what changed and `hdmf-zarr repair PATH` to rebuild the consolidated metadata from the nodes, "
            "or open the file in mode 'r-' to read the nodes as they are."
        )
        if found is None:
            raise InconsistentMetadataError(
                f"Cannot read {self.where()}: the consolidated metadata describes it, but its zarr.json is gone "
                f"from the store. {hint}"
            )
        location = get_store_path(self.store)
        own = parse_node(self.key, decode_document(found.to_bytes(), self.key, location), location).to_dict()
        block = self.metadata.to_dict()
        changed = [name for name in _DECODING_FIELDS if _normal(own.get(name)) != _normal(block.get(name))]
        if changed:
            raise InconsistentMetadataError(
                f"Cannot read {self.where()}: its zarr.json and the consolidated metadata disagree on "
                f"{', '.join(changed)}. {hint}"
            )
        self.document_pending = False

    def check_missing(self, path: str) -> None:
        """MissingChunkError when the absent chunk at store key ``path`` was recorded as stored."""
        if not self.recorded:
            return
        chunk_key = path[len(self.key) + 1 :] if self.key else path
        try:
            coords = self.metadata.chunk_key_encoding.decode_chunk_key(chunk_key)
        except (ValueError, TypeError):
            return
        if is_recorded_chunk(self.metadata, tuple(coords)):
            raise MissingChunkError(
                f"Cannot read {self.where()}: its chunk '{chunk_key}' is missing from the store, but the writer "
                "stored it. The chunk object was deleted, or the server did not return it; reading it as fill "
                "values would give wrong data. Run `hdmf-zarr verify PATH` to list every missing chunk, and "
                "restore the file from a copy."
            )


def _normal(value: Any) -> Any:
    """A JSON value in one spelling (tuples as lists), for comparison."""
    return json.loads(json.dumps(value, default=str)) if value is not None else None


class CheckedStorePath(StorePath):
    """A StorePath below an array whose chunk reads go through the array's checks."""

    def __init__(self, store: Store, path: str, checks: ArrayChecks) -> None:
        super().__init__(store, path)
        self.checks = checks

    def __truediv__(self, other: str) -> CheckedStorePath:
        return CheckedStorePath(self.store, join_key(self.path, other) if other else self.path, self.checks)

    async def get(
        self, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        await self.checks.check_document()
        try:
            found = await super().get(prototype=prototype, byte_range=byte_range)
        except Exception as err:
            if _CHANGED_SOURCE not in str(err):
                raise
            source = str(err).split(_CHANGED_SOURCE, 1)[1].strip().splitlines()[0].strip()
            raise SourceChangedError(
                f"Cannot read {self.checks.where()}: the file its chunks are referenced in {source} changed since "
                "the virtual file was made; reading on would give other data. Make the virtual file again "
                "(hdmf-zarr convert --virtual ... --overwrite)."
            ) from err
        if found is None:
            self.checks.check_missing(self.path)
        return found


def checked_store_path(store: Store, key: str, metadata: Any, check_document: bool) -> StorePath:
    """The StorePath to read the array at ``key`` through: checked where there is something to check."""
    if not check_document and recorded_shape(metadata) is None and not is_icechunk_store(store):
        return StorePath(store, key)
    return CheckedStorePath(store, key, ArrayChecks(store, key, metadata, check_document))
