"""One IO's hold on a file it writes: the local writer lock, the root's write-state mark, and whether a write
failed (then the mark stays, so readers still see the file as it was).

``ZarrIO`` owns one ``WriteSession`` from ``open()`` to ``close()``; the marks themselves are spelled in
``_writestate.py`` and the lock in ``_writelock.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

from zarr.abc.store import Store
from zarr.core.group import GroupMetadata

from ._stores import not_found
from ._writelock import WriterLock, local_store_path
from ._writestate import (
    APPENDING,
    WRITING,
    describe,
    incomplete_error,
    mark_document,
    mark_of_document,
    new_mark,
    read_root,
    replace_root,
    write_state,
)
from .errors import ConcurrentWriteError


class WriteSession:
    """The write state of one open IO on the file at ``source`` in ``mode``."""

    def __init__(self, source: str, mode: str, allow_incomplete: bool) -> None:
        self.source, self.mode, self.allow_incomplete = source, mode, allow_incomplete
        self.lock: WriterLock | None = None
        self.mark: dict[str, Any] | None = None  # this IO's mark while the root carries it
        self.failed = False  # a write raised: close() leaves the mark
        self.opened_root: bytes | None = None  # the root document as this IO found it (modes 'a', 'r+')

    # ---------------------------------------------------------------- lock
    def lock_path(self, path: Any) -> None:
        """Lock the local folder or zip file ``path`` is (nothing for other stores, or a file not there yet)."""
        local = local_store_path(path)
        if local is not None and self.lock is None:
            self.lock = WriterLock.acquire(local, self.mode)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ---------------------------------------------------------------- marks
    def mark_new_file(self, store: Store, commit_root: Any) -> None:
        """A new file's root, written by ``commit_root(root, mark)``: marked until the writer's last step."""
        self.mark = new_mark(WRITING)
        commit_root(GroupMetadata(), self.mark)

    def remember_root(self, store: Store) -> None:
        """Keep the root document as found, before the node index is loaded (a change in between is caught)."""
        self.opened_root = read_root(store)

    def check_readable(self, index: Any) -> None:
        """Refuse a file whose writer did not finish, unless ``allow_incomplete`` (see ``_writestate.py``)."""
        mark = write_state(index.nodes.get(""))
        if mark is None:
            return
        before_edit = mark.get("state") == APPENDING and getattr(index, "from_block", False)
        if before_edit or self.allow_incomplete:
            what = "the file as it was before that edit" if before_edit else "what was written"
            warnings.warn(f"'{self.source}' is incomplete ({describe(mark)}); reading {what}.", stacklevel=5)
            return
        raise incomplete_error(self.source, mark, self.mode)

    def begin(self, store: Store) -> None:
        """Mark an existing file as being edited, before the first change (modes 'a' and 'r+')."""
        if self.mark is not None:
            return
        document = read_root(store)
        if document is None:
            raise not_found(self.source, self.mode, "its root zarr.json is gone")
        found = mark_of_document(document)
        if found is not None and not self.allow_incomplete:
            raise ConcurrentWriteError(
                f"Cannot write to '{self.source}': another writer started editing it after this IO opened it "
                f"({describe(found)}). Open it again once that writer has finished."
            )
        opened = self.opened_root or document
        if document != opened:
            raise ConcurrentWriteError(
                f"Cannot write to '{self.source}': another writer changed it after this IO opened it, so writing "
                "now would lose or mix changes. Open the file again and repeat this write."
            )
        mark = new_mark(APPENDING)
        error = f"Cannot write to '{self.source}': another writer started changing it at the same moment."
        replace_root(store, mark_document(document, mark), lambda current: current == opened, error)
        self.mark = mark
