"""Fixtures for store-kind tests: a real S3 server on 127.0.0.1 and one helper per kind of store.

``s3_server`` is moto's S3 server (``hdmf_zarr.testing.s3server.LocalS3Server``) on a free port of the
loopback address, one per test session (per xdist worker), with a request counter. Every test gets
its own bucket from ``s3_bucket``. Clients get explicit credentials and the server's endpoint, so
nothing is sent to any other address.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["s3_server", "s3_bucket", "StoreKind", "STORE_KINDS", "store_kind"]

# never let a client look for credentials or regions on the network
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
_BUCKETS = itertools.count()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    pytest.importorskip("moto.server", reason="needs moto[server]")
    pytest.importorskip("s3fs", reason="needs s3fs")
    from hdmf_zarr.testing.s3server import LocalS3Server

    with LocalS3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: Any) -> str:
    name = f"test-{os.getpid()}-{next(_BUCKETS)}"
    s3_server.create_bucket(name)
    return name


@dataclass
class StoreKind:
    """How a test names one store for writing and for reading again, for one kind of store."""

    name: str
    tmp_path: Path
    server: Any = None
    bucket: str | None = None
    _memory: Any = field(default=None, repr=False)
    _opened: list[Any] = field(default_factory=list, repr=False)

    @property
    def is_remote(self) -> bool:
        return self.name in ("s3-url", "fsspec", "obstore")

    def location(self, stem: str = "session") -> Any:
        return self._path(stem)

    def _path(self, stem: str) -> Any:
        if self.name == "folder":
            return self.tmp_path / f"{stem}.nwb.zarr"
        if self.name in ("zip-path", "zipstore"):
            return self.tmp_path / f"{stem}.nwb.zarr.zip"
        if self.name == "icechunk-local":
            return self.tmp_path / f"{stem}.icechunk"
        return self.server.url(self.bucket, f"{stem}.nwb.zarr")

    def open(self, mode: str, stem: str = "session") -> tuple[Any, dict[str, Any]]:
        """``(path, keywords)`` for ``NWBZarrIO(path, mode, **keywords)``."""
        from zarr.storage import FsspecStore, MemoryStore, ObjectStore, ZipStore

        read_only = mode in ("r", "r-")
        if self.name in ("folder", "zip-path"):
            return self._path(stem), {}
        if self.name == "zipstore":
            for store in self._opened:
                store.close()
            self._opened.clear()
            zip_mode = "r" if read_only else ("w" if mode == "w" else "a")
            store = ZipStore(self._path(stem), mode=zip_mode, read_only=read_only)
            self._opened.append(store)
            return store, {}
        if self.name == "memory":
            if self._memory is None:
                self._memory = {}
            return MemoryStore(self._memory, read_only=read_only), {}
        if self.name.startswith("icechunk"):
            return self._icechunk(mode, stem), {}
        options = self.server.storage_options()
        if self.name == "s3-url":
            return self._path(stem), {"storage_options": options}
        if self.name == "fsspec":
            return FsspecStore.from_url(self._path(stem), storage_options=options, read_only=read_only), {}
        if self.name == "obstore":
            pytest.importorskip("obstore")
            return ObjectStore(self.server.obstore(self.bucket, f"{stem}.nwb.zarr"), read_only=read_only), {}
        raise ValueError(self.name)

    def _icechunk(self, mode: str, stem: str) -> Any:
        """A repository object for new files and in memory; the repository's folder otherwise (found by path)."""
        icechunk = pytest.importorskip("icechunk")
        if self.name == "icechunk-memory":
            if self._memory is None:
                self._memory = icechunk.Repository.create(icechunk.in_memory_storage())
            return self._memory
        path = self._path(stem)
        if mode in ("w", "w-", "x") and not path.exists():
            return icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
        return path

    def close(self) -> None:
        for store in self._opened:
            store.close()
        self._opened.clear()


STORE_KINDS = [
    "folder",
    "zip-path",
    "zipstore",
    "memory",
    "s3-url",
    "fsspec",
    "obstore",
    "icechunk-local",
    "icechunk-memory",
]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    kind = StoreKind(request.param, tmp_path)
    if kind.is_remote:
        kind.server = request.getfixturevalue("s3_server")
        kind.bucket = request.getfixturevalue("s3_bucket")
    yield kind
    kind.close()
