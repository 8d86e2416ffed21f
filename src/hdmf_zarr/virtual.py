"""Virtual NWB files: an HDF5 NWB file as Zarr without copying its data.

``virtualize(source, destination)`` writes a Zarr v3 file in this project's convention whose data chunks are
references to byte ranges of the HDF5 file (local path or ``s3://`` URL) instead of copies. Everything else
(groups, attributes, links, object references, text, scalars, and datasets whose HDF5 storage zarr cannot read
as it is) is stored natively. ``destination`` ending in ``.json`` is one JSON reference file (kerchunk's
version-1 format with Zarr v3 keys); any other is an Icechunk repository (``pip install 'hdmf-zarr[icechunk]'``).
``NWBZarrIO(destination, "r")`` reads either lazily; a source that changed since gives ``SourceChangedError``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from ._convert.h5walk import plan_from_hdf5
from ._stores import is_reference_path, is_url
from ._virtual import jsonrefs
from ._virtual.sources import filesystem, fingerprint, open_hdf5, source_url
from ._write.options import WriteOptions
from ._write.plan import ChunkReferences, WritePlan
from .errors import ConversionError

__all__ = ["VirtualFile", "virtualize"]


@dataclass(frozen=True)
class VirtualFile:
    """What ``virtualize`` wrote: where, as what (``"json"`` or ``"icechunk"``), how many chunks and bytes of the
    sources it references, how many arrays it stored natively, its own size in bytes (JSON) and the time taken."""

    destination: str
    kind: str
    referenced_chunks: int
    referenced_bytes: int
    stored_arrays: int
    size: int | None
    seconds: float


def virtualize(
    source: str,
    destination: Any,
    *,
    storage_options: dict | None = None,
    overwrite: bool = False,
    commit_message: str | None = None,
) -> VirtualFile:
    """Write ``destination``, a virtual Zarr file referencing the chunks of the HDF5 file ``source``.

    ``source``: a local path or an ``s3://`` URL. ``destination``: a path or URL ending in ``.json`` (one JSON
    reference file), else a local folder, an ``s3://`` prefix or an Icechunk ``Repository`` (a repository with
    one commit on ``main``). ``storage_options`` (fsspec/s3fs style) apply to URLs on either side. An existing
    destination is refused unless ``overwrite``.
    """
    started = time.perf_counter()
    source = os.fspath(source)
    as_json = isinstance(destination, (str, os.PathLike)) and is_reference_path(os.fspath(destination))
    if isinstance(destination, os.PathLike):
        destination = os.fspath(destination)
    options = WriteOptions(sharding=None)  # referenced arrays keep the source's chunks, which sharding would change
    main = source_url(source)
    seen = {main: fingerprint(main, storage_options)}  # recorded before reading: a change while we read shows
    with open_hdf5(source, storage_options) as handle:

        def url_of(h5file: Any) -> str:
            url = main if h5file == handle else source_url(h5file.filename)  # a file an external link leads to
            if url not in seen:
                seen[url] = fingerprint(url, storage_options)
            return url

        plan = plan_from_hdf5(handle, options, None, reference_url=url_of)
        records = [seen[url] for url in _source_urls(plan)]
        if as_json:
            size = _write_json(plan, destination, records, storage_options, overwrite, options)
        else:
            message = commit_message or f"hdmf-zarr convert --virtual {source}"
            size = _write_repository(plan, destination, records, storage_options, overwrite, message, options)
    refs = [node.data for node in plan.arrays.values() if isinstance(node.data, ChunkReferences)]
    return VirtualFile(
        destination=str(destination) if isinstance(destination, str) else repr(destination),
        kind="json" if as_json else "icechunk",
        referenced_chunks=sum(len(r.ranges) for r in refs),
        referenced_bytes=sum(length for r in refs for _, length in r.ranges.values()),
        stored_arrays=len(plan.arrays) - len(refs),
        size=size,
        seconds=time.perf_counter() - started,
    )


def _source_urls(plan: WritePlan) -> list[str]:
    found = {node.data.url for node in plan.arrays.values() if isinstance(node.data, ChunkReferences)}
    return sorted(found)


def _commit_natively(plan: WritePlan, store: Any, options: WriteOptions) -> dict[str, Any]:
    """Write everything of ``plan`` but the referenced chunks into ``store``; the metadata of every node."""
    from ._write.commit import Committer, finish_root

    written = Committer(store, options=options).commit(plan)
    finish_root(store, written)
    return written


def _references(plan: WritePlan, written: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(store key, source URL, offset, length) of every referenced chunk."""
    out = []
    for node in plan.arrays.values():
        if isinstance(node.data, ChunkReferences):
            meta = written[node.key]
            for coords, (offset, length) in node.data.ranges.items():
                out.append((f"{node.key}/{meta.encode_chunk_key(coords)}", node.data.url, offset, length))
    return out


def _exists(path: str, storage_options: dict | None) -> bool:
    return filesystem(path, storage_options).exists(path) if is_url(path) else os.path.lexists(path)


def _write_json(
    plan: WritePlan,
    destination: str,
    records: list[dict],
    storage_options: dict | None,
    overwrite: bool,
    options: WriteOptions,
) -> int:
    from zarr.storage import MemoryStore

    if not overwrite and _exists(destination, storage_options):
        raise ConversionError(f"'{destination}' already exists; pass overwrite=True (--overwrite) to replace it.")
    store = MemoryStore()
    written = _commit_natively(plan, store, options)
    documents = {key: value.to_bytes() for key, value in store._store_dict.items()}
    document = jsonrefs.reference_document(documents, _references(plan, written), records)
    return jsonrefs.write_reference_file(document, destination, storage_options)


def _write_repository(
    plan: WritePlan,
    destination: Any,
    records: list[dict],
    storage_options: dict | None,
    overwrite: bool,
    message: str,
    options: WriteOptions,
) -> None:
    from . import _icechunk
    from ._virtual import icechunkrefs

    urls = [r["url"] for r in records]
    config = icechunkrefs.repository_config(urls, storage_options)
    repository = _repository(destination, config, storage_options, overwrite)
    session = repository.writable_session(_icechunk.DEFAULT_BRANCH)
    store = session.store
    if overwrite:
        from ._stores import clear_store

        clear_store(store)  # the previous content goes in the same commit
    _commit_natively(plan, store, options)
    by_url = {r["url"]: r for r in records}
    for node in plan.arrays.values():
        if not isinstance(node.data, ChunkReferences) or not node.data.ranges:
            continue
        specs = icechunkrefs.chunk_specs(node.data.ranges, node.data.url, by_url[node.data.url])
        failed = store.set_virtual_refs(node.key, specs, validate_containers=True)
        if failed:
            raise ConversionError(f"/{node.key}: Icechunk refused the references of {len(failed)} chunks.")
    session.commit(message, metadata={icechunkrefs.METADATA_KEY: records})
    return None


def _repository(destination: Any, config: Any, storage_options: dict | None, overwrite: bool) -> Any:
    """A repository at ``destination`` with ``config`` (its virtual chunk containers); an existing one only with
    ``overwrite``, its containers added."""
    from . import _icechunk
    from ._icechunk import is_icechunk_object

    icechunk = _icechunk._module()
    if is_icechunk_object(destination):
        repository = destination
        exists = True
    else:
        storage = _icechunk.storage_for(str(destination), storage_options)
        exists = icechunk.Repository.exists(storage)
        if not exists and not is_url(destination) and os.path.lexists(destination):
            if not overwrite:
                raise ConversionError(f"'{destination}' exists; pass overwrite=True (--overwrite) to replace it.")
            import shutil

            shutil.rmtree(destination) if os.path.isdir(destination) else os.remove(destination)
        if not exists:
            return icechunk.Repository.create(storage, config)
        repository = icechunk.Repository.open(storage)
    if not overwrite:
        raise ConversionError(
            f"'{destination}' already holds an Icechunk repository; pass overwrite=True (--overwrite) to commit the "
            "virtual file on top of its history, replacing its content."
        )
    merged = repository.config
    for container in (config.virtual_chunk_containers or {}).values():
        merged.set_virtual_chunk_container(container)
    repository = repository.reopen(config=merged)
    repository.save_config()
    return repository
