"""The keyword arguments of ``ZarrIO``'s constructor and of its ``write()`` / ``export()``, as docval tables."""

from __future__ import annotations

from pathlib import Path

from hdmf.build import BuildManager
from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore

from ._icechunk import icechunk_types
from ._stores import obstore_types

SUPPORTED_ZARR_STORES = (LocalStore, FsspecStore, Store)
_PATH_TYPES = (str, Path, *SUPPORTED_ZARR_STORES, *obstore_types(), *icechunk_types())

#: keyword arguments of the constructor
OPEN_ARGS = (
    {
        "name": "path",
        "type": _PATH_TYPES,
        "doc": "a folder, .zip file, URL or zarr Store; or an Icechunk Repository, Session, or a folder or s3:// "
        "prefix holding a repository",
    },
    {
        "name": "mode",
        "type": str,
        "doc": "'r' read, 'r+' read/write (must exist), 'a' read/write (create if absent), "
        "'w' create (overwrite), 'w-' or 'x' create (fail if it exists)",
    },
    {"name": "manager", "type": BuildManager, "doc": "the BuildManager to use", "default": None},
    {"name": "storage_options", "type": dict, "doc": "fsspec options for remote stores", "default": None},
    {
        "name": "force_overwrite",
        "type": bool,
        "doc": "with mode 'w', replace an existing file or non-Zarr folder at path",
        "default": False,
    },
    {
        "name": "allow_pickle",
        "type": bool,
        "doc": "when reading a legacy Zarr v2 file, unpickle any object (this runs code the file names); "
        "by default only plain data is unpickled",
        "default": False,
    },
    {
        "name": "allow_incomplete",
        "type": bool,
        "doc": "open a file whose writer did not finish (to salvage what was written); by default such a file "
        "raises IncompleteFileError",
        "default": False,
    },
    {
        "name": "branch",
        "type": str,
        "doc": "Icechunk: the branch to read or write (default 'main')",
        "default": None,
    },
    {"name": "tag", "type": str, "doc": "Icechunk: the tag to read", "default": None},
    {"name": "snapshot_id", "type": str, "doc": "Icechunk: the snapshot to read", "default": None},
    {
        "name": "commit_message",
        "type": str,
        "doc": "Icechunk: the message of the commit that close() makes (default: names the operation and file)",
        "default": None,
    },
    {
        "name": "external_link_policy",
        "type": None,
        "doc": "where external links may lead: None (the default: stores next to this file or below its "
        "folder, the same bucket and prefix for URLs), 'any', or a list of allowed folders and URL prefixes",
        "default": None,
    },
)

#: keyword arguments that write() and export() share
WRITE_OPTIONS = (
    {"name": "max_threads_per_process", "type": int, "doc": "thread limit in each worker", "default": None},
    {
        "name": "multiprocessing_context",
        "type": str,
        "doc": "how worker processes start: 'forkserver' (the default where it exists), 'spawn' or 'fork'",
        "default": None,
    },
    {"name": "consolidate_metadata", "type": bool, "doc": "write consolidated metadata", "default": True},
    {
        "name": "progress",
        "type": (bool, dict),
        "doc": "show progress bars for the data written (True, or a dict of tqdm keywords)",
        "default": False,
    },
    {
        "name": "sharding",
        "type": None,
        "doc": "shard big arrays: 'auto' (big arrays with automatic chunks), True, False or a ShardingPolicy",
        "default": "auto",
    },
)
