"""Whole-file conversions between HDF5 and Zarr NWB files (what ``hdmf-zarr convert`` runs).

The direction comes from the source's content (HDF5 file, Zarr v3 store, Zarr v2 store) and the
destination's name (``.nwb``/``.h5``/``.hdf5`` for HDF5, ``.zarr`` or ``.zarr.zip`` for Zarr), or
``icechunk=True``: an Icechunk repository (a local folder or an ``s3://`` prefix), written as one commit. Each
conversion is an ordinary export, run with ``WriteOptions`` made from the arguments.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from .._write.options import WriteOptions
from ..errors import ConversionError  # noqa: F401  (raised here; importable from here as before)

HDF5_SUFFIXES = (".nwb", ".h5", ".hdf5", ".hdf")
ZARR_SUFFIXES = (".zarr", ".zarr.zip", ".zip")
FORMAT_NAMES = {"hdf5": "HDF5", "zarr": "Zarr v3", "zarr-v2": "Zarr v2", "icechunk": "Icechunk"}


def source_format(path: str) -> str:
    """``"hdf5"``, ``"zarr"`` (v3) or ``"zarr-v2"`` for the file or store at ``path``."""
    import h5py

    from .._stores import is_url, normalize_path, open_store, store_format

    if not is_url(path) and not os.path.exists(path):
        raise ConversionError(f"'{path}' does not exist.")
    if is_url(path) and path.lower().endswith(HDF5_SUFFIXES):
        return "hdf5"  # read with h5py through fsspec
    if os.path.isfile(path) and h5py.is_hdf5(path):
        return "hdf5"
    try:
        store = open_store(normalize_path(path), "r")
    except (OSError, ValueError) as err:
        raise ConversionError(f"'{path}' is neither an HDF5 file nor a Zarr store ({err}).") from None
    found = store_format(store)
    if found is not None:
        return "zarr" if found == 3 else "zarr-v2"
    raise ConversionError(f"'{path}' is neither an HDF5 file nor a Zarr store.")


def destination_format(path: str) -> str:
    """``"hdf5"`` or ``"zarr"``, from the destination's name."""
    name = path.rstrip("/\\").lower()
    if name.endswith(ZARR_SUFFIXES):
        return "zarr"
    if name.endswith(HDF5_SUFFIXES):
        return "hdf5"
    raise ConversionError(
        f"Cannot tell the format of '{path}' from its name: end it with .zarr for Zarr, or .nwb, .h5 or .hdf5 for HDF5."
    )


def parse_compressor(text: str) -> list[Any]:
    """Zarr v3 compressors for ``NAME[:LEVEL]``: zstd, blosc (zstd inside, byte shuffle), gzip, lz4, none."""
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    name, _, level_text = text.strip().lower().partition(":")
    try:
        level = int(level_text) if level_text else None
    except ValueError:
        raise ConversionError(f"Bad compressor '{text}': the level must be an integer, e.g. zstd:5.") from None
    makers: dict[str, Callable[[int | None], list[Any]]] = {
        "zstd": lambda n: [ZstdCodec(level=3 if n is None else n)],
        "blosc": lambda n: [BloscCodec(cname="zstd", clevel=5 if n is None else n, shuffle="shuffle")],
        "lz4": lambda n: [BloscCodec(cname="lz4", clevel=5 if n is None else n, shuffle="shuffle")],
        "gzip": lambda n: [GzipCodec(level=5 if n is None else n)],
        "none": lambda n: [],
    }
    if name not in makers:
        raise ConversionError(f"Unknown compressor '{name}'; use one of {', '.join(makers)} (optionally NAME:LEVEL).")
    if name == "none" and level is not None:
        raise ConversionError("The compressor 'none' takes no level.")
    try:
        return makers[name](level)
    except (TypeError, ValueError) as err:
        raise ConversionError(f"Bad compressor '{text}': {err}") from None


def logical_bytes(path: str, kind: str) -> int:
    """Uncompressed bytes of the fixed-size datasets of the source (for a progress bar)."""
    if kind == "hdf5" and "://" in path:
        return 0  # a remote file: no total rather than a walk of its metadata first
    if kind == "hdf5":
        import h5py

        total = 0

        def visit(_: str, obj: Any) -> None:
            nonlocal total
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
                total += obj.size * obj.dtype.itemsize

        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
        return total
    import zarr

    try:
        group = zarr.open_group(path, mode="r")
        arrays = [a for _, a in group.members(max_depth=None) if isinstance(a, zarr.Array)]
    except Exception:  # noqa: BLE001 - a progress total is optional
        return 0
    return sum(a.nbytes for a in arrays if np_kind(a) in "biufc")


def np_kind(array: Any) -> str:
    try:
        return array.dtype.kind
    except (AttributeError, TypeError):
        return "O"


def _check_paths(src: str, dst: str, overwrite: bool) -> None:
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ConversionError("The source and the destination are the same path.")
    if os.path.lexists(dst):
        if not overwrite:
            raise ConversionError(f"'{dst}' already exists; pass --overwrite to replace it.")
        _remove(dst)


def convert(
    src: str,
    dst: str,
    *,
    jobs: int = 1,
    chunk_copy: bool = True,
    compressors: list[Any] | None = None,
    copy_links: bool = False,
    overwrite: bool = False,
    allow_pickle: bool = False,
    progress: Callable[[int], None] | None = None,
    icechunk: bool = False,
    storage_options: dict | None = None,
) -> tuple[str, str]:
    """Convert ``src`` into ``dst``; returns ``(source format, destination format)``.

    ``compressors`` replaces the codecs of every dataset (Zarr destinations only); ``chunk_copy=False``
    decodes and re-encodes every chunk; ``copy_links`` copies objects linked from other HDF5 files into
    the new file instead of converting those files next to it.

    ``icechunk=True`` writes ``dst`` (a local folder or an ``s3://`` prefix, with ``storage_options``) as an
    Icechunk repository: one commit on its branch ``main`` named after the conversion, linked HDF5 objects
    copied in. An existing repository is refused unless ``overwrite``, which commits the conversion on top of
    its history, replacing the content; a conversion that fails commits nothing.
    """
    kind = source_format(src)
    target = "icechunk" if icechunk else destination_format(dst)
    if target == "hdf5" and kind == "hdf5":
        raise ConversionError("Both files are HDF5: there is nothing to convert.")
    if target == "hdf5" and compressors is not None:
        raise ConversionError("--compressor applies to Zarr destinations only.")
    from .._stores import is_url

    options = WriteOptions(jobs=max(1, jobs), chunk_copy=chunk_copy, compressors=compressors, on_copied=progress)
    source_options = storage_options if is_url(src) else None
    if icechunk:
        _into_repository(src, dst, kind, storage_options, overwrite, allow_pickle, options, source_options)
        return kind, target
    _check_paths(src, dst, overwrite)
    try:
        writer = {"storage_options": storage_options} if storage_options is not None and is_url(dst) else {}
        _run(src, dst, kind, target, copy_links, allow_pickle, options, source_options, **writer)
    except BaseException:
        _remove(dst)  # never leave a half-written file behind
        raise
    return kind, target


def _run(
    src: str,
    dst: Any,
    kind: str,
    target: str,
    copy_links: bool,
    allow_pickle: bool,
    options: WriteOptions,
    source_options: dict | None = None,
    **writer: Any,
) -> None:
    """The conversion itself; ``writer`` holds more arguments of the Zarr writer (storage options for a URL, the
    commit message for a repository)."""
    if target == "hdf5":
        _zarr_to_hdf5(src, dst, kind, allow_pickle)
    elif kind == "hdf5":
        _hdf5_to_zarr(src, dst, copy_links, options, source_options, **writer)
    elif kind == "zarr-v2":
        _v2_to_v3(src, dst, allow_pickle, options, **writer)
    else:
        _zarr_to_zarr(src, dst, options, **writer)


def _into_repository(
    src: str,
    dst: str,
    kind: str,
    storage_options: dict | None,
    overwrite: bool,
    allow_pickle: bool,
    options: Any,
    source_options: dict | None = None,
) -> None:
    """Convert into the Icechunk repository at ``dst``, created unless it exists (and ``overwrite`` is given)."""
    from .. import _icechunk
    from .._stores import is_url

    local = not is_url(dst)
    if local and os.path.abspath(src) == os.path.abspath(dst):
        raise ConversionError("The source and the destination are the same path.")
    exists = _icechunk.is_local_repository(dst) if local else _icechunk.is_remote_repository(dst, storage_options)
    if exists and not overwrite:
        raise ConversionError(
            f"'{dst}' already holds an Icechunk repository; pass --overwrite to commit the conversion to its branch "
            "main, replacing the content (its history is kept)."
        )
    if not exists and local and os.path.lexists(dst):
        if not overwrite:
            raise ConversionError(f"'{dst}' already exists; pass --overwrite to replace it.")
        _remove(dst)
    if exists:
        repository = _icechunk.open_repository(dst, storage_options)
    else:
        repository = _icechunk.create_repository(dst, storage_options)
    try:  # objects linked from other HDF5 files are copied in: a repository has no folder to convert them next to
        message = f"hdmf-zarr convert {src}"
        _run(src, repository, kind, "zarr", True, allow_pickle, options, source_options, commit_message=message)
    except BaseException:
        if local and not exists:
            _remove(dst)  # a repository made for this conversion goes; an existing one keeps its last commit
        raise


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _hdf5_to_zarr(
    src: str, dst: Any, copy_links: bool, options: WriteOptions, source_options: dict | None, **writer_args: Any
) -> None:
    from .storage import convert_hdf5

    convert_hdf5(src, dst, options, copy_links, source_options, **writer_args)


def _zarr_to_zarr(src: str, dst: Any, options: WriteOptions, **writer_args: Any) -> None:
    from ..nwb import NWBZarrIO

    with NWBZarrIO(src, mode="r") as reader, NWBZarrIO(dst, mode="w", **writer_args) as writer:
        writer._export(reader, options)


def _v2_to_v3(src: str, dst: Any, allow_pickle: bool, options: WriteOptions, **writer_args: Any) -> None:
    from ..nwb_zarrv2 import NWBZarrV2IO

    if isinstance(dst, str):
        storage_options = writer_args.get("storage_options")
        NWBZarrV2IO.convert_to_v3(src, dst, storage_options=storage_options, allow_pickle=allow_pickle, options=options)
        return
    # into a repository (``dst``): the same export, its writer opened on the repository with ``writer_args``
    from .._legacy.index import is_nwb_file
    from ..backend_zarrv2 import export_v2_to_v3
    from ..nwb import NWBZarrIO

    if not is_nwb_file(src):
        raise ConversionError(
            f"'{src}' is a Zarr v2 HDMF file that is not NWB: convert it to Zarr v3 first (hdmf-zarr convert "
            "SRC new.zarr), then that file into the repository."
        )

    def writer(path: str, mode: str, storage_options: dict | None) -> NWBZarrIO:
        return NWBZarrIO(dst, mode, **writer_args)

    with NWBZarrV2IO(src, mode="r", load_namespaces=True, allow_pickle=allow_pickle) as reader:
        # its path argument only says what to remove when the export fails: the source, which exists, is kept
        export_v2_to_v3(reader, writer, src, None, None, None, options)


def _zarr_to_hdf5(src: str, dst: str, kind: str, allow_pickle: bool) -> None:
    from pynwb import NWBHDF5IO

    from ..nwb import NWBZarrIO

    if kind == "zarr-v2":
        from ..nwb_zarrv2 import NWBZarrV2IO

        reader = NWBZarrV2IO(src, mode="r", allow_pickle=allow_pickle)
    else:
        reader = NWBZarrIO(src, mode="r")
    with reader, NWBHDF5IO(dst, mode="w") as writer:
        writer.export(src_io=reader, write_args={"link_data": False})
