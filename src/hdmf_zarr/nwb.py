"""NWBZarrIO: ZarrIO with PyNWB's type map and the namespaces cached in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdmf.build import BuildManager
from hdmf.utils import docval, get_docval, popargs
from pynwb import NWBFile, get_manager, get_type_map

from ._stores import remote_options
from .backend import ZarrIO

__all__ = ["NWBZarrIO"]


class NWBZarrIO(ZarrIO):
    """Read and write NWB files stored as Zarr (a drop-in for ``pynwb.NWBHDF5IO``)."""

    @docval(
        *get_docval(ZarrIO.__init__),
        {
            "name": "load_namespaces",
            "type": bool,
            "doc": "load the namespaces cached in the file (read and append modes)",
            "default": True,
        },
        {"name": "driver", "type": str, "doc": "accepted for NWBHDF5IO compatibility; must be None", "default": None},
        {"name": "aws_region", "type": str, "doc": "S3 region for s3:// paths", "default": None},
    )
    def __init__(self, **kwargs):
        load_namespaces, driver, aws_region = popargs("load_namespaces", "driver", "aws_region", kwargs)
        kwargs["storage_options"] = remote_options(kwargs["path"], kwargs.get("storage_options"), driver, aws_region)
        manager = kwargs.get("manager")
        creating = kwargs["mode"] in ("w", "w-", "x")
        type_map = None
        if manager is None:
            if load_namespaces and not creating:
                type_map = get_type_map()
                kwargs["manager"] = BuildManager(type_map)
            else:
                kwargs["manager"] = get_manager()
        super().__init__(**kwargs)
        if type_map is not None and (kwargs["mode"] != "a" or self._has_cached_specs()):
            self.load_namespaces_io(type_map)

    @docval(
        {"name": "src_io", "type": "hdmf.backends.io.HDMFIO", "doc": "the IO to export from"},
        {"name": "nwbfile", "type": NWBFile, "doc": "the NWBFile to export", "default": None},
        *(arg for arg in get_docval(ZarrIO.export) if arg["name"] not in ("src_io", "container")),
    )
    def export(self, **kwargs):
        """Export an NWB file from another IO (NWBHDF5IO or NWBZarrIO) into this store."""
        nwbfile = popargs("nwbfile", kwargs)
        kwargs["container"] = nwbfile
        super().export(**kwargs)

    @staticmethod
    def read_nwb(path: str | Path | Any, allow_pickle: bool = False) -> NWBFile:
        """Open ``path`` read-only and return its NWBFile; the IO stays open as ``nwbfile.read_io``.

        ``allow_pickle`` matters for legacy Zarr v2 files only (see ``ZarrIO``).
        """
        storage_options: dict[str, Any] | None = None
        if isinstance(path, str) and path.startswith("s3://"):
            storage_options = {"anon": True}
        io = NWBZarrIO(
            path=path, mode="r", load_namespaces=True, storage_options=storage_options, allow_pickle=allow_pickle
        )
        return io.read()
