"""HDF5 file -> WritePlan at storage level: every group, dataset, attribute and link, without building containers.

``plan_from_hdf5`` walks an open h5py File and records the same nodes, attributes, ``_LINKS`` entries and
reference encoding (docs/convention.md §1-§6) that writing the file through pynwb would give, except what
only a specification knows: the spec dtype (the stored dtype is used) and dimension labels
(``_ARRAY_DIMENSIONS`` is not written). Numeric datasets are ``CopiedSource`` copies (stored chunks are
copied as they are where the filters match); text, references, compounds and scalars are read into memory.

External links are walked into (the linked object is written as if it were here) unless ``link_source`` gives
a store to link to. With ``reference_url`` (virtual files), numeric datasets whose stored chunks zarr can read
become references to those chunks (``h5chunks.py``) instead of copies.

Skipped with a warning: dangling soft and external links, region references, attributes with no JSON form
(arrays of references, compounds, empty values) and datasets with a null dataspace.
"""

from __future__ import annotations

import os
import posixpath
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _dtypes as dt
from .. import _names
from .._convention import (
    DTYPE_ATTR,
    REFERENCE_DTYPE_ATTR_VALUE,
    REFERENCE_FIELDS_ATTR,
    SAME_STORE,
    SPEC_LOC_ATTR,
    attribute_reference,
    join_key,
    link_entry,
)
from .._icechunk import INLINE_CHUNK_THRESHOLD
from .._write.copy import copy_settings, region_converter, source_dtype
from .._write.options import WriteOptions
from .._write.plan import ArrayNode, ChunkReferences, CopiedSource, GroupNode, InMemory, WritePlan
from .h5chunks import StoredChunks, stored_chunks


def plan_from_hdf5(
    h5file: Any,
    options: WriteOptions | None = None,
    max_name_bytes: int | None = None,
    reference_url: Callable[[Any], str] | None = None,
    link_source: Callable[[str], str | None] | None = None,
) -> WritePlan:
    """The write plan of every object of the open h5py File ``h5file`` (see the module docstring).

    ``max_name_bytes`` is the longest node name the destination holds (None: no limit). With
    ``reference_url`` (h5py File -> the URL its chunks are referenced at), datasets whose stored chunks zarr
    can read are ``ChunkReferences`` to them instead of copies (a virtual file). ``link_source(file)`` gives
    the ``_LINKS`` source of an external link into the HDF5 file ``file``, or None to walk the linked object in
    as if it were here (the default for every link).
    """
    return _Walk(h5file, options or WriteOptions(), max_name_bytes, reference_url, link_source).run()


#: datasets that store at most this many bytes are copied into a virtual file rather than referenced, so reading
#: them (``read()`` loads table ids and regions) costs no request to the source; the same size as the chunks kept in
#: the manifests of Icechunk repositories we create
SMALL_DATASET_BYTES = INLINE_CHUNK_THRESHOLD


class _Walk:
    def __init__(
        self,
        h5file: Any,
        options: WriteOptions,
        max_name_bytes: int | None,
        reference_url: Callable[[Any], str] | None,
        link_source: Callable[[str], str | None] | None,
    ) -> None:
        import h5py

        self.h5py = h5py
        self.file = h5file
        self.options = options
        self.max_name_bytes = max_name_bytes
        self.reference_url = reference_url
        self.link_source = link_source
        self.plan = WritePlan()

    def run(self) -> WritePlan:
        self.group(self.file, "")
        return self.plan

    # ------------------------------------------------------------------ groups, links, attributes
    def group(self, group: Any, key: str) -> None:
        node = GroupNode(key=key, attributes=self.attributes(group, key))
        self.plan.groups[key] = node
        h5py = self.h5py
        for name in group:
            child_key = join_key(key, name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                self.soft_link(node, group, name, link.path)
                continue
            _names.check_node_name(name, "/" + child_key, self.max_name_bytes)
            obj = self.external(node, group, name, link) if isinstance(link, h5py.ExternalLink) else group[name]
            if obj is None:
                continue
            if isinstance(obj, h5py.Group):
                self.group(obj, child_key)
            else:
                self.dataset(obj, child_key)

    def soft_link(self, node: GroupNode, group: Any, name: str, path: str) -> None:
        target = posixpath.normpath(path if path.startswith("/") else posixpath.join(group.name, path))
        where = "/" + join_key(node.key, name)
        if target not in self.file:
            warnings.warn(f"{where}: soft link to '{target}', which does not exist, skipped", stacklevel=5)
            return
        _names.check_node_name(name, where)
        node.links.append(link_entry(name, SAME_STORE, target))

    def external(self, node: GroupNode, group: Any, name: str, link: Any) -> Any:
        """The object an external link leads to, to walk in; None when it became a ``_LINKS`` entry or is gone."""
        where = "/" + join_key(node.key, name)
        try:
            target = group[name]
        except (KeyError, OSError) as err:
            warnings.warn(f"{where}: external link to '{link.path}' in '{link.filename}' skipped ({err})", stacklevel=6)
            return None
        source = self.link_source(os.path.abspath(target.file.filename)) if self.link_source else None
        if source is None:
            return target
        node.links.append(link_entry(name, source, link.path))
        return None

    def attributes(self, obj: Any, key: str) -> dict[str, Any]:
        where = "/" + key
        out: dict[str, Any] = {}
        for name in obj.attrs:
            _names.check_attribute_name(name, where)
            try:
                value = obj.attrs[name]
            except (OSError, TypeError, ValueError) as err:
                warnings.warn(f"{where}: attribute '{name}' cannot be read ({err}); skipped", stacklevel=5)
                continue
            if key == "" and name == SPEC_LOC_ATTR and isinstance(value, self.h5py.Reference):
                out[name] = self.file[value].name.strip("/")  # the convention stores the key, not a reference
                continue
            try:
                out[name] = self.attribute_value(name, value, where)
            except TypeError as err:
                warnings.warn(f"{err}; skipped", stacklevel=5)
        return out

    def attribute_value(self, name: str, value: Any, where: str) -> Any:
        h5py = self.h5py
        if isinstance(value, h5py.RegionReference):
            raise TypeError(f"Cannot store attribute '{name}' on '{where}': region references are not supported")
        if isinstance(value, h5py.Reference):
            return attribute_reference(self.ref_path(value))
        if isinstance(value, h5py.Empty):
            raise TypeError(f"Cannot store attribute '{name}' on '{where}': it is an empty (null) HDF5 value")
        if isinstance(value, np.ndarray) and value.dtype.kind == "O" and value.size:
            if any(isinstance(v, h5py.Reference) for v in value.flat):
                raise TypeError(f"Cannot store attribute '{name}' on '{where}': arrays of references are not supported")
        if _has_bytes_beyond_utf8(value):
            warnings.warn(
                f"{where}: attribute '{name}' holds text that is not UTF-8; it is read as Latin-1", stacklevel=6
            )
            value = _latin1_text(value)
        return dt.json_safe_attribute(name, value, where)

    def ref_path(self, ref: Any) -> str:
        if not ref:
            return ""
        return self.file[ref].name

    def references(self, ds: Any) -> tuple[ChunkReferences, StoredChunks] | None:
        """The dataset's stored chunks as references (virtual files), or None when its values are copied."""
        if self.reference_url is None:
            return None
        found = stored_chunks(ds)
        if found is None or sum(length for _, length in found.ranges.values()) <= SMALL_DATASET_BYTES:
            return None
        return ChunkReferences(self.reference_url(ds.file), found.ranges, found.complete), found

    # ------------------------------------------------------------------ datasets
    def dataset(self, ds: Any, key: str) -> None:
        h5py = self.h5py
        where = "/" + key
        if ds.shape is None:
            warnings.warn(f"{where}: dataset with a null dataspace skipped", stacklevel=5)
            return
        attrs = self.attributes(ds, key)
        dtype = ds.dtype
        shape = tuple(int(n) for n in ds.shape)
        ref_kind = h5py.check_dtype(ref=dtype)
        if ref_kind is h5py.RegionReference:
            warnings.warn(f"{where}: region reference dataset skipped (not supported)", stacklevel=5)
            return
        settings = {} if shape == () else copy_settings(ds, self.options.compressors)
        if ref_kind is h5py.Reference:
            refs = ds[()]
            values = np.empty(shape, dtype=dt.STRING_DTYPE)
            if shape == ():
                values[()] = self.ref_path(refs)
            else:
                values[...] = np.array([self.ref_path(r) for r in np.asarray(refs).flat], dtype=object).reshape(shape)
            attrs[DTYPE_ATTR] = REFERENCE_DTYPE_ATTR_VALUE
            self.add(ArrayNode(key, shape, dt.STRING_DTYPE, attrs, _text_settings(settings), InMemory(values)))
            return
        if dtype.names:
            self.compound(ds, key, attrs, settings)
            return
        stored, kind_name = source_dtype(ds, None)
        if kind_name is not None:
            attrs[DTYPE_ATTR] = kind_name
        if stored == dt.STRING_DTYPE:
            values = dt.text_array(ds[()], f"Dataset '{where}'")
            values = np.asarray(values, dtype=dt.STRING_DTYPE).reshape(shape)
            self.add(ArrayNode(key, shape, stored, attrs, _text_settings(settings), InMemory(values)))
            return
        if shape == ():
            values = np.asarray(ds[()], dtype=stored)
            self.add(ArrayNode(key, shape, stored, attrs, settings, InMemory(values)))
            return
        referenced = self.references(ds)
        if referenced is not None:
            refs, found = referenced
            settings = {"chunks": found.chunks, "serializer": found.codecs[0], "compressors": found.codecs[1:] or None}
            if ds.fillvalue is not None:
                settings["fill_value"] = np.asarray(ds.fillvalue).item()
            self.add(ArrayNode(key, shape, stored, attrs, settings, refs))
            return
        self.add(ArrayNode(key, shape, stored, attrs, settings, CopiedSource(ds, region_converter(ds, stored))))

    def compound(self, ds: Any, key: str, attrs: dict[str, Any], settings: dict[str, Any]) -> None:
        h5py = self.h5py
        where = "/" + key
        dtype = ds.dtype
        fields = []
        for name in dtype.names:
            sub = dtype[name]
            if h5py.check_dtype(ref=sub) is h5py.Reference:
                fields.append({"name": name, "dtype": "object"})
            elif h5py.check_string_dtype(sub) is not None or sub.kind in "OSU":
                fields.append({"name": name, "dtype": "text"})
            elif sub.names:
                raise NotImplementedError(f"{where}: nested compound fields are not supported yet")
            else:
                fields.append({"name": name, "dtype": sub.name})
        raw = np.asarray(ds[()])
        refs = {f["name"] for f in fields if f["dtype"] == "object"}

        def row(record: Any) -> tuple:
            return tuple(self.ref_path(record[n]) if n in refs else record[n] for n in dtype.names)

        data = row(raw[()]) if raw.ndim == 0 else [row(r) for r in raw]
        values = dt.compound_array(fields, data, where)
        if refs:
            attrs[REFERENCE_FIELDS_ATTR] = [f["name"] for f in fields if f["name"] in refs]
        settings = {k: v for k, v in settings.items() if k != "fill_value"}
        self.add(ArrayNode(key, values.shape, values.dtype, attrs, settings, InMemory(values)))

    def add(self, node: ArrayNode) -> None:
        self.plan.add_array(node)


def _text_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Storage settings of a text array: the chunking and compressors, no fill value nor filters."""
    return {k: v for k, v in settings.items() if k in ("chunks", "compressors")}


def _has_bytes_beyond_utf8(value: Any) -> bool:
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return any(_has_bytes_beyond_utf8(v) for v in value.flat)
    return False


def _latin1_text(value: Any) -> Any:
    """Text an HDF5 writer stored in a single-byte encoding (MATLAB writes "µV" as b"\\xb5V"), as str."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    if isinstance(value, np.ndarray):
        return np.array([_latin1_text(v) for v in value.flat], dtype=object).reshape(value.shape)
    return value
