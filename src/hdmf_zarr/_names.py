"""Which names a store can hold: the node names Zarr v3 forbids, the ones our convention reserves, the
length a store allows, and the attribute names JSON cannot carry faithfully.

The planner checks every group, dataset and link name it is about to write, before anything touches the
store (see docs/convention.md §1). The length limit depends on the store, so it is handed in as a value.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import InvalidNameError

#: the longest name (UTF-8 bytes) of a file or folder where the file system does not say
DEFAULT_NAME_MAX = 255
#: the longest entry name of a zip file (a 16-bit field); a node's name can be no longer than that
ZIP_NAME_MAX = 0xFFFF

#: whole names that cannot be node names, and why
RESERVED_NAMES = {
    ".": "'.' means the group itself",
    "..": "'..' means the parent group",
    "zarr.json": "it is the name of the metadata document of the parent node",
    ".zgroup": "it is a Zarr v2 metadata document name",
    ".zarray": "it is a Zarr v2 metadata document name",
    ".zattrs": "it is a Zarr v2 metadata document name",
    ".zmetadata": "it is the Zarr v2 consolidated metadata document name",
}


def name_problem(name: Any, max_bytes: int | None = None) -> str | None:
    """Why ``name`` cannot be the name of a group, dataset or link, or None when it can.

    ``max_bytes`` is the longest name the store holds, in UTF-8 bytes (None: no limit).
    """
    if not isinstance(name, str):
        return f"a name must be text, not {type(name).__name__}"
    if name == "":
        return "the empty name is the node itself"
    if name in RESERVED_NAMES:
        return RESERVED_NAMES[name]
    if name.lower() == "zarr.json":  # the same file on case-insensitive file systems (macOS, Windows)
        return "on case-insensitive file systems it is the metadata document of the parent node"
    if "/" in name:
        return "'/' separates the names of a path"
    if "\\" in name:
        return (
            "zarr-python reads '\\' as a path separator (it opens 'a\\b' as 'a/b'), so no Zarr reader "
            "could open the node, and on Windows it is a folder separator"
        )
    if "\x00" in name:
        return "it contains a NUL character, which no file system or object store key can hold"
    if name.startswith("__"):
        return "names starting with '__' are reserved by the Zarr v3 specification"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode (it holds an unpaired surrogate), so it has no UTF-8 form"
    if max_bytes is not None and size > max_bytes:
        return f"it is {size} bytes long in UTF-8, and this store holds names of at most {max_bytes} bytes"
    return None


def check_node_name(name: Any, path: str, max_bytes: int | None = None) -> None:
    """Raise InvalidNameError naming the object at ``path`` when ``name`` cannot be a node name."""
    problem = name_problem(name, max_bytes)
    if problem is not None:
        raise InvalidNameError(
            f"Cannot write '{_printable(path)}': {_shown(name)} is not a valid Zarr node name ({problem}). "
            "Rename the object."
        )


def check_attribute_name(name: Any, where: str) -> None:
    """Attribute names are JSON keys: any text holds, except text JSON or HDF5 cannot carry back.

    A name that is not text raises TypeError (JSON would silently turn ``1`` into ``"1"``); a name with a NUL
    character or an unpaired surrogate raises InvalidNameError.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"Cannot write attribute {name!r} of '{_printable(where)}': attribute names must be text, not "
            f"{type(name).__name__} (JSON would store it as text). Rename the attribute."
        )
    problem = None
    if "\x00" in name:
        problem = "it contains a NUL character, which HDF5 and many JSON readers cannot hold"
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            problem = "it is not valid Unicode (it holds an unpaired surrogate), so it has no UTF-8 form"
    if problem is not None:
        raise InvalidNameError(
            f"Cannot write attribute {_shown(name)} of '{_printable(where)}': {problem}. Rename the attribute."
        )


def max_name_bytes(location: str | None) -> int | None:
    """The longest node name (UTF-8 bytes) the store at ``location`` holds, or None when it sets no limit.

    ``location`` is what ``_stores.store_location`` gives: a local folder (the file system's limit for one
    name, ``PC_NAME_MAX`` where the system tells it, else 255), a ``.zip`` file (65535), a URL or None
    (memory and object stores: no limit of their own on one name).
    """
    if location is None:
        return None
    if "://" in location:
        scheme, rest = location.split("://", 1)
        if scheme.lower() not in ("file", "local"):
            return None
        location = rest
    if os.path.isfile(location) or (location.lower().endswith(".zip") and not os.path.isdir(location)):
        return ZIP_NAME_MAX
    return _folder_name_max(location)


def _folder_name_max(folder: str) -> int:
    """``PC_NAME_MAX`` of the file system ``folder`` is (or will be) on: asked of its nearest existing folder."""
    existing = os.path.abspath(folder)
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            return DEFAULT_NAME_MAX
        existing = parent
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows) or no answer for this file system
        return DEFAULT_NAME_MAX
    return limit if isinstance(limit, int) and limit > 0 else DEFAULT_NAME_MAX


def _printable(text: str) -> str:
    """``text`` with control characters (NUL, newlines) spelled as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown(name: Any) -> str:
    """A name as an error message quotes it: long names are cut short."""
    if not isinstance(name, str):
        return repr(name)
    text = _printable(name)
    return f"'{text[:60]}...' ({len(text)} characters)" if len(text) > 80 else f"'{text}'"
