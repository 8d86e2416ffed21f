"""ZarrIO: the HDMF storage backend for Zarr v3 stores.

ZarrIO owns the store and the IO lifecycle (modes, open/close, write/read/export entry points);
the work is delegated: ``_plan`` turns builders into a WritePlan, ``_commit`` writes it,
``_read`` turns store metadata back into builders, ``_namespaces`` handles cached specs.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import zarr
from hdmf.backends.errors import UnsupportedOperation
from hdmf.backends.io import HDMFIO
from hdmf.backends.utils import WriteStatusTracker
from hdmf.build import Builder, BuildManager, GroupBuilder, TypeMap
from hdmf.container import Container
from hdmf.spec import NamespaceCatalog
from hdmf.utils import docval, generate_array_html_repr, getargs, popargs
from zarr.abc.store import Store
from zarr.core.group import AsyncGroup, GroupMetadata
from zarr.storage import StorePath

from . import _dtypes
from ._convention import (
    COMPOUND_DTYPE_MIN_STRING_LENGTH,
    DEFAULT_SPEC_LOC_DIR,
    REFERENCE_DTYPE_ATTR_VALUE,
    ROOT_NAME,
    SPEC_LOC_ATTR,
    parse_reference_element,
    reference_path,
    spec_location,
)
from ._convert.h5links import kept_links
from ._icechunk import Version, is_icechunk_store, remote_repository
from ._icechunk import commit as commit_icechunk
from ._icechunk import open_store as open_repository
from ._ioargs import OPEN_ARGS, SUPPORTED_ZARR_STORES, WRITE_OPTIONS
from ._namespaces import add_spec_nodes, load_namespaces_from_index
from ._read.arrays import WriteHooks
from ._read.builders import BuilderReader, StoreIndex, load_index, make_reference_dataset
from ._read.linkpolicy import LinkPolicy
from ._stores import (
    ALL_MODES,
    READ_MODES,
    clear_store,
    get_store_path,
    is_remote_store,
    is_url,
    normalize_path,
    not_found,
    open_store,
    remote_options,
    store_format,
    store_location,
    url_storage_options,
)
from ._version import __version__
from ._write.commit import Committer, finish_root, refresh_consolidated
from ._write.iterators import ZarrIODataChunkIteratorQueue
from ._write.options import WriteOptions
from ._write.partial import PartialWriteMixin
from ._write.plan import Planner
from ._write.sharding import apply_sharding
from ._writesession import WriteSession

__all__ = [
    "ZarrIO",
    "ROOT_NAME",
    "SPEC_LOC_ATTR",
    "DEFAULT_SPEC_LOC_DIR",
    "REFERENCE_DTYPE_ATTR_VALUE",
    "COMPOUND_DTYPE_MIN_STRING_LENGTH",
    "SUPPORTED_ZARR_STORES",
]


class ZarrIO(PartialWriteMixin, HDMFIO):
    """Read and write HDMF files as Zarr v3 hierarchies."""

    @docval(*OPEN_ARGS)
    def __init__(self, **kwargs):
        path, mode, manager, storage_options, force_overwrite, allow_pickle = popargs(
            "path", "mode", "manager", "storage_options", "force_overwrite", "allow_pickle", kwargs
        )
        self._allow_incomplete, self._external_link_policy = popargs("allow_incomplete", "external_link_policy", kwargs)
        LinkPolicy.from_option(self._external_link_policy)  # a bad value fails here, not at the first link
        branch, tag, snapshot_id, self.__commit_message = popargs(
            "branch", "tag", "snapshot_id", "commit_message", kwargs
        )
        self.__version = Version(branch, tag, snapshot_id)
        if mode not in ALL_MODES:
            raise ValueError(f"Invalid mode '{mode}' for {type(self).__name__}; use one of {', '.join(ALL_MODES)}.")
        self.__path = normalize_path(path)
        self.__mode = mode
        self.__storage_options = storage_options
        self.__force_overwrite = force_overwrite
        self._allow_pickle = allow_pickle
        self.__store: Store | None = None
        self.__file: zarr.Group | None = None
        self.__reader: BuilderReader | None = None
        self.__external: dict[str, BuilderReader] = {}
        self.__modified = False
        self.__dci_queue: ZarrIODataChunkIteratorQueue | None = None
        self._written_builders = WriteStatusTracker()
        source = self.__path if isinstance(self.__path, str) else get_store_path(self.__path)
        self.__session = WriteSession(source, mode, self._allow_incomplete)
        if manager is None:
            manager = BuildManager(TypeMap(NamespaceCatalog()))
        super().__init__(manager=manager, source=source)

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> str | Store:
        return self.__path

    @property
    def abspath(self) -> str:
        return self.source if is_url(self.source) else os.path.abspath(self.source)

    @property
    def mode(self) -> str:
        return self.__mode

    @property
    def store(self) -> Store | None:
        return self.__store

    @property
    def _file(self) -> zarr.Group | None:
        """The root group, open from ``open()`` to ``close()`` (None when closed)."""
        if self.__file is None and self.__store is not None:
            self.__file = self._open_root()
        return self.__file

    @property
    def file(self) -> zarr.Group | None:
        """The root group of the open file, as tools written for hdmf-zarr <= 0.11 read it (``io.file.store``)."""
        return self._file

    def _open_root(self) -> zarr.Group:
        """The root group read again from its document (after a commit in a writing mode)."""
        return zarr.open_group(self.__store, mode="r+", zarr_format=3, use_consolidated=False)

    @property
    def __read_only(self) -> bool:
        return self.__mode in READ_MODES

    def is_remote(self) -> bool:
        return is_remote_store(self.__store)

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        if self.__store is not None:
            return
        session = self.__session = WriteSession(self.source, self.__mode, self._allow_incomplete)
        try:
            if not self.__read_only:  # before open_store: mode 'w' must not clear a file another writer has open
                session.lock_path(self.__path)
            store = open_store(self.__path, self.__mode, self.__storage_options, self.__force_overwrite, self.__version)
        except BaseException:
            session.release()
            raise
        self.__store = store
        try:
            self._open_hierarchy(store)
            if not self.__version.is_default() and not is_icechunk_store(self.__store):
                raise ValueError(
                    f"branch=, tag= and snapshot_id= choose a state of an Icechunk repository; '{self.source}' is "
                    "not one. Leave them out."
                )
            if not self.__read_only:  # a new file: lock it now that it exists
                session.lock_path(self.__path)
        except BaseException:
            self.__store = None
            if not isinstance(self.__path, Store):
                store.close()
            session.release()
            raise

    def _open_hierarchy(self, store: Store) -> None:
        """Check or create the root document for this mode; the root group stays open until ``close()``."""
        found = store_format(store)
        if self.__mode in ("w", "w-", "x"):
            if found is not None and self.__mode != "w":
                raise FileExistsError(
                    f"Unable to create '{self.source}' in mode '{self.__mode}': a Zarr store already exists there."
                )
            if found is not None:
                clear_store(store)  # a Zarr hierarchy in a store object or remote location
            self._write_root_document()
        elif found == 2 and not self.__read_only:
            raise ValueError(self._v2_hint())
        elif found is None and not is_icechunk_store(store) and (repository := self._remote_repository()):
            self.__store = open_repository(repository, self.__mode, self.__version, self.__storage_options)
            return self._open_hierarchy(self.__store)
        elif found is None and self.__mode == "a":
            self._write_root_document()
        elif found is None:
            raise not_found(self.source, self.__mode, "it is not a Zarr store (there is no zarr.json at its root)")
        if found is None or self.__mode in ("w", "w-", "x"):
            self.__file = zarr.Group(AsyncGroup(metadata=GroupMetadata(), store_path=StorePath(store, "")))
        else:  # the node index is loaded once, here; read() builds from it without asking the store again
            if not self.__read_only:
                self.__session.remember_root(store)
            index = self._reader().index
            self.__session.check_readable(index)
            self.__file = index.group("")

    def _remote_repository(self) -> Any:
        """The Icechunk repository at the URL opened, which holds no Zarr hierarchy (asked only then), or None."""
        if not isinstance(self.__path, str) or not is_url(self.__path):
            return None
        try:
            return remote_repository(self.__path, self.__storage_options)
        except ImportError:
            return None

    def _write_root_document(self) -> None:
        """A new file's root: marked as being written until the writer's last step."""
        self.__session.mark_new_file(self.__store, Committer(self.__store).commit_root)

    def _begin_write(self) -> None:
        """Mark an existing file as being edited before its first change (modes 'a' and 'r+')."""
        if not self.__read_only:
            self.__session.begin(self.__store)

    @contextmanager
    def _failing_marks_unfinished(self) -> Iterator[None]:
        """A write or export that raises (building included) leaves the file unfinished: nothing is committed."""
        try:
            yield
        except BaseException:
            self._write_failed()
            raise

    def _write_failed(self) -> None:
        """A write raised after the file was marked: close() leaves the mark (readers see the file as it was)."""
        if self.__session.mark is not None:
            self.__session.failed = True

    def _commit_message(self) -> str:
        if self.__commit_message:
            return self.__commit_message
        operation = "write" if self.__mode in ("w", "w-", "x") else "edit"
        return f"hdmf_zarr {__version__}: {operation} of {type(self).__name__} in mode '{self.__mode}'"

    def _v2_hint(self) -> str:
        return (
            f"'{self.source}' is a Zarr v2 file (written by hdmf-zarr 0.13 or older), which "
            f"{type(self).__name__} can only read, so it cannot be opened in mode '{self.__mode}'. Open it with "
            "mode 'r', or convert it to Zarr v3 first with NWBZarrV2IO.convert_to_v3(source_path, dest_path) "
            "or `hdmf-zarr convert`."
        )

    def close(self) -> None:
        """Finish the file (drop the write mark, refresh the consolidated metadata; on Icechunk, commit) unless a
        write raised, then release the store and the writer lock."""
        if self.__store is None:
            return
        try:
            session = self.__session
            unfinished = session.mark is not None or self.__modified or self.__mode in ("a", "r+")
            if not self.__read_only and unfinished and not session.failed:
                if self.__dci_queue:
                    self.__dci_queue.exhaust_queue()
                refresh_consolidated(self.__store, session.mark, self.source)
                session.mark = None
            if not self.__read_only and not session.failed and is_icechunk_store(self.__store):
                commit_icechunk(self.__store, self._commit_message(), self.source)
        finally:
            if not isinstance(self.__path, Store):
                self.__store.close()
            self.__store = None
            self.__file = None
            self.__session.release()

    def is_open(self) -> bool:
        return self.__store is not None

    # ------------------------------------------------------------------ writing
    @docval(
        {"name": "container", "type": Container, "doc": "the Container to write"},
        {"name": "cache_spec", "type": bool, "doc": "cache the specifications in the file", "default": True},
        {"name": "link_data", "type": bool, "doc": "link (True) or copy (False) zarr arrays", "default": True},
        {"name": "exhaust_dci", "type": bool, "doc": "write DataChunkIterators to the end", "default": True},
        {"name": "number_of_jobs", "type": int, "doc": "worker processes for GenericDataChunkIterators", "default": 1},
        *WRITE_OPTIONS,
    )
    def write(self, **kwargs):
        """Write a container (usually an NWBFile) to the store."""
        if self.__read_only:
            raise UnsupportedOperation(
                f"Cannot write to file {self.source} in mode '{self.__mode}'. "
                "Please use mode 'r+', 'w', 'w-', 'x', or 'a'"
            )
        cache_spec, progress, sharding = popargs("cache_spec", "progress", "sharding", kwargs)
        catalog = self.manager.namespace_catalog if cache_spec else None
        options = WriteOptions(progress=progress, sharding=sharding, spec_catalog=catalog)
        self.__dci_queue = ZarrIODataChunkIteratorQueue(
            number_of_jobs=popargs("number_of_jobs", kwargs),
            max_threads_per_process=popargs("max_threads_per_process", kwargs),
            multiprocessing_context=popargs("multiprocessing_context", kwargs),
        )
        with self._failing_marks_unfinished():
            super().write(options=options, **kwargs)

    @docval(
        {"name": "builder", "type": GroupBuilder, "doc": "the root GroupBuilder"},
        {"name": "link_data", "type": bool, "doc": "link (True) or copy (False) zarr arrays", "default": True},
        {"name": "exhaust_dci", "type": bool, "doc": "write DataChunkIterators to the end", "default": True},
        {"name": "export_source", "type": str, "doc": "the source of the builders when exporting", "default": None},
        {"name": "consolidate_metadata", "type": bool, "doc": "write consolidated metadata", "default": True},
        {"name": "options", "type": WriteOptions, "doc": "this write's options (defaults when None)", "default": None},
    )
    def write_builder(self, **kwargs):
        """Write a builder tree: plan every node in memory, then commit the plan in batches."""
        builder, link_data, exhaust_dci, export_source, consolidated, options = getargs(
            "builder", "link_data", "exhaust_dci", "export_source", "consolidate_metadata", "options", kwargs
        )
        options = options or WriteOptions()
        if export_source is not None and not is_url(export_source):
            export_source = os.path.abspath(export_source)
        planner = Planner(self.get_written, store_location(self.__store), link_data, export_source, options)
        plan = planner.add_root(builder)
        apply_sharding(plan.arrays.values(), options.sharding)
        existing = self._existing_nodes() if self.__mode in ("a", "r+") else {}
        if options.spec_catalog is not None:
            add_spec_nodes(plan, options.spec_catalog, existing)
        written = self._commit_plan(plan, existing, exhaust_dci, options)
        self._written_builders.set_written(builder)
        if consolidated and not self.__dci_queue:
            if self.__mode in ("w", "w-", "x"):
                finish_root(self.__store, written, mark=self.__session.mark, location=self.source)
                self.__modified = False
            else:
                refresh_consolidated(self.__store, self.__session.mark, self.source)
            self.__session.mark = None

    def _commit_plan(self, plan: Any, existing: dict[str, Any], exhaust_dci: bool, options: WriteOptions) -> dict:
        """Commit ``plan`` and mark its builders written; the metadata of every node written."""
        if self.__dci_queue is None:
            self.__dci_queue = ZarrIODataChunkIteratorQueue()
        self._begin_write()
        try:
            committer = Committer(self.__store, existing, options, self.__dci_queue, self.__session.mark)
            written = committer.commit(plan, exhaust_dci)
        except BaseException:
            self._write_failed()
            raise
        self.__modified = True
        self.__file = None
        for item in plan.builders:
            self._written_builders.set_written(item)
        return written

    def _write_plan(self, plan: Any, options: WriteOptions) -> None:
        """Write ``plan``, made without builders (a storage-level conversion), as this new file's content."""
        with self._failing_marks_unfinished():
            written = self._commit_plan(plan, {}, True, options)
            finish_root(self.__store, written, mark=self.__session.mark, location=self.source)
        self.__modified = False
        self.__session.mark = None

    def _existing_nodes(self) -> dict[str, Any]:
        if self.__reader is not None and not self.__modified and isinstance(self.__reader.index, StoreIndex):
            return dict(self.__reader.index.nodes)  # listed at open (modes a, r+) and unchanged since
        return StoreIndex.load(self.__store, use_consolidated=False).nodes

    @docval(
        {"name": "src_io", "type": HDMFIO, "doc": "the HDMFIO to export from"},
        {"name": "container", "type": Container, "doc": "the Container to export", "default": None},
        {"name": "write_args", "type": dict, "doc": "arguments for write_builder", "default": None},
        {"name": "clear_cache", "type": bool, "doc": "clear the build manager cache", "default": False},
        {"name": "cache_spec", "type": bool, "doc": "cache the specifications in the file", "default": True},
        {
            "name": "number_of_jobs",
            "type": int,
            "doc": "worker processes for GenericDataChunkIterators; also the number of arrays copied at once "
            "(in threads: chunk copy is I/O and the codecs release the GIL)",
            "default": 1,
        },
        *WRITE_OPTIONS,
    )
    def export(self, **kwargs):
        """Export the contents of another IO (Zarr or HDF5) into this store (mode 'w')."""
        src_io, container, write_args, clear_cache, cache_spec = getargs(
            "src_io", "container", "write_args", "clear_cache", "cache_spec", kwargs
        )
        options = WriteOptions(progress=kwargs["progress"], sharding=kwargs["sharding"], jobs=kwargs["number_of_jobs"])
        self.__dci_queue = ZarrIODataChunkIteratorQueue(
            number_of_jobs=kwargs["number_of_jobs"],
            max_threads_per_process=kwargs["max_threads_per_process"],
            multiprocessing_context=kwargs["multiprocessing_context"],
        )
        write_args = {**(write_args or {}), "consolidate_metadata": kwargs["consolidate_metadata"]}
        self._export(src_io, options, container, write_args, clear_cache, cache_spec)

    def _export(
        self,
        src_io: HDMFIO,
        options: WriteOptions,
        container: Container | None = None,
        write_args: dict[str, Any] | None = None,
        clear_cache: bool = False,
        cache_spec: bool = True,
    ) -> None:
        """``export()`` with its options given as a value (conversions and linked-file exports call this)."""
        if self.__mode != "w":
            raise UnsupportedOperation(
                f"Cannot export to file {self.source} in mode '{self.__mode}'. Please use mode 'w'."
            )
        write_args = dict(write_args or {})
        foreign = not isinstance(src_io, ZarrIO)
        if foreign and write_args.get("link_data") is True:
            raise UnsupportedOperation(
                f"Cannot export from non-Zarr backend {type(src_io).__name__} to Zarr with write argument "
                "link_data=True: a Zarr file cannot link to the datasets of another format. Leave link_data out "
                "(the data is copied) or pass link_data=False."
            )
        _check_export_container(src_io, container)
        if not write_args.get("link_data", True):
            clear_cache = True  # as HDF5IO: copying on request rebuilds every container for export
        # from another format, data is copied; an unmodified file is exported from its builders as read
        keep_links = foreign and "link_data" not in write_args
        if foreign:
            write_args.setdefault("link_data", False)
        if cache_spec:
            catalog = self.manager.namespace_catalog
            for name in src_io.manager.namespace_catalog.namespaces:
                if name not in catalog.namespaces:
                    catalog.add_namespace(name, src_io.manager.namespace_catalog.get_namespace(name))
            options = options.replace(spec_catalog=catalog)
        write_args["export_source"] = src_io.source
        with kept_links(src_io, self, options, keep_links) as redirects:
            write_args["options"] = options.replace(redirects=redirects)
            with self._failing_marks_unfinished():
                HDMFIO.export(self, src_io=src_io, container=container, write_args=write_args, clear_cache=clear_cache)

    def _mark_modified(self) -> None:
        self._begin_write()
        self.__modified = True

    # ------------------------------------------------------------------ reading
    def read(self, **kwargs):
        allow_pickle = kwargs.pop("allow_pickle", None)
        if allow_pickle is not None:
            self._allow_pickle = bool(allow_pickle)
            if self.__reader is not None:
                self.__reader.index.allow_pickle = self._allow_pickle
        if self.__mode in ("w", "w-", "x"):
            raise UnsupportedOperation(
                f"Cannot read from file {self.source} in mode '{self.__mode}'. Please use mode 'r', 'r+', or 'a'."
            )
        return super().read(**kwargs)

    @docval(returns="a GroupBuilder representing the file", rtype=GroupBuilder)
    def read_builder(self):
        """Build the root GroupBuilder from one metadata load; datasets stay lazy."""
        return self._reader().read_root()

    def _reader(self) -> BuilderReader:
        if self.__store is None:
            raise UnsupportedOperation(f"Cannot read data from closed Zarr file '{self.source}'")
        if self.__reader is None:
            index = load_index(self.__store, self.__mode == "r", self._allow_pickle)
            self.__reader = self._make_reader(index, self.source)
        return self.__reader

    def _make_reader(self, index: StoreIndex, source: str) -> BuilderReader:
        writes = not self.__read_only and source == self.source  # not the read-only stores links lead to
        hooks = WriteHooks(self._begin_write, self._write_failed) if writes else None
        return BuilderReader(
            index,
            source,
            self._resolve_external,
            make_reference_dataset(self),
            self._written_builders.set_written,
            write_hooks=hooks,
        )

    def _resolve_external(self, source: str, path: str) -> Any:
        here = store_location(self.__store)
        if here is None:
            raise ValueError(
                f"Cannot resolve the external link to '{source}' from {self.source}: this store has no location"
            )
        reader = self._external_reader(self._source_location(here, source), path, source)
        return reader.resolve({"source": ".", "path": path})

    def _source_location(self, here: str, source: str) -> str:
        """Where a link's or reference's ``source`` points (the index knows its format's rules; nothing is opened)."""
        return self._reader().index.source_location(here, source)

    def _external_reader(self, location: str, path: str, source: str | None = None) -> BuilderReader:
        """The reader of the store at ``location``: this one's, or another opened once and cached.

        Every other store a link or reference leads to is opened here, and only once the link policy
        (``external_link_policy``) allows ``location``: UnsafeLinkError otherwise, before any file or request.
        """

        here = store_location(self.__store)
        if location == here:
            return self._reader()  # a store already open is never opened again
        if here is None:
            raise ValueError(f"Cannot open '{location}' for a link from {self.source}: this store has no location")
        link = f"the external link to '{path}'" + (f" (source '{source}')" if source else "")
        LinkPolicy.from_option(self._external_link_policy).check(here, location, link)
        reader = self.__external.get(location)
        if reader is None:
            if not is_url(location) and not os.path.exists(location):
                raise ValueError(
                    f"Found bad link to object {path} in file {location}: no such store. Put the linked file back "
                    "at that path (relative links follow the linking file), or export the file with the linked "
                    "objects copied in."
                )
            options = self.__storage_options if is_url(location) else None
            store = open_store(location, "r", url_storage_options(location, options) if options else None)
            reader = self._make_reader(load_index(store, allow_pickle=self._allow_pickle), location)
            self.__external[location] = reader
        return reader

    def _builder_for_reference(self, value: Any) -> Any:
        return self._reader().resolve(parse_reference_element(value))

    def _reference_path(self, target: Container | Builder) -> str:
        """The stored path of a reference to ``target`` (a container or builder) appended to a dataset of this file.

        A container added since the file was read has no builder in the file's tree yet: the whole file is
        built once (as ``write()`` would) to place it. ValueError when it is still in no file.
        """
        builder = target if isinstance(target, Builder) else self.manager.build(target)
        if builder.parent is None and builder.location is None and isinstance(target, Container):
            root = target
            while root.parent is not None:
                root = root.parent
            self.manager.build(root, source=self.source, root=True)
            builder = self.manager.get_builder(target) or builder
        return reference_path(builder)

    def resolve_ref(self, zarr_ref: Any) -> tuple[str, Any]:
        """``(target name, zarr object)`` for a stored reference or link entry."""
        if isinstance(zarr_ref, np.ndarray) and zarr_ref.ndim != 0:
            raise ValueError(f"Cannot resolve a reference from an array of shape {zarr_ref.shape}")
        entry = parse_reference_element(zarr_ref) if not isinstance(zarr_ref, dict) else dict(zarr_ref)
        path = entry.get("path")
        if path is None:
            return ROOT_NAME, self._file
        source, key = entry.get("source") or ".", path.strip("/")
        index, where = self._reader().index, self.source
        if source not in (".", ""):
            here = store_location(self.__store)
            if here is None:
                raise ValueError(
                    f"Cannot resolve a reference to '{source}' from {self.source}: this store has no location"
                )
            where = self._source_location(here, source)
            try:
                index = self._external_reader(where, path, source).index
            except (FileNotFoundError, ValueError) as err:
                raise ValueError(f"Found bad link to object {path} in file {where}: {err}") from None
        try:
            if index is self._reader().index and self.__modified:  # written to since the index was loaded
                target = self._file[key] if key else self._file
            else:
                target = index.node(key)
        except KeyError:
            raise ValueError(
                f"Found bad link to object {path} in file {where}: there is no such object. The file was changed "
                "after the link was written; fix or remove the link."
            ) from None
        return posixpath.basename(path.rstrip("/")) or ROOT_NAME, target

    def get_builder(self, zarr_obj: Any) -> Any:
        """The builder read for a zarr Group or Array of this file."""
        key = getattr(zarr_obj, "path", "").strip("/")
        builder = self._reader().builders.get(key)
        if builder is None:
            raise ValueError(f"{getattr(zarr_obj, 'name', key)} has not been built")
        return builder

    def get_container(self, zarr_obj: Any) -> Container:
        return self.manager.construct(self.get_builder(zarr_obj))

    def get_written(self, builder: Builder, check_on_disk: bool = False) -> bool:
        written = self._written_builders.get_written(builder)
        if written and check_on_disk:
            written = self.get_builder_exists_on_disk(builder)
        return written

    @staticmethod
    def get_zarr_parent_path(zarr_object: Any) -> str:
        return "/" + posixpath.dirname(zarr_object.path)

    @classmethod
    def get_type(cls, data: Any) -> Any:
        return _dtypes.infer_type(data)

    # ------------------------------------------------------------------ namespaces
    @staticmethod
    def can_read(path: Any) -> bool:
        """True when ``path`` is a Zarr hierarchy this backend can open (v3, or a legacy v2 file to read)."""
        try:
            store = open_store(normalize_path(path), "r")
        except Exception:
            return False
        try:
            return store_format(store) is not None
        except Exception:
            return False

    @classmethod
    def load_namespaces(
        cls,
        namespace_catalog: NamespaceCatalog | TypeMap,
        path: Any = None,
        file: zarr.Group | None = None,
        storage_options: dict | None = None,
        namespaces: list[str] | None = None,
        driver: str | None = None,
        aws_region: str | None = None,
    ) -> dict:
        """Load the namespaces cached in a file into a NamespaceCatalog or TypeMap.

        ``driver`` and ``aws_region`` exist for callers written for NWBHDF5IO (``pynwb.validate``):
        ``aws_region`` becomes the S3 region of a remote store; ``driver`` must be None.
        """
        storage_options = remote_options(path, storage_options, driver, aws_region)
        if path is not None and file is not None:
            raise ValueError("Only one of 'path' and 'file' must be provided.")
        if file is not None:
            store, where = file.store, get_store_path(file.store)
        else:
            location = normalize_path(path)
            store = open_store(location, "r", storage_options)
            where = location if isinstance(location, str) else get_store_path(location)
        index = load_index(store)
        return load_namespaces_from_index(namespace_catalog, index, where, namespaces)

    def _has_cached_specs(self) -> bool:
        return spec_location(self._reader().index.attributes("")) is not None

    def load_namespaces_io(
        self, namespace_catalog: NamespaceCatalog | TypeMap, namespaces: list[str] | None = None
    ) -> dict:
        if self.__store is None:
            raise UnsupportedOperation(f"Cannot load namespaces from closed Zarr file '{self.source}'")
        return load_namespaces_from_index(namespace_catalog, self._reader().index, self.source, namespaces)

    @staticmethod
    def generate_dataset_html(dataset: Any) -> str:
        if isinstance(dataset, zarr.Array):
            info = {}
            for line in str(dataset.info).splitlines():
                name, sep, value = line.partition(":")
                if sep:
                    info[name.strip()] = value.strip()
            return generate_array_html_repr(info, dataset, "Zarr Array")
        return generate_array_html_repr({}, dataset, "Array Read from ZarrIO (not a Zarr Array)")


def _check_export_container(src_io: HDMFIO, container: Container | None) -> None:
    """The checks of ``HDMFIO.export``, made before anything is written and with the same exception types."""
    if container is None:
        return
    if src_io.manager is None:
        raise ValueError(
            f"Cannot export {container.name!r}: when a container is given, src_io ({type(src_io).__name__}) must "
            "have a BuildManager, and it has none. Export the container from the IO that read it."
        )
    built = src_io.manager.get_builder(container)
    if built is None:
        raise ValueError(
            f"Cannot export {container.name!r}: the provided container must have been read by the provided src_io "
            f"({src_io.source}). Pass the IO that read it, or write the container with write() instead."
        )
    if built.parent is not None:
        raise ValueError(
            f"Cannot export {container.name!r}: the provided container must be the root of the hierarchy of the "
            "source used to read the container. Export the root (the NWBFile) instead."
        )
