"""NWBZarrV2IO: read NWB files stored as Zarr v2 by hdmf-zarr <= 0.13, and convert them to Zarr v3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdmf.utils import docval, get_docval, popargs
from pynwb import NWBFile

from ._legacy.index import is_nwb_file
from .backend_zarrv2 import ZarrV2IO, check_read_only, convert_hdmf_file, export_v2_to_v3
from .nwb import NWBZarrIO

__all__ = ["NWBZarrV2IO"]


def _remote_read_options(path: Any) -> dict | None:
    return {"anon": True} if isinstance(path, str) and path.startswith("s3://") else None


class NWBZarrV2IO(ZarrV2IO, NWBZarrIO):
    """Read a legacy Zarr v2 NWB file (read-only) with the namespaces cached in it.

    ``NWBZarrIO`` reads these files too; this class adds the conversion to Zarr v3.
    """

    @docval(
        *get_docval(ZarrV2IO.__init__),
        {
            "name": "load_namespaces",
            "type": bool,
            "doc": "load the namespaces cached in the file",
            "default": True,
        },
    )
    def __init__(self, **kwargs):
        check_read_only(kwargs["mode"], type(self).__name__)
        NWBZarrIO.__init__(self, **kwargs)

    @docval(
        {"name": "path", "type": (str, Path), "doc": "where to write the Zarr v3 file"},
        {"name": "nwbfile", "type": NWBFile, "doc": "the NWBFile to write (default: this file, read)", "default": None},
        {"name": "write_args", "type": dict, "doc": "arguments for write_builder", "default": None},
        {"name": "storage_options", "type": dict, "doc": "fsspec options for a remote destination", "default": None},
        {"name": "options", "type": None, "doc": "the write's WriteOptions (defaults when None)", "default": None},
    )
    def export_to_v3(self, **kwargs) -> None:
        """Write this file as Zarr v3 at ``path``; nothing is written if any entry could not be read."""
        path, nwbfile, write_args, storage_options, options = popargs(
            "path", "nwbfile", "write_args", "storage_options", "options", kwargs
        )
        export_v2_to_v3(self, NWBZarrIO, path, nwbfile, write_args, storage_options, options)

    @staticmethod
    def convert_to_v3(
        source_path: str | Path,
        dest_path: str | Path,
        write_args: dict | None = None,
        storage_options: dict | None = None,
        allow_pickle: bool = False,
        options: Any = None,
    ) -> None:
        """Convert the Zarr v2 file at ``source_path`` to a Zarr v3 file at ``dest_path``.

        NWB files are read with PyNWB's types; other HDMF files with hdmf-common's. Both use the
        namespaces cached in the file.

        ``storage_options`` apply to the destination; an ``s3://`` source is read anonymously.
        Raises IncompleteConversionError (writing nothing) when an entry of the source cannot be read.
        ``options`` are the conversion's ``WriteOptions`` (defaults when None).
        """
        source = str(source_path)
        if not is_nwb_file(source, _remote_read_options(source)):
            convert_hdmf_file(source, dest_path, write_args, storage_options, allow_pickle, options)
            return
        with NWBZarrV2IO(
            path=source,
            mode="r",
            load_namespaces=True,
            allow_pickle=allow_pickle,
            storage_options=_remote_read_options(source),
        ) as io:
            io.export_to_v3(path=dest_path, write_args=write_args, storage_options=storage_options, options=options)

    @staticmethod
    def read_nwb(path: str | Path | Any, allow_pickle: bool = False) -> NWBFile:
        """Open a v2 NWB file read-only and return its NWBFile; the IO stays open as ``nwbfile.read_io``."""
        io = NWBZarrV2IO(
            path=path,
            mode="r",
            load_namespaces=True,
            allow_pickle=allow_pickle,
            storage_options=_remote_read_options(path),
        )
        return io.read()
