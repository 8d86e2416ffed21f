"""Cached specifications inside a store: plan them for writing, load them from a StoreIndex."""

from __future__ import annotations

from typing import Any

import numpy as np
from hdmf.spec import NamespaceCatalog

from ._convention import DEFAULT_SPEC_LOC_DIR, SPEC_LOC_ATTR, spec_location
from ._dtypes import STRING_DTYPE
from ._specs import load_into_catalog, namespace_documents, text_of, warn_no_specs
from ._write.plan import ArrayNode, GroupNode, InMemory, WritePlan, join_key


def add_spec_nodes(plan: WritePlan, catalog: NamespaceCatalog, existing: dict[str, Any]) -> None:
    """Add the cached-spec group and documents of every namespace in ``catalog`` to ``plan``.

    Namespace versions already cached in the store are left as they are.
    """
    root = plan.groups.get("")
    current = existing.get("")
    specloc = spec_location(dict(current.attributes)) if current is not None else None
    if specloc is None and root is not None:
        specloc = spec_location(root.attributes)
    if specloc is None:
        specloc = DEFAULT_SPEC_LOC_DIR
        if root is None:
            root = plan.groups[""] = GroupNode(key="", exists=True)
        root.attributes[SPEC_LOC_ATTR] = specloc
    for key in (specloc,):
        plan.groups.setdefault(key, GroupNode(key=key, exists=key in existing))
    for ns_version, documents in namespace_documents(catalog).items():
        group_key = join_key(specloc, ns_version)
        if group_key in existing:
            continue
        ns_key = group_key.rsplit("/", 1)[0]
        plan.groups.setdefault(ns_key, GroupNode(key=ns_key, exists=ns_key in existing))
        plan.groups[group_key] = GroupNode(key=group_key)
        for name, text in documents.items():
            values = np.empty((), dtype=STRING_DTYPE)
            values[()] = text
            plan.add_array(ArrayNode(join_key(group_key, name), (), STRING_DTYPE, {}, {}, InMemory(values)))


def cached_versions(index: Any, specloc: str) -> dict[str, list[str]]:
    """``{namespace: [cached versions]}`` from the node index."""
    out: dict[str, list[str]] = {}
    for ns_key in index.children.get(specloc, []):
        if index.is_group(ns_key):
            out[ns_key.rsplit("/", 1)[-1]] = [
                v.rsplit("/", 1)[-1] for v in index.children.get(ns_key, []) if index.is_group(v)
            ]
    return {name: versions for name, versions in out.items() if versions}


def load_namespaces_from_index(catalog: Any, index: Any, where: str, namespaces: list[str] | None) -> dict:
    """Load the newest cached version of each namespace in ``index`` into ``catalog``."""
    specloc = spec_location(index.attributes(""))
    if specloc is None or specloc not in index.nodes:
        warn_no_specs(where)
        return {}
    versions = cached_versions(index, specloc)
    from ._specs import newest_version

    wanted = namespaces if namespaces is not None else list(versions)
    doc_keys = [
        key
        for name in wanted
        if name in versions
        for key in index.children.get(f"{specloc}/{name}/{newest_version(versions[name])}", [])
    ]
    texts = {key: text_of(value) for key, value in index.fetch_scalars(doc_keys).items()}

    def fetch(name: str, version: str, document: str) -> str:
        key = f"{specloc}/{name}/{version}/{document}"
        if key not in texts:
            texts[key] = text_of(index.fetch_scalars([key])[key])
        return texts[key]

    return load_into_catalog(catalog, versions, fetch, where, namespaces)
