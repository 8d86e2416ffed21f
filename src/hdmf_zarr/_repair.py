"""Accepting what a Zarr v3 file of our convention holds (``repair_store``, behind ``hdmf-zarr repair``).

``repair_store`` rewrites the root document from the node documents: the consolidated block rebuilt, an
"appending" mark removed (the edit is accepted as it is), a "writing" mark only with ``force``. It refuses a
file whose node documents are damaged or missing: rebuilding the block would drop those nodes silently.

It walks the node documents as ``verify_store`` does (``_storescan.py``); chunks are never read or changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zarr.abc.store import Store
from zarr.core.group import GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata

from ._storescan import (
    BLOCK,
    ERROR,
    Problem,
    Scan,
    block_entries,
    check_format,
    check_orphans,
    comparable,
    counted,
    describes,
    node_path,
    scan_hierarchy,
    uninstalled_codec,
)
from ._write.commit import finish_root
from ._writelock import WriterLock, local_store_path
from ._writestate import APPENDING, describe, read_root, write_state
from .errors import ConcurrentWriteError


@dataclass
class RepairReport:
    """What ``repair_store`` changed, or why it refused (``refused``; ``problems`` lists the damage)."""

    location: str
    changes: list[str] = field(default_factory=list)
    refused: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.refused is None


def repair_store(store: Store, *, force: bool = False) -> RepairReport:
    """Rewrite the root document of the Zarr v3 file in ``store`` from its node documents.

    The consolidated block is rebuilt when it does not describe the nodes (kept absent when the file has
    none), an "appending" write mark is removed (the unfinished edit is accepted as it is), and a "writing"
    mark (a new file whose writer never finished) only with ``force``. The root's attributes are kept.
    Refuses (``report.refused``) a file whose node documents are damaged or missing. A local store is
    locked against writers while it is repaired (``ConcurrentWriteError`` when one has it open).
    """
    check_format(store)
    local = local_store_path(store)
    lock = WriterLock.acquire(local, "r+") if local is not None else None
    try:
        return _repair(store, force)
    finally:
        if lock is not None:
            lock.release()


def _repair(store: Store, force: bool) -> RepairReport:
    scan = scan_hierarchy(store, "r+")
    report = RepairReport(scan.location)
    block = block_entries(scan)
    scan.problems = [p for p in scan.problems if p.kind != "damaged-block"]  # rebuilding it is the repair
    check_orphans(scan, None)
    damage = [p for p in scan.problems if p.severity == ERROR]
    root = scan.nodes.get("")
    if not isinstance(root, GroupMetadata):
        report.problems = damage
        report.refused = "the root zarr.json is missing, damaged or not a group; restore it from a copy"
        return report
    if damage:
        report.problems = damage
        one = len(damage) == 1
        report.refused = (
            f"{counted(len(damage), 'node')} of the file {'is' if one else 'are'} damaged or missing "
            f"{'its' if one else 'their'} zarr.json: rebuilding the consolidated metadata would drop "
            f"{'it' if one else 'them'}. Restore {'it' if one else 'them'} from a copy (the consolidated "
            "metadata may still hold the lost documents)"
        )
        return report
    missing_codec = [
        key for key, meta in scan.nodes.items() if isinstance(meta, ArrayV3Metadata) and uninstalled_codec(meta)
    ]
    if missing_codec:
        report.problems = [
            Problem(
                node_path(key),
                "missing-codec",
                f"uses the codec '{uninstalled_codec(scan.nodes[key]).codec}', which is not installed",
            )
            for key in missing_codec
        ]
        report.refused = (
            "install the codecs the file uses first: the consolidated metadata is rebuilt from parsed metadata"
        )
        return report
    mark = write_state(root)
    state = None if mark is None else mark.get("state")
    if mark is not None and state != APPENDING and not force:
        report.refused = (
            f"the file was never finished: its root zarr.json is marked {describe(mark)}. It may lack datasets "
            "or chunks its writer did not write. Run `hdmf-zarr verify` to see what is there, write the file "
            "again, or repair with --force (force=True) to accept it as it is"
        )
        return report
    has_block = scan.root is not None and scan.root.get(BLOCK) is not None
    consolidate = has_block or mark is not None and state != APPENDING
    stale = consolidate and not (block is not None and describes(block, scan.documents))
    if mark is None and not stale:
        return report
    if read_root(store) != scan.root_raw:
        raise ConcurrentWriteError(
            f"Cannot repair '{scan.location}': its root zarr.json changed while it was being checked (a writer "
            "is at work). Run repair again once that writer has finished."
        )
    finish_root(store, scan.nodes, consolidate=consolidate)
    if mark is not None and state == APPENDING:
        report.changes.append(f"removed the write mark ({describe(mark)}): the unfinished edit is accepted as it is")
    elif mark is not None:
        report.changes.append(
            f"removed the write mark ({describe(mark)}): the file is accepted as it is, but may lack data its "
            "writer did not write; run `hdmf-zarr verify` to check it"
        )
    if stale:
        report.changes.append(_block_change(block, scan, has_block))
    return report


def _block_change(block: dict[str, dict[str, Any]] | None, scan: Scan, had_block: bool) -> str:
    nodes = len(scan.nodes) - 1
    if not had_block:
        return f"wrote consolidated metadata for {counted(nodes, 'node')}"
    if block is None:
        return f"rebuilt the damaged consolidated metadata: {counted(nodes, 'node')}"
    added = len(scan.documents.keys() - block.keys())
    removed = len(block.keys() - scan.documents.keys())
    updated = sum(
        comparable(block[key]) != comparable(scan.documents[key]) for key in scan.documents.keys() & block.keys()
    )
    details = [f"{n} {what}" for n, what in ((added, "added"), (removed, "removed"), (updated, "updated")) if n]
    what = ", ".join(details) or "reordered"
    return f"rebuilt the consolidated metadata from the node documents: {counted(nodes, 'node')} ({what})"


__all__ = ["RepairReport", "repair_store"]
