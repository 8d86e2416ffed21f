"""Virtual files as one JSON reference file (kerchunk's version-1 format, Zarr v3 keys), read through fsspec.

The file maps every store key to its content: metadata documents as JSON objects, small chunks as
``"base64:..."`` text, and referenced chunks as ``["{{s0}}", offset, length]``, a byte range of a source
whose URL is in ``templates``. Our record of the sources (``sources.py``) sits under the top-level key
``hdmf_zarr``, which other readers ignore. fsspec's ``ReferenceFileSystem`` serves it as a read-only store.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from zarr.abc.store import Store

from .._convention import V3_DOCUMENT
from .._stores import is_url
from ..errors import DamagedFileError
from .sources import check_sources, filesystem

FORMAT_KEY = "hdmf_zarr"


def reference_document(
    documents: Mapping[str, bytes], references: Iterable[tuple[str, str, int, int]], sources: list[dict[str, Any]]
) -> dict[str, Any]:
    """The JSON reference document: ``documents`` (store key -> bytes stored natively) and ``references``
    (store key, source URL, offset, length); ``sources`` is the record checked on opening."""
    templates: dict[str, str] = {}
    names: dict[str, str] = {}
    refs: dict[str, Any] = {}
    for key, value in sorted(documents.items()):
        if key.rsplit("/", 1)[-1] == V3_DOCUMENT:
            refs[key] = json.loads(value)
        else:
            refs[key] = "base64:" + base64.b64encode(value).decode("ascii")
    for key, url, offset, length in references:
        name = names.get(url)
        if name is None:
            name = names[url] = f"s{len(names)}"
            templates[name] = url
        refs[key] = ["{{" + name + "}}", offset, length]
    return {"version": 1, "templates": templates, "refs": refs, FORMAT_KEY: {"sources": sources}}


def write_reference_file(document: dict[str, Any], destination: str, storage_options: dict | None) -> int:
    """Write ``document`` at ``destination`` (a local path or URL) in one piece; the bytes written."""
    data = json.dumps(document, separators=(",", ":")).encode()
    if is_url(destination):
        filesystem(destination, storage_options).pipe_file(destination, data)
        return len(data)
    temporary = f"{destination}.{os.getpid()}.partial"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, destination)  # readers see the old file or the new one, never half of one
    return len(data)


def _load(path: str, storage_options: dict | None) -> dict[str, Any]:
    if is_url(path):
        raw = filesystem(path, storage_options).cat_file(path)  # one GET (a file object would ask its size first)
    else:
        with open(path, "rb") as handle:
            raw = handle.read()
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise DamagedFileError(f"'{path}' is not a JSON reference file: it does not parse as JSON ({err}).") from err
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(document.get("refs"), dict):
        raise DamagedFileError(
            f"'{path}' is not a JSON reference file of version 1 (kerchunk's format, with 'version': 1 and 'refs')."
        )
    return document


def open_reference_store(path: str, storage_options: dict | None = None) -> Store:
    """The read-only zarr store a JSON reference file describes; its sources checked first."""
    from fsspec.implementations.reference import ReferenceFileSystem
    from zarr.storage import FsspecStore

    from .._remote import url_storage_options

    document = _load(path, storage_options)
    sources = (document.get(FORMAT_KEY) or {}).get("sources") or []
    check_sources(sources, storage_options, path)
    urls = list((document.get("templates") or {}).values()) or [s.get("url", "") for s in sources]
    protocol = next((u.split("://", 1)[0] for u in urls if "://" in u), "file")
    remote_options = {}
    if urls and protocol != "file":  # the sources' file system, asynchronous like the reference file system
        remote_options = {**url_storage_options(urls[0], storage_options), "asynchronous": True}
    fs = ReferenceFileSystem(
        document, remote_protocol=protocol, remote_options=remote_options, asynchronous=True, skip_instance_cache=True
    )
    return FsspecStore(fs, read_only=True, path="")
