"""How ``hdmf-zarr info`` spells sizes, shapes, data types, codecs and values (plain text helpers)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def format_bytes(size: float) -> str:
    """Decimal units: 1 kB = 1000 bytes."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _ratio(logical: int, stored: int) -> str:
    return f"{logical / stored:.2f}x" if stored else "n/a"


def _shape_text(shape: Iterable[int]) -> str:
    shape = tuple(shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _itemsize(data_type: Any) -> int | None:
    import numpy as np

    if isinstance(data_type, dict):
        name, config = data_type.get("name"), data_type.get("configuration") or {}
        if name == "struct":
            sizes = [_itemsize(f.get("data_type")) for f in config.get("fields", [])]
            return None if any(s is None for s in sizes) else sum(sizes)
        if "length_bytes" in config:
            return int(config["length_bytes"])
        return None
    if not isinstance(data_type, str) or data_type in ("string", "bytes", "|O", "object"):
        return None
    try:
        dtype = np.dtype(data_type)
    except TypeError:
        return None
    return None if dtype.kind in "OT" else dtype.itemsize


def _dtype_text(data_type: Any, reference_fields: set[str] | frozenset[str] = frozenset()) -> str:
    """Short text for a data type; struct fields named in ``reference_fields`` show as ``ref``."""
    if isinstance(data_type, dict):
        name, config = data_type.get("name"), data_type.get("configuration") or {}
        if name == "struct":
            fields = ", ".join(
                f"{f.get('name')}: {'ref' if f.get('name') in reference_fields else _dtype_text(f.get('data_type'))}"
                for f in config.get("fields", [])
            )
            return "{" + fields + "}"
        if name == "fixed_length_utf32" and "length_bytes" in config:
            return f"U{int(config['length_bytes']) // 4}"
        return str(name)
    if isinstance(data_type, list):  # v2 structured dtype
        return "{" + ", ".join(f"{f[0]}: {f[1]}" for f in data_type) + "}"
    return str(data_type)


def _codec_text(name: str, config: dict[str, Any]) -> str:
    if name == "bytes":
        return "" if config.get("endian", "little") == "little" else f"bytes({config['endian']})"
    if name in ("vlen-utf8", "vlen-bytes", "crc32c"):
        return name
    if name in ("blosc", "numcodecs.blosc"):
        shuffle = config.get("shuffle")
        shuffle = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: "autoshuffle"}.get(shuffle, shuffle)
        return f"blosc({config.get('cname', '?')}:{config.get('clevel', '?')},{shuffle})"
    if name in ("zstd", "numcodecs.zstd"):
        return f"zstd({config.get('level', 0)})"
    if name in ("gzip", "zlib", "numcodecs.gzip", "numcodecs.zlib"):
        return f"{name.removeprefix('numcodecs.')}({config.get('level', '?')})"
    if name == "transpose":
        return f"transpose{tuple(config.get('order', ()))}"
    short = name.removeprefix("numcodecs.")
    values = ",".join(f"{k}={v}" for k, v in config.items() if not isinstance(v, (dict, list)))
    return f"{short}({values})" if values else short


def _preview(value: Any, limit: int = 48) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _can_print_unicode() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "├─│└".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
