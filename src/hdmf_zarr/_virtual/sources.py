"""The HDF5 files a virtual file references: their URLs, opening them, and telling when one has changed.

Each source is recorded when the virtual file is made: its URL, its size and its modification time
(local files, in nanoseconds) or ETag (object stores). Opening a virtual file compares the record with the
source as it is now; any difference is a ``SourceChangedError``, never data read from a different file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._stores import is_url
from ..errors import SourceChangedError

#: bytes h5py reads at once from a remote source: its metadata is scattered in small pieces (16 KiB: 15
#: requests and 210 kB to virtualize a 1 MB NWB file on S3, against 7 and 292 kB with 64 KiB, 58 and 226 kB with 4 KiB)
REMOTE_BLOCK_BYTES = 1 << 14
#: ... kept while the file is read (fsspec's default keeps 32 blocks, and h5py's metadata reads came back to
#: evicted ones: 339 requests for a 2.3 MiB file, 5.3 MiB read)
REMOTE_CACHE_BYTES = 64 << 20
LOCAL_PREFIX = "file://"


def source_url(path: str) -> str:
    """``path`` as the URL references name: ``file:///absolute/path`` for local files, URLs as they are."""
    if is_url(path):
        return path
    return LOCAL_PREFIX + os.path.abspath(path)


def local_path(url: str) -> str | None:
    """The local path of a ``file://`` URL, else None."""
    return url[len(LOCAL_PREFIX) :] if url.startswith(LOCAL_PREFIX) else None


def filesystem(url: str, storage_options: dict | None) -> Any:
    """The fsspec file system of ``url``, with our request limits (``_remote.url_storage_options``)."""
    import fsspec

    from .._remote import url_storage_options

    protocol = url.split("://", 1)[0]
    return fsspec.filesystem(protocol, **url_storage_options(url, storage_options))


@contextmanager
def open_hdf5(path: str, storage_options: dict | None = None) -> Iterator[Any]:
    """The HDF5 file at a local path or URL, open for reading with h5py (remote files read in small blocks)."""
    import h5py

    url = source_url(path)
    local = local_path(url)
    if local is not None:
        with h5py.File(local, "r") as handle:
            yield handle
        return
    fs = filesystem(url, storage_options)
    blocks = {"maxblocks": REMOTE_CACHE_BYTES // REMOTE_BLOCK_BYTES}  # each block fetched once, not again
    with fs.open(url, "rb", block_size=REMOTE_BLOCK_BYTES, cache_type="blockcache", cache_options=blocks) as raw:
        with h5py.File(raw, "r") as handle:
            yield handle


def fingerprint(url: str, storage_options: dict | None = None) -> dict[str, Any]:
    """What identifies the current content of the source at ``url``: size and mtime (ns) or ETag."""
    local = local_path(url)
    if local is not None:
        stat = os.stat(local)
        return {"url": url, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    info = filesystem(url, storage_options).info(url)
    found: dict[str, Any] = {"url": url, "size": int(info.get("size") or 0)}
    etag = info.get("ETag") or info.get("etag")
    if etag:
        found["etag"] = str(etag)
    return found


def _difference(recorded: dict[str, Any], storage_options: dict | None) -> str | None:
    url = recorded.get("url", "?")
    try:
        now = fingerprint(url, storage_options)
    except FileNotFoundError:
        return "it is gone"
    for key, what in (("size", "its size"), ("mtime_ns", "its modification time"), ("etag", "its ETag")):
        if key in recorded and recorded[key] != now.get(key):
            return f"{what} changed from {recorded[key]} to {now.get(key)}"
    return None


def check_sources(records: Any, storage_options: dict | None, location: str) -> None:
    """Raise ``SourceChangedError`` when a source in ``records`` differs from what the file recorded."""
    for recorded in records or ():
        if not isinstance(recorded, dict):
            continue
        reason = _difference(recorded, storage_options)
        if reason is not None:
            url = recorded.get("url") or ""
            shown = local_path(url) or url
            raise SourceChangedError(
                f"Cannot read the virtual file '{location}': its source '{shown}' changed since the "
                f"virtual file was made ({reason}), so its chunk references may point at other data. Make the "
                f"virtual file again: hdmf-zarr convert --virtual {shown} {location} --overwrite"
            )
