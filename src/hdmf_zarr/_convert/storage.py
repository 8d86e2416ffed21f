"""HDF5 -> Zarr conversion at storage level: what ``hdmf-zarr convert`` runs for HDF5 sources.

The HDF5 file is walked with h5py (``h5walk.py``), not rebuilt through pynwb, so any file h5py opens converts,
including files whose NWB content pynwb cannot construct. Stored chunks are copied as they are where the codecs
match. The plan is written by a ``ZarrIO`` in mode ``w``, which marks the file as being written until the last
step, locks it, and commits it on Icechunk.

External links: with a local destination, each linked HDF5 file is converted too, next to the destination
(``other.nwb`` -> ``other.nwb.zarr``, once per conversion), and the new file links there; with ``copy_links``,
a remote destination, or a linked file that fails to convert (a warning says so), the linked objects are copied in.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .._write.options import WriteOptions
from .h5links import sibling_store
from .h5walk import plan_from_hdf5


def convert_hdf5(
    source: str,
    destination: Any,
    options: WriteOptions | None = None,
    copy_links: bool = False,
    source_options: dict | None = None,
    **writer_args: Any,
) -> None:
    """Convert the HDF5 file ``source`` (a path, or a URL read through fsspec with ``source_options``) into a new
    Zarr v3 file at ``destination`` (a path, URL or repository); ``writer_args`` go to the ``NWBZarrIO`` that
    writes it (storage options, commit message)."""
    from .. import _names
    from .._stores import is_url, store_location
    from .._virtual.sources import open_hdf5
    from .._write.sharding import apply_sharding
    from ..nwb import NWBZarrIO

    options = options or WriteOptions()
    local = isinstance(destination, str) and not is_url(destination)
    if not is_url(source):
        options.conversions.setdefault(os.path.abspath(source), os.path.abspath(destination) if local else "")
    link_source = None if copy_links or not local else _LinkedFiles(destination, options)
    with open_hdf5(source, source_options) as handle, NWBZarrIO(destination, mode="w", **writer_args) as writer:
        limit = _names.max_name_bytes(store_location(writer.store))
        plan = plan_from_hdf5(handle, options, limit, link_source=link_source)
        apply_sharding(plan.arrays.values(), options.sharding)
        writer._write_plan(plan, options)


class _LinkedFiles:
    """``link_source`` of a conversion into the local store ``destination``: converts each linked file next to
    it (once, recorded in ``options.conversions``) and names it relative to ``destination``."""

    def __init__(self, destination: str, options: WriteOptions) -> None:
        self.destination = os.path.abspath(destination)
        self.options = options

    def __call__(self, h5_file: str) -> str | None:
        from .._stores import relative_source

        converted = self.options.conversions
        target = converted.get(h5_file) or self._convert(h5_file)
        return None if target is None else relative_source(self.destination, target)

    def _convert(self, h5_file: str) -> str | None:
        from .h5links import _same_file

        target = sibling_store(h5_file, self.destination)
        if os.path.exists(target) and _same_file(h5_file, target):
            self.options.conversions[h5_file] = target
            return target
        if os.path.exists(target):
            warnings.warn(
                f"Cannot convert '{h5_file}', which the source links to, into '{target}': something else is there. "
                "The linked objects are copied into the new file instead.",
                stacklevel=6,
            )
            return None
        self.options.conversions[h5_file] = target
        try:
            convert_hdf5(h5_file, target, self.options)
        except Exception as err:  # noqa: BLE001 - any failure means: copy the linked objects in instead
            self.options.conversions.pop(h5_file, None)
            import shutil

            shutil.rmtree(target, ignore_errors=True)
            warnings.warn(
                f"Cannot convert '{h5_file}', which the source links to ({type(err).__name__}: {err}); the linked "
                "objects are copied into the new file instead",
                stacklevel=6,
            )
            return None
        return target
