"""Exceptions raised by hdmf_zarr, each a subclass of the built-in that callers already catch."""

from __future__ import annotations

__all__ = [
    "ConcurrentWriteError",
    "ConversionError",
    "DamagedFileError",
    "IncompleteConversionError",
    "IncompleteFileError",
    "InconsistentMetadataError",
    "InvalidNameError",
    "MissingChunkError",
    "MissingCodecError",
    "PlanError",
    "SourceChangedError",
    "StoreNotFoundError",
    "StoreUnreachableError",
    "UnresolvableDtypeError",
    "UnsafeLinkError",
    "UnsafePickleCodecError",
]


class StoreNotFoundError(ValueError, FileNotFoundError):
    """No Zarr hierarchy at the given location: nothing there, an empty folder, or no ``zarr.json``.

    A ``FileNotFoundError`` (an ``OSError``) like zarr's own "group not found", and a ``ValueError`` for
    callers written against earlier releases. ``filename`` is the location.
    """

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.filename = location

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreUnreachableError(ConnectionError):
    """A remote store did not answer (no network, wrong endpoint, refused connection, bad credentials).

    A ``ConnectionError`` (an ``OSError``), so code that skips remote work when offline can catch
    ``OSError``; the client library's own exception is its ``__cause__``.
    """


class UnresolvableDtypeError(ValueError):
    """A spec dtype that maps to no storage type."""


class ConversionError(ValueError):
    """A conversion that cannot run as asked (unknown format, destination exists, bad option)."""


class MissingCodecError(RuntimeError):
    """A dataset's data cannot be decoded because a codec it names is not installed."""


class PlanError(ValueError):
    """A plan that cannot be committed (bad storage settings, data that does not fit)."""


class IncompleteConversionError(RuntimeError):
    """A v2 -> v3 conversion was refused because some entries of the source could not be read."""


class UnsafePickleCodecError(ValueError):
    """A pickled value of a legacy file needs code that is not plain data; it was not unpickled."""


class IncompleteFileError(OSError):
    """The file was being written when its writer stopped (killed, crashed, or still running elsewhere).

    Open it with ``allow_incomplete=True`` to salvage what was written, or run ``hdmf-zarr repair``.
    """


class ConcurrentWriteError(OSError):
    """Another writer holds the file (a lock on a local folder, a newer root document on an object store)."""


class DamagedFileError(OSError):
    """The stored file is damaged: a document that does not parse, a chunk that is gone or does not decode."""


class MissingChunkError(DamagedFileError):
    """A chunk the writer recorded as stored is missing from the store (deleted, or a server that lies)."""


class InconsistentMetadataError(DamagedFileError):
    """The consolidated metadata and a node's own document disagree; ``hdmf-zarr repair`` rebuilds the former."""


class UnsafeLinkError(PermissionError):
    """An external link points outside the places the link policy allows; nothing was opened or requested."""


class InvalidNameError(ValueError):
    """A group, dataset or link name that Zarr forbids or a store cannot hold."""


class SourceChangedError(DamagedFileError):
    """A virtual file's source (the HDF5 file whose chunks it references) changed or is gone since it was made;
    reading on would give wrong data. Make the virtual file again (``hdmf-zarr convert --virtual``)."""
