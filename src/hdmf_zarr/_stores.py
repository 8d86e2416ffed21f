"""Turn what the user passed as ``path`` into an open zarr Store for a given mode.

``path`` may be a local folder, a ``.zip`` file (one-file store), a URL read through fsspec
(``s3://``, ``gs://``, ``https://`` ...; ``storage_options`` go to the file system), an obstore
store, or any zarr v3 ``Store`` (``MemoryStore``, ``ZipStore``, ``FsspecStore``, ``ObjectStore`` ...).
``store_location`` names a store by a folder or URL, against which the relative ``source`` of an
external link resolves (``resolve_source``) and from which it is computed (``relative_source``).

A URL is opened as ``_remote.URLStore``, with the request limits (timeouts, retries) of
``_remote.url_storage_options``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from typing import Any

from zarr.abc.store import RangeByteRequest, Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, ZipStore

from ._convention import V2_DOCUMENTS, V3_DOCUMENT, detect_format
from ._icechunk import is_icechunk_object, is_local_repository
from ._remote import READ_ONLY_PROTOCOLS, URLStore, fsspec_url, url_protocol, url_storage_options
from ._remote import REMOTE_LIMITS as REMOTE_LIMITS  # re-exported: tests import it from here
from .errors import StoreNotFoundError, StoreUnreachableError

READ_MODES = ("r", "r-")
WRITE_MODES = ("w", "w-", "x", "a", "r+")
ALL_MODES = READ_MODES + WRITE_MODES
#: the package that implements each fsspec protocol, for the error when it is missing
_PROTOCOL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs"}
_HTTP_PACKAGES = "aiohttp"


class FolderStore(LocalStore):
    """zarr's LocalStore that also answers ``path`` (the folder), as zarr 2's DirectoryStore did.

    Tools written for zarr 2 read ``array.store.path`` to tell which file an array belongs to
    (neuroconv skips the datasets already in a file it appends to that way).
    """

    @property
    def path(self) -> str:
        return str(self.root)


def is_url(path: Any) -> bool:
    return isinstance(path, str) and "://" in path


def is_reference_path(path: Any) -> bool:
    """True for a path or URL naming a JSON reference file (a virtual file), by its ``.json`` suffix."""
    return isinstance(path, str) and path.lower().rstrip("/").endswith(".json")


def normalize_path(path: Any) -> Any:
    """Absolute local paths (symlinks resolved); URLs and Store objects as given."""
    if isinstance(path, Path):
        path = str(path)
    if isinstance(path, str) and not is_url(path):
        return str(Path(path).expanduser().resolve())
    return path


def _obstore_url(inner: Any) -> str | None:
    """The URL of an obstore store object (S3, GCS, local), or None."""
    config = getattr(inner, "config", None) or {}
    prefix = str(getattr(inner, "prefix", None) or "").strip("/")
    kind = type(inner).__name__
    if kind == "S3Store" and config.get("bucket"):
        return f"s3://{config['bucket']}/{prefix}".rstrip("/")
    if kind == "GCSStore" and config.get("bucket"):
        return f"gs://{config['bucket']}/{prefix}".rstrip("/")
    if kind == "LocalStore" and prefix:
        return "/" + prefix
    return None


def store_location(store: Any) -> str | None:
    """The folder or URL a store lives at (a .zip store: its file), or None (memory, unknown stores)."""
    if isinstance(store, LocalStore):
        return str(Path(store.root).resolve())
    if isinstance(store, ZipStore):
        return str(Path(store.path).resolve())
    if isinstance(store, FsspecStore):
        return fsspec_url(store)
    if type(store).__name__ == "ObjectStore":
        return _obstore_url(getattr(store, "store", None))
    if type(store).__module__.split(".")[0] == "obstore":
        return _obstore_url(store)
    return None


def get_store_path(store: Any) -> str:
    """A printable location for a store: an absolute folder for local stores, a URL for remote ones."""
    return store_location(store) or str(store)


def store_folder(store: Any) -> str | None:
    """The local folder a store lives in, or None for stores that are not local folders."""
    if isinstance(store, LocalStore):
        return str(Path(store.root).resolve())
    return None


def is_remote_store(store: Any) -> bool:
    """True for stores whose requests go over a network (fsspec other than local/memory, obstore)."""
    if isinstance(store, FsspecStore):
        return fsspec_url(store).split("://", 1)[0] not in ("file", "local", "memory")
    if type(store).__name__ == "ObjectStore":
        return type(getattr(store, "store", None)).__name__ not in ("LocalStore", "MemoryStore")
    return False


def resolve_source(location: str, source: str) -> str:
    """The location a link ``source`` (relative to the store at ``location``, or absolute) names."""
    if is_url(source):
        return source
    if os.path.isabs(source):
        return os.path.normpath(source)
    if is_url(location):
        scheme, rest = location.split("://", 1)
        return f"{scheme}://{posixpath.normpath(posixpath.join(rest, source))}"
    return os.path.abspath(os.path.normpath(os.path.join(location, source)))


def relative_source(location: str, target: str) -> str:
    """``target`` as seen from the store at ``location``: relative when both are on one file system or
    bucket, else ``target`` itself."""
    if is_url(location) != is_url(target):
        return target
    if is_url(target):
        (s1, r1), (s2, r2) = location.split("://", 1), target.split("://", 1)
        if s1 != s2 or r1.split("/", 1)[0] != r2.split("/", 1)[0]:
            return target
        return posixpath.relpath("/" + r2, "/" + r1)
    return os.path.relpath(target, location).replace("\\", "/")


def has_key(store: Store, key: str) -> bool:
    return bool(sync(store.exists(key)))


def store_format(store: Store) -> int | None:
    """3 or 2 for the Zarr hierarchy at the root of ``store``, None when there is none.

    A remote store that cannot be asked raises ``StoreUnreachableError`` (an ``OSError``) naming it.
    """
    try:
        return detect_format(store, _probe(store))
    except OSError:
        raise
    except Exception as err:
        if not is_remote_store(store):
            raise
        raise StoreUnreachableError(f"Cannot reach the store at '{get_store_path(store)}': {err}") from err


def _probe(store: Store) -> Any:
    """How to ask an fsspec store whether a key is there in one request: s3fs answers ``exists`` with a HEAD and,
    for a missing key, a listing (is it a folder?); a GET of its first byte is one request either way. None for
    other stores (their ``exists`` is one request or none)."""
    if not isinstance(store, FsspecStore):
        return None

    async def exists(key: str) -> bool:
        return await store.get(key, default_buffer_prototype(), byte_range=RangeByteRequest(0, 1)) is not None

    return exists


def not_found(location: str, mode: str, what: str = "no such file or folder") -> StoreNotFoundError:
    """The error for a location that holds no Zarr hierarchy to open in ``mode``."""
    return StoreNotFoundError(f"Unable to open '{location}' in mode '{mode}': {what}.", location)


def _empty_folder(path: str, entries: list[str]) -> None:
    """Delete what ``path`` holds, its root documents first (a clear cut short leaves no file that looks whole);
    the folder itself stays, so a writer's lock on it (``_writelock.py``) keeps holding."""
    documents = (V3_DOCUMENT, *V2_DOCUMENTS, ".zmetadata")
    for name in sorted(entries, key=lambda name: name not in documents):
        entry = os.path.join(path, name)
        if os.path.isdir(entry) and not os.path.islink(entry):
            shutil.rmtree(entry)
        else:
            os.remove(entry)


def _clear_local(path: str, force_overwrite: bool) -> None:
    """Empty ``path`` for mode 'w', refusing to delete anything that is not a Zarr store unless forced."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        entries = os.listdir(path)
        is_zarr = any(name in entries for name in (V3_DOCUMENT, *V2_DOCUMENTS[:2]))
        if entries and not is_zarr and not force_overwrite:
            raise FileExistsError(
                f"'{path}' is a folder that is not a Zarr store; refusing to delete its contents. "
                "Pass force_overwrite=True to replace it."
            )
        _empty_folder(path, entries)
        return
    if not force_overwrite:
        raise FileExistsError(
            f"'{path}' is an existing file, not a Zarr store. Pass force_overwrite=True to replace it."
        )
    os.remove(path)


def _open_url(url: str, mode: str, storage_options: dict | None) -> Store:
    protocol = url_protocol(url)
    if protocol in READ_ONLY_PROTOCOLS and mode not in READ_MODES:
        raise ValueError(
            f"Cannot open '{url}' in mode '{mode}': {protocol}:// URLs are read-only. "
            "Write to a local path, an object store URL (s3://, gs://) or a zarr Store instead."
        )
    try:
        import fsspec  # noqa: F401
    except ImportError as err:
        raise ImportError(f"Opening the URL '{url}' needs fsspec: pip install 'hdmf-zarr[remote]'") from err
    try:
        options = url_storage_options(url, storage_options)
        store = URLStore.from_url(url, storage_options=options, read_only=mode in READ_MODES)
    except ImportError as err:
        package = _PROTOCOL_PACKAGES.get(protocol) or (_HTTP_PACKAGES if protocol in READ_ONLY_PROTOCOLS else None)
        hint = f"{package}: pip install {package}" if package else "its fsspec implementation"
        if protocol in ("s3", "s3a") or protocol in READ_ONLY_PROTOCOLS:
            hint += " (or pip install 'hdmf-zarr[remote]')"
        raise ImportError(f"Opening {protocol}:// URLs ('{url}') needs {hint}. ({err})") from err
    if type(store.fs).__module__.split(".")[0] == "s3fs":
        store.fs.retries = 1  # botocore retries each request (see url_storage_options); s3fs would multiply them
    return store


def obstore_types() -> tuple[type, ...]:
    """obstore's store classes (accepted as ``path`` and wrapped in a zarr ObjectStore), if it is installed."""
    try:
        from obstore import store as obs
    except ImportError:
        return ()
    names = ("S3Store", "GCSStore", "AzureStore", "HTTPStore", "LocalStore", "MemoryStore")
    return tuple(getattr(obs, name) for name in names if isinstance(getattr(obs, name, None), type))


def as_store(path: Any, mode: str) -> Store | None:
    """``path`` as a zarr Store when it already is one (or an obstore store); None otherwise."""
    if isinstance(path, Store):
        return path
    if type(path).__module__.split(".")[0] == "obstore":
        from zarr.storage import ObjectStore

        return ObjectStore(path, read_only=mode in READ_MODES)
    return None


def open_store(
    path: Any, mode: str, storage_options: dict | None = None, force_overwrite: bool = False, version: Any = None
) -> Store:
    """Open ``path`` (folder, .zip file, URL, Store, obstore store, or an Icechunk repository, session or folder)
    as a zarr Store suitable for ``mode``; ``version`` (an ``_icechunk.Version``) picks a repository's branch,
    tag or snapshot."""
    read_only = mode in READ_MODES
    if is_icechunk_object(path) or is_local_repository(path):
        from ._icechunk import Version
        from ._icechunk import open_store as open_repository

        return open_repository(path, mode, version or Version(), storage_options)
    store = as_store(path, mode)
    if store is not None:
        if not read_only and store.read_only:
            raise ValueError(f"Cannot open the read-only store {store} in mode '{mode}'.")
        return store
    if is_reference_path(path):
        return _open_references(path, mode, storage_options)
    if is_url(path) or storage_options is not None:
        return _open_url(str(path), mode, storage_options)
    if path.endswith(".zip"):
        return _open_zip(path, mode, force_overwrite)
    exists = os.path.exists(path)
    if mode in ("r", "r-", "r+") and not exists:
        raise not_found(path, mode)
    if mode in ("w-", "x") and exists:
        raise FileExistsError(f"Unable to create '{path}' in mode '{mode}': it already exists.")
    if exists and not os.path.isdir(path) and mode != "w":
        raise ValueError(f"'{path}' is a file, not a Zarr store folder.")
    if mode == "w":
        _clear_local(path, force_overwrite)
    return FolderStore(path, read_only=read_only)


def _open_references(path: str, mode: str, storage_options: dict | None) -> Store:
    """A JSON reference file (a virtual file, see ``hdmf_zarr.virtual``), read-only."""
    from ._virtual.jsonrefs import open_reference_store

    if mode not in READ_MODES:
        raise ValueError(
            f"Cannot open '{path}' in mode '{mode}': a JSON reference file is read-only. Make it again with "
            "hdmf-zarr convert --virtual, or convert it to a Zarr file to change it."
        )
    if not is_url(path) and not os.path.isfile(path):
        raise not_found(path, mode, "no such file")
    return open_reference_store(path, storage_options)


def _open_zip(path: str, mode: str, force_overwrite: bool) -> Store:
    exists = os.path.exists(path)
    if mode in ("r", "r-", "r+") and not exists:
        raise not_found(path, mode, "no such file")
    if mode in ("w-", "x") and exists:
        raise FileExistsError(f"Unable to create '{path}' in mode '{mode}': it already exists.")
    if mode == "w" and exists:
        os.remove(path)
    zip_mode = {"r": "r", "r-": "r", "r+": "a", "a": "a"}.get(mode, "w")
    return ZipStore(path, mode=zip_mode, read_only=mode in READ_MODES)


def clear_store(store: Store) -> None:
    """Delete every key of ``store`` (object stores: in bulk requests rather than one per key)."""
    if isinstance(store, FsspecStore) and not store.read_only:
        sync(_clear_fsspec(store))
        return
    sync(store.clear())


async def _clear_fsspec(store: FsspecStore) -> None:
    try:
        paths = await store.fs._find(store.path)
    except FileNotFoundError:
        return
    root = f"{store.path.rstrip('/')}/{V3_DOCUMENT}"
    roots = [p for p in paths if p.rstrip("/") == root]
    if roots:  # the root document first: a clear cut short leaves no file that looks whole
        await store.fs._rm(roots)
    rest = [p for p in paths if p not in roots]
    if rest:
        await store.fs._rm(rest)


def remote_options(path: Any, storage_options: dict | None, driver: str | None, aws_region: str | None) -> dict | None:
    """Fold NWBHDF5IO-style ``driver``/``aws_region`` arguments into fsspec storage options."""
    if driver not in (None, "ros3"):
        raise ValueError(f"driver={driver!r} is an HDF5 option; Zarr stores take storage_options instead.")
    if aws_region is not None and isinstance(path, str) and path.startswith("s3://"):
        options = dict(storage_options or {})
        options.setdefault("client_kwargs", {}).setdefault("region_name", aws_region)
        return options
    return storage_options
