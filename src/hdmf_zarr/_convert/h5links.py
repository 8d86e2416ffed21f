"""External links of an HDF5 source, kept as links when it is exported to Zarr.

An HDF5 file can hold links to groups or datasets in other HDF5 files. A Zarr store cannot link into
an HDF5 file, so on export each linked file is converted too, into a sibling store next to the new one
(``other.nwb`` -> ``<destination folder>/other.nwb.zarr``), and the new file links there with a
relative ``_LINKS`` source. Each linked file is converted once per export, linked files that link on
are converted in turn, and a file linking back to one already being converted gets a link to it.

When that cannot be done (the destination is not a local folder, or the linked file cannot be read as
an HDMF file), the linked objects are copied into the new file instead, with a warning: a link never
points at something that does not exist.

The files converted during one export (HDF5 file -> Zarr store) are recorded in that export's
``WriteOptions.conversions``, which its nested exports share.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def sibling_store(h5_path: str, destination: str) -> str:
    """Where the HDF5 file ``h5_path`` is converted: next to ``destination``, named ``<file name>.zarr``."""
    return os.path.join(os.path.dirname(os.path.abspath(destination)), os.path.basename(h5_path) + ".zarr")


def external_links(h5_path: str) -> dict[str, tuple[str, str]]:
    """``{key: (target file, target path)}`` for every external link in the HDF5 file whose target exists.

    ``key`` is the link's path in the file without the leading "/". Links inside linked objects are
    not listed (they belong to the linked file). The target file is the one HDF5 actually opened.
    """
    import h5py

    found: dict[str, tuple[str, str]] = {}
    with h5py.File(h5_path, "r") as handle:

        def visit(name: str, link: Any) -> None:
            if not isinstance(link, h5py.ExternalLink) or any(name.startswith(k + "/") for k in found):
                return
            try:
                target = handle.get(name)
            except (KeyError, OSError):
                target = None
            if target is not None:
                found[name] = (os.path.abspath(target.file.filename), link.path)

        handle.visititems_links(visit)
    return found


@contextmanager
def kept_links(src_io: Any, dst_io: Any, options: Any, enabled: bool = True) -> Iterator[dict[str, tuple[str, str]]]:
    """For the export of ``src_io`` into ``dst_io``: ``{key: (zarr store, path)}`` to link instead of copying.

    The keys are the external links of ``src_io``'s HDF5 file; each linked file is converted first (see
    the module docstring), with ``options`` (the export's ``WriteOptions``). Links whose file cannot be
    converted are left out, so their objects are copied in. Empty when ``enabled`` is False or the source
    is not an HDF5 file.
    """
    from .._stores import store_folder

    source = getattr(src_io, "source", None)
    if not enabled or not isinstance(source, str) or not os.path.isfile(source):
        yield {}
        return
    converted = options.conversions
    converted.setdefault(os.path.abspath(source), os.path.abspath(dst_io.source))
    links = external_links(source)
    here = store_folder(dst_io.store) if links else None
    if links and here is None:
        warnings.warn(
            f"{source} links to other HDF5 files and the destination is not a local folder: the linked "
            "objects are copied into it",
            stacklevel=3,
        )
        links = {}
    targets = {}
    for key, (h5_file, path) in links.items():
        store = converted.get(h5_file) or _convert(h5_file, src_io, dst_io, here, options)
        if store is not None:
            targets[key] = (store, path)
    yield targets


def _convert(h5_file: str, src_io: Any, dst_io: Any, here: str, options: Any) -> str | None:
    """Export ``h5_file`` to its sibling store; the store, or None (with a warning) when it cannot be."""
    converted = options.conversions
    target = sibling_store(h5_file, here)
    if os.path.exists(target):
        if _same_file(h5_file, target):
            converted[h5_file] = target
            return target
        raise FileExistsError(
            f"Cannot convert '{h5_file}', which the source links to, into '{target}': something else is "
            "already there. Move it away, or export with write_args={'link_data': False} to copy the "
            "linked objects into the new file."
        )
    converted[h5_file] = target
    try:
        with _open_like(src_io, h5_file) as reader, _create_like(dst_io, target) as writer:
            writer._export(reader, options.replace(redirects={}, spec_catalog=None))
    except Exception as err:  # noqa: BLE001 - any failure means: copy the objects in instead
        converted.pop(h5_file, None)
        shutil.rmtree(target, ignore_errors=True)
        reason = str(err) if len(str(err)) <= 300 else str(err)[:300] + "..."
        warnings.warn(
            f"Cannot convert '{h5_file}', which the source links to ({type(err).__name__}: {reason}); "
            "the linked objects are copied into the new file instead",
            stacklevel=5,
        )
        return None
    return target


def _same_file(h5_file: str, store_path: str) -> bool:
    """True when the Zarr store is an earlier conversion of ``h5_file`` (same root object_id)."""
    import json

    import h5py

    try:
        with open(os.path.join(store_path, "zarr.json")) as handle:
            zarr_id = json.load(handle).get("attributes", {}).get("object_id")
        with h5py.File(h5_file, "r") as handle:
            h5_id = handle.attrs.get("object_id")
    except (OSError, ValueError):
        return False
    h5_id = h5_id.decode() if isinstance(h5_id, bytes) else h5_id
    return zarr_id is not None and zarr_id == h5_id


def _open_like(src_io: Any, path: str) -> Any:
    from hdmf.build import BuildManager

    cls = type(src_io)
    try:
        from pynwb import NWBHDF5IO
    except ImportError:  # pragma: no cover
        NWBHDF5IO = None  # noqa: N806
    if NWBHDF5IO is not None and issubclass(cls, NWBHDF5IO):
        return cls(path, mode="r")
    return cls(path, mode="r", manager=BuildManager(src_io.manager.type_map))


def _create_like(dst_io: Any, path: str) -> Any:
    from hdmf.build import BuildManager

    return type(dst_io)(path, mode="w", manager=BuildManager(dst_io.manager.type_map))
