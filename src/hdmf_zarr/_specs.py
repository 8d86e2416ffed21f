"""Cached namespace specifications: write them as JSON text arrays, read them back."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import zarr
from hdmf.backends.utils import NamespaceToBuilderHelper
from hdmf.spec import NamespaceCatalog, SpecReader, SpecWriter
from hdmf.utils import docval, popargs

from ._dtypes import STRING_DTYPE

NAMESPACE_DOC = "namespace"
UNVERSIONED = ("unversioned", "None")


def stringify(spec: Any) -> str:
    """Compact JSON text of a spec document."""
    return json.dumps(spec, separators=(",", ":"))


def version_key(version: str) -> tuple:
    """Sort key that orders namespace versions semantically ("2.10.0" after "2.9.1")."""
    if version in UNVERSIONED:
        return (0,)
    parts = []
    for piece in re.split(r"[.\-+_]", version):
        parts.append((1, int(piece), "") if piece.isdigit() else (0, 0, piece))
    return (1, *parts)


def newest_version(versions: list[str]) -> str:
    return max(versions, key=version_key)


class SpecCollector(SpecWriter):
    """A SpecWriter that keeps ``{document name: JSON text}`` in memory for the write plan."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}

    def write_spec(self, spec: Any, path: str) -> None:
        self.documents[path] = stringify(spec)

    def write_namespace(self, namespace: Any, path: str) -> None:
        self.documents[path] = stringify({"namespaces": [namespace]})


def namespace_documents(catalog: NamespaceCatalog) -> dict[str, dict[str, str]]:
    """``{"<namespace>/<version>": {document name: JSON text}}`` for every namespace in ``catalog``."""
    out = {}
    for name in catalog.namespaces:
        version = catalog.get_namespace(name).version
        collector = SpecCollector()
        NamespaceToBuilderHelper.convert_namespace(catalog, name).export(NAMESPACE_DOC, writer=collector)
        out[f"{name}/{version if version is not None else 'unversioned'}"] = collector.documents
    return out


class TextSpecReader(SpecReader):
    """A SpecReader over spec documents fetched on demand by name."""

    def __init__(self, source: str, fetch: Callable[[str], str]) -> None:
        super().__init__(source=source)
        self._fetch = fetch
        self._namespace_doc: dict | None = None

    def read_spec(self, spec_path: str) -> dict:
        return json.loads(self._fetch(spec_path))

    def read_namespace(self, ns_path: str) -> list:
        if self._namespace_doc is None:
            self._namespace_doc = json.loads(self._fetch(ns_path))
        return self._namespace_doc["namespaces"]


def load_into_catalog(
    catalog: Any,
    versions: Mapping[str, list[str]],
    fetch: Callable[[str, str, str], str],
    source: str,
    namespaces: list[str] | None = None,
) -> dict:
    """Load the newest cached version of each namespace into ``catalog`` (a NamespaceCatalog or TypeMap).

    ``versions`` maps namespace name -> cached versions; ``fetch(ns, version, doc)`` returns a JSON text.
    """
    readers = {}
    for name in namespaces if namespaces is not None else list(versions):
        if name not in versions:
            raise KeyError(f"namespace '{name}' is not cached in {source}")
        version = newest_version(versions[name])
        readers[name] = TextSpecReader(
            f"{source}:/{name}/{version}",
            lambda doc, n=name, v=version: fetch(n, v, doc),
        )
    if not readers:
        return {}
    return catalog.load_namespaces(NAMESPACE_DOC, reader=readers)


def text_of(value: Any) -> str:
    """A spec document's text from what its 0-d (or one-element) array holds."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return str(value)


class ZarrSpecWriter(SpecWriter):
    """Write spec documents as 0-d text arrays into a zarr Group."""

    @docval({"name": "group", "type": zarr.Group, "doc": "the group to write the documents into"})
    def __init__(self, **kwargs):
        self._group = popargs("group", kwargs)

    stringify = staticmethod(stringify)

    def _write(self, document: Any, name: str) -> zarr.Array:
        array = self._group.create_array(name, shape=(), dtype=STRING_DTYPE, overwrite=True)
        array[()] = stringify(document)
        return array

    def write_spec(self, spec: Any, path: str) -> zarr.Array:
        return self._write(spec, path)

    def write_namespace(self, namespace: Any, path: str) -> zarr.Array:
        return self._write({"namespaces": [namespace]}, path)


class ZarrSpecReader(SpecReader):
    """Read spec documents cached in a zarr Group."""

    @docval({"name": "group", "type": zarr.Group, "doc": "the group holding one namespace version"})
    def __init__(self, **kwargs):
        group = popargs("group", kwargs)
        from ._stores import get_store_path

        super().__init__(source=f"{get_store_path(group.store)}:{group.name}")
        self._group = group
        self._cache: dict | None = None

    def _read_spec_string(self, path: str) -> str:
        return text_of(self._group[path][()])

    def _read(self, path: str) -> dict:
        return json.loads(self._read_spec_string(path))

    def read_spec(self, spec_path: str) -> dict:
        return self._read(spec_path)

    def read_namespace(self, ns_path: str) -> list:
        if self._cache is None:
            self._cache = self._read(ns_path)
        return self._cache["namespaces"]


def warn_no_specs(where: str) -> None:
    warnings.warn(f"No cached namespaces found in {where}", UserWarning, stacklevel=3)
