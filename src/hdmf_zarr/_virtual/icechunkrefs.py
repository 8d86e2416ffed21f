"""Virtual files as Icechunk repositories: virtual chunk containers for the sources, references, and the
authorisation readers need.

A repository we make holds one virtual chunk container per place its sources are (the folder of a local file,
the bucket of an ``s3://`` object, the server of an ``http(s)://`` URL), so the repository says where its chunks
may come from. Readers must authorise each container; ``authorized`` does it from the storage options the file is
opened with. Each reference carries the source's ETag (S3, HTTP) or a time after its last modification (local), and
Icechunk refuses a chunk whose source changed; the commit's metadata also holds our record of the sources
(``sources.py``), checked when the file is opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .sources import LOCAL_PREFIX, check_sources, local_path

#: the key of our record of the sources in a commit's metadata
METADATA_KEY = "hdmf_zarr.virtual_sources"


def container_prefix(url: str) -> str:
    """The URL prefix of the virtual chunk container holding ``url``: its folder, or its bucket."""
    path = local_path(url)
    if path is not None:
        return LOCAL_PREFIX + os.path.dirname(path).rstrip("/") + "/"
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/"


def _object_store(prefix: str, storage_options: dict | None) -> Any:
    import icechunk

    path = local_path(prefix)
    if path is not None:
        return icechunk.local_filesystem_store(path)
    if prefix.startswith(("http://", "https://")):
        return icechunk.http_store({"allow_http": "true"} if prefix.startswith("http://") else None)
    if not prefix.startswith(("s3://", "s3a://")):
        raise ValueError(f"Virtual files reference local files, http(s):// and s3:// URLs; not '{prefix}'.")
    from .._icechunk import s3_endpoint

    return icechunk.s3_store(**s3_endpoint(storage_options), anonymous=bool((storage_options or {}).get("anon")))


def _credentials(prefix: str, storage_options: dict | None) -> Any:
    import icechunk

    if local_path(prefix) is not None:
        return icechunk.credentials.LocalFileSystemAccess
    if prefix.startswith(("http://", "https://")):
        return icechunk.credentials.HttpAccess
    options = storage_options or {}
    if options.get("anon"):
        return icechunk.containers_credentials({prefix: icechunk.s3_credentials(anonymous=True)})[prefix]
    if options.get("key"):
        found = icechunk.s3_credentials(access_key_id=options["key"], secret_access_key=options.get("secret"))
    else:
        found = icechunk.s3_credentials(from_env=True)
    return icechunk.containers_credentials({prefix: found})[prefix]


def repository_config(urls: Iterable[str], storage_options: dict | None) -> Any:
    """The configuration of a new repository referencing chunks of ``urls``."""
    import icechunk

    from .._icechunk import new_config

    config = new_config()
    for prefix in sorted({container_prefix(u) for u in urls}):
        store = _object_store(prefix, storage_options)
        config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
    return config


def authorized(repository: Any, storage_options: dict | None) -> Any:
    """``repository`` allowed to read the chunks of its virtual chunk containers (itself when it has none or
    they are already allowed)."""
    containers = repository.config.virtual_chunk_containers or {}
    allowed = set(repository.authorized_virtual_container_prefixes or ())
    missing = [prefix for prefix in containers if prefix not in allowed]
    if not missing:
        return repository
    access = {prefix: _credentials(prefix, storage_options) for prefix in containers}
    return repository.reopen(authorize_virtual_chunk_access=access)


def chunk_specs(ranges: dict[tuple[int, ...], tuple[int, int]], url: str, record: dict[str, Any]) -> list[Any]:
    """Icechunk's virtual chunk specs for one array's ``ranges`` in the source ``url`` (whose ``record``
    gives the checksum Icechunk checks on every read)."""
    import icechunk

    checksum: dict[str, Any] = {}
    if "etag" in record:
        checksum["etag_checksum"] = record["etag"]
    elif "mtime_ns" in record:  # Icechunk keeps whole seconds: the next second after the modification
        checksum["last_updated_at_checksum"] = datetime.fromtimestamp(record["mtime_ns"] // 10**9 + 1, UTC)
    return [
        icechunk.VirtualChunkSpec(index=list(coords), location=url, offset=offset, length=length, **checksum)
        for coords, (offset, length) in ranges.items()
    ]


def check_snapshot(repository: Any, snapshot_id: str, storage_options: dict | None, location: str) -> None:
    """Raise ``SourceChangedError`` when a source recorded by the snapshot's commit has changed."""
    metadata = repository.lookup_snapshot(snapshot_id).metadata or {}
    check_sources(metadata.get(METADATA_KEY), storage_options, location)
