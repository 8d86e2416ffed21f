"""Undo an edit that did not finish: put a file back as its consolidated metadata describes it.

An edit (modes ``a``/``r+``) marks the root "appending" and keeps the consolidated block of the file as it
was (``_writestate.py``). If the edit stops half way, that block is still the last finished state: rolling
back deletes the nodes the edit added, writes back the documents it changed, and drops the mark. Chunks of
arrays that existed before are not touched (an edit only adds chunks beyond an array's old shape, which the
old shape does not read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from ._convention import V3_DOCUMENT, WRITE_STATE_FIELD, join_key
from ._read.documents import flatten_block, load_documents, without_block
from ._writelock import WriterLock, local_store_path


@dataclass
class Rollback:
    """What a rollback changed: nodes deleted and documents written back (store keys)."""

    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def roll_back_edit(store: Store) -> Rollback:
    """Restore the file described by the root's consolidated block; ValueError when the root has none.

    A local store is locked against writers meanwhile (``ConcurrentWriteError`` when one has it open).
    """
    local = local_store_path(store)
    lock = WriterLock.acquire(local, "r+") if local is not None else None
    try:
        return sync(_roll_back(store))
    finally:
        if lock is not None:
            lock.release()


async def _roll_back(store: Store) -> Rollback:
    root, current = await load_documents(store, use_consolidated=False)
    block = root.get("consolidated_metadata")
    if not isinstance(block, dict):
        raise ValueError(
            "Cannot roll back: the root zarr.json has no consolidated metadata describing the file before the "
            "edit. Run `hdmf-zarr repair PATH` to keep what the edit wrote instead."
        )
    before = flatten_block(block)
    done = Rollback()
    added = sorted(key for key in current if key not in before)
    for key in added:
        if any(key.startswith(f"{other}/") for other in added if other != key):
            continue  # inside a node deleted whole
        await store.delete_dir(key)
        done.deleted.append(key)
    prototype = default_buffer_prototype()
    for key, doc in before.items():
        if without_block(current.get(key) or {}) != without_block(doc):
            text = json.dumps(without_block(doc), separators=(",", ":")).encode()
            await store.set(join_key(key, V3_DOCUMENT), prototype.buffer.from_bytes(text))
            done.restored.append(key)
    restored_root = {k: v for k, v in root.items() if k != WRITE_STATE_FIELD}
    await store.set(V3_DOCUMENT, prototype.buffer.from_bytes(json.dumps(restored_root, separators=(",", ":")).encode()))
    return done
