"""One writer at a time on a local file: an exclusive lock held from ``open()`` to ``close()``.

The lock is an advisory ``flock`` on the store itself (the folder, or the ``.zip`` file), so no lock file
is left behind and the operating system releases it when the writing process dies. Readers take no lock.
A second writer, in another process or through another IO in this one, gets ``ConcurrentWriteError``.
Object stores have no such lock; there the write mark of the root document guards (``_writestate.py``).
"""

from __future__ import annotations

import os
from typing import Any

from zarr.storage import LocalStore, ZipStore

from .errors import ConcurrentWriteError

try:
    import fcntl
except ImportError:  # Windows: no flock; local writers are not locked there
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """An exclusive lock on the local folder or file at ``path``, released by ``release()`` or process exit."""

    def __init__(self, descriptor: int, path: str) -> None:
        self.descriptor = descriptor
        self.path = path

    @classmethod
    def acquire(cls, path: str, mode: str) -> WriterLock | None:
        """Lock ``path`` for a writer in ``mode``; None when there is nothing to lock (yet) or no flock."""
        if fcntl is None or not os.path.exists(path):
            return None
        descriptor = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ConcurrentWriteError(
                f"Cannot open '{path}' in mode '{mode}': another writer has it open (another process, or another "
                "open IO in this one). Close that writer first, or open the file read-only (mode 'r'); readers "
                "are not blocked."
            ) from None
        except OSError:  # a file system without locks (some network mounts): go on unlocked
            os.close(descriptor)
            return None
        return cls(descriptor, path)

    def release(self) -> None:
        if self.descriptor >= 0:
            os.close(self.descriptor)  # closing the descriptor drops the lock
            self.descriptor = -1


def local_store_path(path: Any) -> str | None:
    """The local folder or ``.zip`` file a writer of ``path`` (a path or a zarr Store) works on, else None."""
    if isinstance(path, LocalStore):
        return str(path.root)
    if isinstance(path, ZipStore):
        return str(path.path)
    if isinstance(path, str) and "://" not in path:
        return path
    return None
