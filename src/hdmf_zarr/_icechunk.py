"""Icechunk repositories as places to keep NWB files: opening a branch, tag or snapshot as a zarr store, and
committing a write as one transaction.

A ``Repository``, a ``Session`` or a session's ``IcechunkStore`` may be passed as ``path``; so may a local folder
or an ``s3://`` prefix that holds a repository (recognised by its ``repo`` object). Reading opens a read-only
session of ``branch`` (default ``main``), ``tag`` or ``snapshot_id``; writing opens a writable session of
``branch``, and ``ZarrIO.close()`` commits it (``commit``) unless the write raised. Icechunk is optional
(``pip install 'hdmf-zarr[icechunk]'``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from zarr.abc.store import Store

from .errors import ConcurrentWriteError

EXTRA = "pip install 'hdmf-zarr[icechunk]'"
#: the object every Icechunk repository holds at its root
REPO_OBJECT = "repo"
DEFAULT_BRANCH = "main"
#: chunks up to this many bytes are kept inside the manifests of repositories we create (Icechunk's default:
#: 512). Measured (benchmarks/icechunk_s3.py, 500 TimeSeries on S3): reading every series' data takes 500
#: requests instead of 1000, open + read() 26 instead of 40; larger values save almost nothing more.
INLINE_CHUNK_THRESHOLD = 4096


@dataclass(frozen=True)
class Version:
    """Which state of a repository to open: a branch (the default ``main``), a tag or a snapshot."""

    branch: str | None = None
    tag: str | None = None
    snapshot_id: str | None = None

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.branch, self.tag, self.snapshot_id)) > 1:
            raise ValueError("Give at most one of branch=, tag= and snapshot_id= to choose what to open.")

    def is_default(self) -> bool:
        return self.branch is None and self.tag is None and self.snapshot_id is None


def _module() -> Any:
    try:
        import icechunk
    except ImportError as err:
        raise ImportError(f"Opening an Icechunk repository needs the icechunk package: {EXTRA}") from err
    return icechunk


def new_config() -> Any:
    """The configuration of the repositories we create."""
    return _module().RepositoryConfig(inline_chunk_threshold_bytes=INLINE_CHUNK_THRESHOLD)


def is_icechunk_object(path: Any) -> bool:
    """True for an Icechunk Repository, Session or IcechunkStore (without importing icechunk)."""
    return type(path).__module__.split(".")[0] == "icechunk"


def is_local_repository(path: Any) -> bool:
    """True for a local folder that holds an Icechunk repository."""
    if not isinstance(path, str) or "://" in path:
        return False
    return os.path.isfile(os.path.join(path, REPO_OBJECT)) and os.path.isdir(os.path.join(path, "snapshots"))


def is_icechunk_store(store: Any) -> bool:
    return type(store).__name__ == "IcechunkStore" and is_icechunk_object(store)


def s3_endpoint(options: dict | None) -> dict[str, Any]:
    """Icechunk's S3 endpoint settings (region, endpoint, plain HTTP, path-style) from fsspec/s3fs-style options."""
    options = options or {}
    client = options.get("client_kwargs") or {}
    endpoint = options.get("endpoint_url") or client.get("endpoint_url")
    return {
        "region": client.get("region_name") or options.get("region_name"),
        "endpoint_url": endpoint,
        "allow_http": bool(endpoint and endpoint.startswith("http://")),
        "force_path_style": endpoint is not None,
    }


def s3_storage(url: str, options: dict | None) -> Any:
    """Icechunk S3 storage for ``s3://bucket/prefix`` from fsspec/s3fs-style ``storage_options``."""
    icechunk = _module()
    options = dict(options or {})
    bucket, _, prefix = url.split("://", 1)[1].partition("/")
    return icechunk.s3_storage(
        bucket=bucket,
        prefix=prefix.strip("/") or None,
        **s3_endpoint(options),
        access_key_id=options.get("key"),
        secret_access_key=options.get("secret"),
        anonymous=True if options.get("anon") else None,
        from_env=None if options.get("key") or options.get("anon") else True,
    )


def storage_for(path: str, options: dict | None) -> Any:
    """The Icechunk storage at a local folder or an ``s3://`` prefix."""
    icechunk = _module()
    if path.startswith(("s3://", "s3a://")):
        return s3_storage(path, options)
    if "://" in path:
        raise ValueError(f"'{path}': Icechunk repositories are opened from local folders and s3:// prefixes here.")
    return icechunk.local_filesystem_storage(path)


def is_remote_repository(url: str, options: dict | None) -> bool:
    """True when the ``s3://`` prefix ``url`` holds an Icechunk repository (one request)."""
    if not url.startswith(("s3://", "s3a://")):
        return False
    return bool(_module().Repository.exists(s3_storage(url, options)))


def remote_repository(url: str, options: dict | None) -> Any:
    """The Icechunk Repository at the ``s3://`` prefix ``url``, or None when it holds none."""
    if not is_remote_repository(url, options):
        return None
    return _module().Repository.open(s3_storage(url, options))


def open_store(path: Any, mode: str, version: Version, storage_options: dict | None = None) -> Store:
    """A zarr store over the session ``mode`` needs of the repository (or session, or store) ``path``."""
    icechunk = _module()
    location = path if isinstance(path, str) else None
    read_only = mode in ("r", "r-")
    if isinstance(path, icechunk.IcechunkStore):
        return path
    if isinstance(path, icechunk.Session):
        return path.store
    if isinstance(path, str):
        storage = storage_for(path, storage_options)
        exists = icechunk.Repository.exists(storage)
        if not exists and read_only:
            raise FileNotFoundError(f"No Icechunk repository at '{path}'.")
        path = icechunk.Repository.open(storage) if exists else icechunk.Repository.create(storage, new_config())
    if not isinstance(path, icechunk.Repository):
        raise TypeError(f"Cannot open {type(path).__name__} as an Icechunk repository.")
    virtual = bool(path.config.virtual_chunk_containers)
    if virtual:  # a virtual file: allowed to read its sources, which must not have changed
        from ._virtual.icechunkrefs import authorized

        path = authorized(path, storage_options)
    if read_only:
        if version.is_default():
            version = Version(branch=DEFAULT_BRANCH)
        session = path.readonly_session(version.branch, tag=version.tag, snapshot_id=version.snapshot_id)
        if virtual:
            from ._virtual.icechunkrefs import check_snapshot

            check_snapshot(path, session.snapshot_id, storage_options, location or "the Icechunk repository")
        return session.store
    if version.tag is not None or version.snapshot_id is not None:
        raise ValueError(f"Mode '{mode}' writes to a branch: give branch=, not tag= or snapshot_id=.")
    return path.writable_session(version.branch or DEFAULT_BRANCH).store


def commit(store: Store, message: str, location: str) -> str | None:
    """Commit the writable session behind ``store`` (when it changed anything); the new snapshot id.

    Another writer's commit to the same branch in between raises ``ConcurrentWriteError`` and this session's
    changes are not committed: nothing is lost or mixed.
    """
    session = getattr(store, "session", None)
    if session is None or session.read_only or not session.has_uncommitted_changes:
        return None
    icechunk = _module()
    try:
        return session.commit(message)
    except icechunk.ConflictError as err:
        raise ConcurrentWriteError(
            f"Cannot commit to branch '{session.branch}' of '{location}': another writer committed to it since "
            f"this one opened it ({err}). Nothing of this write was committed; open the file again and repeat it."
        ) from err


def describe(store: Store) -> dict[str, Any]:
    """The branch, snapshot and session mode of an Icechunk store (for ``hdmf-zarr info``)."""
    session = store.session
    return {"branch": session.branch, "snapshot": session.snapshot_id, "read_only": session.read_only}


def icechunk_types() -> tuple[type, ...]:
    """Icechunk's Repository and Session classes (accepted as ``path``), if icechunk is installed."""
    try:
        import icechunk
    except ImportError:
        return ()
    return (icechunk.Repository, icechunk.Session)


# ------------------------------------------------------------------ repositories by location, history (the CLI)
@dataclass(frozen=True)
class Commit:
    """One snapshot of a repository's history."""

    id: str
    written_at: Any  # a timezone-aware datetime
    message: str


def open_repository(path: Any, storage_options: dict | None = None) -> Any:
    """The repository at a local folder or ``s3://`` prefix (a ``Repository`` is returned as it is)."""
    icechunk = _module()
    if isinstance(path, icechunk.Repository):
        return path
    storage = storage_for(str(path), storage_options)
    if not icechunk.Repository.exists(storage):
        raise FileNotFoundError(f"No Icechunk repository at '{path}'.")
    return icechunk.Repository.open(storage)


def create_repository(path: str, storage_options: dict | None = None) -> Any:
    """A new, empty repository at a local folder or ``s3://`` prefix."""
    return _module().Repository.create(storage_for(path, storage_options), new_config())


def open_snapshot(repository: Any, version: Version, location: str) -> Store:
    """A read-only store of the branch tip, tag or snapshot ``version`` picks; a ValueError that lists the
    repository's branches and tags when there is no such one."""
    icechunk = _module()
    try:
        return open_store(repository, "r", version)
    except (icechunk.NotFoundError, icechunk.InvalidInputError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        branches = ", ".join(sorted(repository.list_branches())) or "none"
        tags = ", ".join(sorted(repository.list_tags())) or "none"
        raise ValueError(
            f"The Icechunk repository at '{location}' has no such version ({reason}); its branches: {branches}; "
            f"its tags: {tags}."
        ) from err


def history(repository: Any, snapshot_id: str, n: int) -> list[Commit]:
    """The last ``n`` commits leading to ``snapshot_id``, newest first (``snapshot_id``'s own commit first)."""
    from itertools import islice

    ancestry = repository.ancestry(snapshot_id=snapshot_id)
    return [Commit(s.id, s.written_at, s.message) for s in islice(ancestry, max(0, n))]


def quiet_logs() -> None:
    """Show only Icechunk's errors on stderr (its warnings are for library users), unless ICECHUNK_LOG says
    otherwise."""
    _module().set_logs_filter(None if os.environ.get("ICECHUNK_LOG") else "error")
