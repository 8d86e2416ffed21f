"""Turn what the user passed as ``path`` into an open zarr Store for a given mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from zarr.abc.store import Store
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, ZipStore

READ_MODES = ("r", "r-")
WRITE_MODES = ("w", "w-", "x", "a", "r+")
ALL_MODES = READ_MODES + WRITE_MODES


def is_url(path: Any) -> bool:
    return isinstance(path, str) and "://" in path


def normalize_path(path: Any) -> Any:
    """Absolute local paths (symlinks resolved); URLs and Store objects as given."""
    if isinstance(path, Path):
        path = str(path)
    if isinstance(path, str) and not is_url(path):
        return str(Path(path).expanduser().resolve())
    return path


def get_store_path(store: Any) -> str:
    """A printable location for a store: an absolute folder for local stores."""
    if isinstance(store, LocalStore):
        return str(Path(store.root).resolve())
    if isinstance(store, ZipStore):
        return str(Path(store.path).resolve())
    if isinstance(store, FsspecStore):
        protocol = store.fs.protocol
        protocol = protocol[0] if isinstance(protocol, (list, tuple)) else protocol
        return f"{protocol}://{store.path}"
    return str(store)


def store_folder(store: Any) -> str | None:
    """The local folder a store lives in, or None for stores that are not local folders."""
    if isinstance(store, LocalStore):
        return str(Path(store.root).resolve())
    return None


def has_key(store: Store, key: str) -> bool:
    return bool(sync(store.exists(key)))


def is_v2_store(store: Store) -> bool:
    try:
        return has_key(store, ".zgroup") or has_key(store, ".zarray")
    except Exception:
        return False


def is_v3_store(store: Store) -> bool:
    return has_key(store, "zarr.json")


def _require_fsspec() -> None:
    try:
        import fsspec  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "Reading or writing a remote URL needs fsspec (and s3fs for s3://): pip install 'hdmf-zarr[remote]'"
        ) from err


def _clear_local(path: str, force_overwrite: bool) -> None:
    """Empty ``path`` for mode 'w', refusing to delete anything that is not a Zarr store unless forced."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        entries = os.listdir(path)
        is_zarr = any(name in entries for name in ("zarr.json", ".zgroup", ".zarray"))
        if entries and not is_zarr and not force_overwrite:
            raise FileExistsError(
                f"'{path}' is a folder that is not a Zarr store; refusing to delete its contents. "
                "Pass force_overwrite=True to replace it."
            )
        shutil.rmtree(path)
        return
    if not force_overwrite:
        raise FileExistsError(
            f"'{path}' is an existing file, not a Zarr store. Pass force_overwrite=True to replace it."
        )
    os.remove(path)


def open_store(path: Any, mode: str, storage_options: dict | None = None, force_overwrite: bool = False) -> Store:
    """Open ``path`` (folder, .zip file, URL or Store) as a zarr Store suitable for ``mode``."""
    read_only = mode in READ_MODES
    if isinstance(path, Store):
        if not read_only and path.read_only:
            raise ValueError(f"Cannot open the read-only store {path} in mode '{mode}'.")
        return path
    if is_url(path) or storage_options is not None:
        _require_fsspec()
        return FsspecStore.from_url(str(path), storage_options=storage_options or {}, read_only=read_only)
    if path.endswith(".zip"):
        return _open_zip(path, mode, force_overwrite)
    exists = os.path.exists(path)
    if mode in ("r", "r-", "r+") and not exists:
        raise FileNotFoundError(f"Unable to open '{path}' in mode '{mode}': no such file or folder.")
    if mode in ("w-", "x") and exists:
        raise FileExistsError(f"Unable to create '{path}' in mode '{mode}': it already exists.")
    if exists and not os.path.isdir(path) and mode != "w":
        raise ValueError(f"'{path}' is a file, not a Zarr store folder.")
    if mode == "w":
        _clear_local(path, force_overwrite)
    return LocalStore(path, read_only=read_only)


def _open_zip(path: str, mode: str, force_overwrite: bool) -> Store:
    exists = os.path.exists(path)
    if mode in ("r", "r-", "r+") and not exists:
        raise FileNotFoundError(f"Unable to open '{path}' in mode '{mode}': no such file.")
    if mode in ("w-", "x") and exists:
        raise FileExistsError(f"Unable to create '{path}' in mode '{mode}': it already exists.")
    if mode == "w" and exists:
        os.remove(path)
    zip_mode = {"r": "r", "r-": "r", "r+": "a", "a": "a"}.get(mode, "w")
    return ZipStore(path, mode=zip_mode, read_only=mode in READ_MODES)


def clear_store(store: Store) -> None:
    sync(store.clear())


def remote_options(path: Any, storage_options: dict | None, driver: str | None, aws_region: str | None) -> dict | None:
    """Fold NWBHDF5IO-style ``driver``/``aws_region`` arguments into fsspec storage options."""
    if driver not in (None, "ros3"):
        raise ValueError(f"driver={driver!r} is an HDF5 option; Zarr stores take storage_options instead.")
    if aws_region is not None and isinstance(path, str) and path.startswith("s3://"):
        options = dict(storage_options or {})
        options.setdefault("client_kwargs", {}).setdefault("region_name", aws_region)
        return options
    return storage_options
