"""The options of one write or export: a frozen value built once from the call's arguments and handed
down explicitly to the planner, the committer and the copiers. Nothing about a write is kept in module
or IO state, so two writes in two threads never see each other's settings."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._progress import ProgressOption
from .sharding import resolve_policy

#: blocks of one copied array in flight at once (each a few chunks)
DEFAULT_COPY_WORKERS = max(2, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class WriteOptions:
    """How one write or export stores its data.

    ``progress``: False, True or a dict of tqdm keywords. ``sharding``: see :mod:`hdmf_zarr._write.sharding`.
    ``spec_catalog``: the NamespaceCatalog whose specifications are cached in the file, or None.
    ``redirects``: ``{key: (store, path)}`` of objects written as links to another store (kept HDF5 links).
    ``conversions``: HDF5 file -> Zarr store of the linked files converted during one export (shared by the
    nested exports of that export, so each linked file is converted once).
    ``jobs``: arrays copied at the same time. ``copy_workers``: blocks of one array in flight at once.
    ``chunk_copy``: store chunks whose codecs match as they are, without recompressing them.
    ``compressors``: when not None, the compressors of every copied array (replacing the source's).
    ``on_copied``: called with the logical bytes of each block copied.
    """

    progress: ProgressOption = False
    sharding: Any = "auto"
    spec_catalog: Any = None
    redirects: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    conversions: dict[str, str] = field(default_factory=dict)
    jobs: int = 1
    copy_workers: int = DEFAULT_COPY_WORKERS
    chunk_copy: bool = True
    compressors: Any = None
    on_copied: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        resolve_policy(self.sharding)  # a bad value fails before anything is written
        if self.jobs < 1:
            object.__setattr__(self, "jobs", 1)

    def replace(self, **changes: Any) -> WriteOptions:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
