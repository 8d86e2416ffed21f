"""ZarrV2IO: the read-only reader of Zarr v2 files written by hdmf-zarr <= 0.13.

``ZarrIO`` itself reads v2 files (through the v2 node index of ``_legacy.index``); this class is the
explicit, read-only entry point the reference implementation names, with the ``allow_pickle`` switch
and the list of entries that could not be read.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hdmf.build import BuildManager
from hdmf.container import Container
from hdmf.utils import docval, get_docval
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from ._convention import V2_DOCUMENTS, detect_format
from ._legacy.decode import codec_ids, decode_array
from ._legacy.index import V2StoreIndex
from ._legacy.safe_pickle import UnsafePickleCodecError
from ._specs import ZarrSpecReader
from ._stores import READ_MODES, is_url, open_store
from .backend import ZarrIO
from .errors import IncompleteConversionError  # noqa: F401  (raised here; importable from here as before)

__all__ = ["ZarrV2IO", "ZarrV2SpecReader", "is_zarr_v2_file", "UnsafePickleCodecError", "IncompleteConversionError"]


class ZarrV2SpecReader(ZarrSpecReader):
    """Read the spec documents cached in a Zarr v2 group (one-element JSON-coded arrays).

    Documents are decoded by hand (zarr-python 3 cannot open JSON-coded arrays); a pickled document is
    refused with UnsafePickleCodecError whatever the pickle setting.
    """

    def _read_spec_string(self, path: str) -> str:
        key = f"{self._group.path}/{path}".strip("/")
        buffer = sync(self._group.store.get(f"{key}/.zarray", prototype=default_buffer_prototype()))
        if buffer is None:
            raise KeyError(f"no cached spec document '{path}' in {self.source}")
        zarray = json.loads(buffer.to_bytes())
        if "pickle" in codec_ids(zarray):
            raise UnsafePickleCodecError(f"The cached spec '/{key}' is pickled; cached specs are never unpickled.")
        values = decode_array(self._group.store, key, zarray, allow_pickle=False)
        item = values.reshape(-1)[0] if values.size else ""
        return item.decode("utf-8") if isinstance(item, bytes) else str(item)


def check_read_only(mode: str, cls_name: str) -> None:
    if mode not in READ_MODES:
        raise ValueError(
            f"{cls_name} is read-only: use mode 'r' or 'r-', not '{mode}'. Zarr v3 files are written with "
            "ZarrIO / NWBZarrIO; convert a v2 file with NWBZarrV2IO.convert_to_v3 or `hdmf-zarr convert`."
        )


class ZarrV2IO(ZarrIO):
    """Read a Zarr v2 file written by hdmf-zarr <= 0.13 (read-only).

    Pickled values are decoded by a safe unpickler that builds plain data only; ``allow_pickle=True``
    unpickles anything (which runs the code a file names: only for files you trust).
    """

    @docval(*get_docval(ZarrIO.__init__))
    def __init__(self, **kwargs):
        check_read_only(kwargs["mode"], type(self).__name__)
        super().__init__(**kwargs)

    @property
    def allow_pickle(self) -> bool:
        return self._allow_pickle

    @property
    def skipped_entries(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every entry that could not be read (it was left out of the builders)."""
        if not self.is_open():
            return []
        index = self._reader().index
        return list(index.skipped) if isinstance(index, V2StoreIndex) else []

    def write(self, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is read-only; write Zarr v3 files with ZarrIO / NWBZarrIO.")

    def export(self, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} is read-only; export with ZarrIO / NWBZarrIO (src_io may be this reader)."
        )

    def export_to_v3(
        self,
        path: str | Path,
        container: Container | None = None,
        write_args: dict | None = None,
        storage_options: dict | None = None,
        options: Any = None,
    ) -> None:
        """Write this file (or ``container``, read from it) as Zarr v3 at ``path``.

        Nothing is written when an entry of this file could not be read (IncompleteConversionError).
        ``options`` are the write's ``WriteOptions`` (defaults when None).
        """
        manager = BuildManager(self.manager.type_map)
        export_v2_to_v3(self, ZarrIO, path, container, write_args, storage_options, options, manager=manager)

    def _require_complete(self) -> None:
        """Decode every legacy array now; IncompleteConversionError when any entry is unreadable."""
        reader = self._reader()
        reader.read_root()
        skipped = self.skipped_entries
        if skipped:
            lines = "\n".join(f"  {path}: {reason}" for path, reason in skipped)
            raise IncompleteConversionError(
                f"{len(skipped)} entries of {self.source} could not be read, so nothing was converted:\n{lines}"
            )

    @staticmethod
    def _decode_v2_dataset(
        store: Store, dataset_key: str, zarray_meta: Mapping[str, Any], allow_pickle: bool = False
    ) -> np.ndarray:
        """The whole v2 array at ``dataset_key`` decoded by hand from its ``.zarray`` document."""
        return decode_array(store, dataset_key.strip("/"), zarray_meta, allow_pickle)

    @staticmethod
    def can_read(path: Any) -> bool:
        return is_zarr_v2_file(path) or ZarrIO.can_read(path)


@contextmanager
def removed_on_failure(path: str | Path, storage_options: dict | None = None) -> Iterator[None]:
    """Remove a local destination that did not exist before when writing it fails (no half-written files)."""
    local = storage_options is None and not is_url(str(path))
    fresh = local and not os.path.lexists(path)
    try:
        yield
    except BaseException:
        if fresh and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        raise


def export_v2_to_v3(
    reader: ZarrIO,
    writer_class: type,
    path: str | Path,
    container: Container | None,
    write_args: dict | None,
    storage_options: dict | None,
    options: Any = None,
    **writer_kwargs: Any,
) -> None:
    """Export everything ``reader`` (a v2 reader) holds, or ``container`` read from it, into a new v3 file at
    ``path`` written by ``writer_class``; the new file is removed when anything fails."""
    from ._write.options import WriteOptions

    write_args = {**(write_args or {}), "link_data": False}
    reader._require_complete()
    if container is None:
        container = reader.read()
    container.set_modified()
    with removed_on_failure(path, storage_options):
        with writer_class(path=str(path), mode="w", storage_options=storage_options, **writer_kwargs) as io:
            io._export(reader, options or WriteOptions(), container, write_args)


def convert_hdmf_file(
    source: str,
    dest: str | Path,
    write_args: dict | None,
    storage_options: dict | None,
    allow_pickle: bool,
    options: Any = None,
) -> None:
    """Convert a v2 file that is not NWB, with hdmf-common's types and the namespaces cached in it."""
    from hdmf.common import get_type_map

    type_map = get_type_map()
    ZarrV2IO.load_namespaces(type_map, path=source)
    with ZarrV2IO(source, "r", manager=BuildManager(type_map), allow_pickle=allow_pickle) as io:
        io.export_to_v3(dest, write_args=write_args, storage_options=storage_options, options=options)


def is_zarr_v2_file(path: str | Path | Store, storage_options: dict | None = None) -> bool:
    """True when ``path`` (a folder, URL or Store) holds a Zarr v2 hierarchy or array."""
    try:
        if isinstance(path, Store):
            return detect_format(path) == 2
        path = str(path)
        if not is_url(path) and storage_options is None:
            return any(os.path.exists(os.path.join(path, name)) for name in V2_DOCUMENTS[:2])
        return detect_format(open_store(path, "r", storage_options or {})) == 2
    except Exception:
        return False
