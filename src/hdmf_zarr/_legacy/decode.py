"""Decode Zarr v2 arrays by hand, chunk by chunk, into in-memory numpy arrays.

zarr-python 3 cannot open v2 arrays whose codecs hold Python objects (``pickle``, ``json2``,
``msgpack2``), structured dtypes with object fields, or ``vlen-bytes`` arrays with the integer fill
value hdmf-zarr <= 0.13 wrote. This module reads their ``.zarray`` document and raw chunks itself:
the compressor is undone first, then the filters in reverse order, and each chunk lands in place in
the result. Pickled chunks go through the safe unpickler unless the caller allows pickle.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numcodecs
import numpy as np
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from .safe_pickle import UnsafePickleCodecError, unpickle

__all__ = [
    "OBJECT_CODECS",
    "numpy_dtype",
    "codec_ids",
    "zarr_cannot_read",
    "fill_value",
    "chunk_keys",
    "fetch_chunks",
    "decode_chunk",
    "decode_array",
]

#: numcodecs codecs whose encoded form holds Python objects (zarr-python 3 does not decode them)
OBJECT_CODECS = frozenset({"pickle", "json2", "msgpack2", "vlen-array"})


def numpy_dtype(spec: Any) -> np.dtype:
    """The numpy dtype of a ``.zarray`` ``dtype`` entry (a type string or a list of structured fields)."""
    if isinstance(spec, list):
        return np.dtype([(field[0], numpy_dtype(field[1]), *field[2:]) for field in spec])
    return np.dtype(spec)


def codec_ids(zarray: Mapping[str, Any]) -> list[str]:
    """The ids of an array's filters and compressor, in the order they were applied when writing."""
    codecs = [*(zarray.get("filters") or []), zarray.get("compressor")]
    return [codec["id"] for codec in codecs if codec]


def zarr_cannot_read(zarray: Mapping[str, Any]) -> bool:
    """True for arrays zarr-python 3 cannot read well: object codecs, object fields, and vlen-bytes.

    zarr 3.4 fails on vlen-bytes arrays with the integer fill value hdmf-zarr wrote, and returns nested
    0-d arrays for single elements of the others.
    """
    ids = codec_ids(zarray)
    if OBJECT_CODECS.intersection(ids) or "vlen-bytes" in ids:
        return True
    dtype = numpy_dtype(zarray["dtype"])
    return bool(dtype.names and dtype.hasobject)


def fill_value(zarray: Mapping[str, Any], dtype: np.dtype) -> Any:
    """The value of elements no chunk covers: the declared fill for numbers, None for objects."""
    value = zarray.get("fill_value")
    if dtype.hasobject:
        return 0 if dtype.names else (value if isinstance(value, (str, bytes)) else None)
    if value is None:
        return np.zeros((), dtype=dtype)[()]
    if isinstance(value, str) and (dtype.names or dtype.kind in "SVU"):
        try:
            return np.frombuffer(base64.b64decode(value), dtype=dtype)[0]
        except (ValueError, IndexError):
            return np.zeros((), dtype=dtype)[()]
    if isinstance(value, str) and dtype.kind in "fc":
        return float(value)  # "NaN", "Infinity", "-Infinity"
    return value


def _grid(zarray: Mapping[str, Any]) -> list[tuple[int, ...]]:
    shape, chunks = zarray["shape"], zarray["chunks"]
    return list(itertools.product(*(range(math.ceil(s / c)) for s, c in zip(shape, chunks))))


def chunk_keys(key: str, zarray: Mapping[str, Any]) -> dict[tuple[int, ...], str]:
    """``{chunk index: store key}`` of every chunk of the array stored at ``key``."""
    if not zarray["shape"]:
        return {(): f"{key}/0"}
    separator = zarray.get("dimension_separator") or "."
    prefix = f"{key}/" if key else ""
    return {index: prefix + separator.join(map(str, index)) for index in _grid(zarray)}


def fetch_chunks(store: Store, keys: Iterable[str]) -> dict[str, bytes | None]:
    """The raw bytes of ``keys`` (None where absent), fetched concurrently."""
    keys = list(keys)
    prototype = default_buffer_prototype()

    async def one(key: str) -> bytes | None:
        buffer = await store.get(key, prototype=prototype)
        return None if buffer is None else buffer.to_bytes()

    async def every() -> list[bytes | None]:
        return await asyncio.gather(*(one(key) for key in keys))

    return dict(zip(keys, sync(every()))) if keys else {}


def _decoders(zarray: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Codec configurations in decoding order: the compressor, then the filters in reverse."""
    compressor = zarray.get("compressor")
    return ([compressor] if compressor else []) + list(reversed(zarray.get("filters") or []))


def decode_chunk(raw: bytes, zarray: Mapping[str, Any], where: str, allow_pickle: bool = False) -> np.ndarray:
    """One chunk's raw bytes -> an array of the chunk's shape."""
    dtype = numpy_dtype(zarray["dtype"])
    value: Any = raw
    for config in _decoders(zarray):
        if config["id"] == "pickle":
            value = unpickle(value, where, allow_pickle)
        else:
            try:
                codec = numcodecs.get_codec(dict(config))
            except (ValueError, ImportError) as err:
                raise ValueError(f"'{where}' uses the codec {config['id']!r}, which is not available: {err}") from err
            value = codec.decode(value)
    if isinstance(value, np.ndarray) and (value.dtype.hasobject or dtype.hasobject):
        array = value
    elif isinstance(value, np.ndarray):  # raw bytes as uint8, or the output of a filter (Delta, ...)
        array = value.view(dtype) if value.dtype in (np.uint8, np.int8) else value.astype(dtype, copy=False)
    else:
        if dtype.hasobject:
            raise ValueError(f"'{where}' holds Python objects but its codecs decode to raw bytes")
        array = np.frombuffer(value, dtype=dtype)
    chunks = tuple(zarray["chunks"]) if zarray["shape"] else ()
    if array.size != math.prod(chunks):
        raise ValueError(f"a chunk of '{where}' holds {array.size} elements, expected {math.prod(chunks)}")
    return array.reshape(chunks, order=zarray.get("order") or "C")


def decode_array(
    store: Store,
    key: str,
    zarray: Mapping[str, Any],
    allow_pickle: bool = False,
    raw_chunks: Mapping[str, bytes | None] | None = None,
) -> np.ndarray:
    """The whole array stored at ``key``, decoded by hand (``raw_chunks`` may hold prefetched chunks)."""
    where = "/" + key
    dtype = numpy_dtype(zarray["dtype"])
    shape = tuple(zarray["shape"])
    out = np.empty(shape, dtype=dtype)
    if out.size == 0:
        return out
    keys = chunk_keys(key, zarray)
    raw_chunks = dict(raw_chunks or {})
    missing = [k for k in keys.values() if k not in raw_chunks]
    raw_chunks.update(fetch_chunks(store, missing))
    fill = fill_value(zarray, dtype)
    if any(raw_chunks[k] is None for k in keys.values()):
        out[...] = fill
    chunk_shape = tuple(zarray["chunks"])
    for index, chunk_key in keys.items():
        raw = raw_chunks[chunk_key]
        if raw is None:
            continue
        try:
            chunk = decode_chunk(raw, zarray, where, allow_pickle)
        except UnsafePickleCodecError:
            raise
        except Exception as err:
            raise ValueError(f"Cannot decode chunk '{chunk_key}' of '{where}': {type(err).__name__}: {err}") from err
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunk_shape, shape))
        out[region] = chunk[tuple(slice(0, r.stop - r.start) for r in region)]
    return out
