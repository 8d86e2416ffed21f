"""Decode pickled chunks of legacy Zarr v2 files without running code.

hdmf-zarr <= 0.13 stored object references (and, in 0.8, text and timestamps) with the numcodecs
``pickle`` codec. Unpickling runs whatever callables the data names, so a crafted file could run code
on the reader's machine. :class:`SafeUnpickler` resolves only an explicit table of plain-data
callables (containers, numbers, text, datetimes, numpy arrays, dtypes and scalars) and refuses every
other global with :class:`UnsafePickleCodecError`. The table is looked up by name: no module is
imported on behalf of the data.
"""

from __future__ import annotations

import collections
import datetime
import io
import pickle
from typing import Any

import numpy as np

from ..errors import UnsafePickleCodecError  # noqa: F401  (raised here; importable from here as before)

__all__ = ["UnsafePickleCodecError", "SafeUnpickler", "LegacyReference", "unpickle"]


class LegacyReference(dict):
    """Stand-in for hdmf-zarr <= 0.13's ``ZarrReference`` (a dict of source, path and object ids)."""


def _numpy_multiarray(name: str) -> Any:
    from numpy._core import multiarray

    return getattr(multiarray, name)


def _numpy_frombuffer() -> Any:
    from numpy._core import numeric

    return numeric._frombuffer


def _plain_data_table() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {}
    for kind in (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, complex, bool):
        table[("builtins", kind.__name__)] = kind
        table[("__builtin__", kind.__name__)] = kind  # protocol 0-2 pickles name the Python 2 module
    table[("__builtin__", "unicode")] = str
    table[("__builtin__", "long")] = int
    for kind in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta, datetime.timezone):
        table[("datetime", kind.__name__)] = kind
    table[("collections", "OrderedDict")] = collections.OrderedDict
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "_reconstruct")] = _numpy_multiarray("_reconstruct")
        table[(module, "scalar")] = _numpy_multiarray("scalar")
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(module, "_frombuffer")] = _numpy_frombuffer()
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    for name in dir(np.dtypes):  # numpy >= 1.25 pickles dtypes by their class, e.g. numpy.dtypes.Float64DType
        kind = getattr(np.dtypes, name)
        if isinstance(kind, type) and issubclass(kind, np.dtype):
            table[("numpy.dtypes", name)] = kind
    table[("hdmf_zarr.utils", "ZarrReference")] = LegacyReference
    table[("_codecs", "encode")] = _latin1_encode  # how protocols 0-2 spell bytes
    for module in ("copyreg", "copy_reg"):  # protocols 0-1; only allowed classes can reach it
        table[(module, "_reconstructor")] = _reconstructor
    return table


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleCodecError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    import copyreg

    return copyreg._reconstructor(cls, base, state)


_ALLOWED = _plain_data_table()


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds plain data only; ``where`` names the dataset in its errors."""

    def __init__(self, data: bytes, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise UnsafePickleCodecError(
                f"The pickled data of '{self.where}' names '{module}.{name}', which is not plain data, so it "
                "was not unpickled (unpickling runs the code a file names). If you trust this file, read it "
                "with allow_pickle=True."
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleCodecError(f"The pickled data of '{self.where}' uses persistent ids; it was not unpickled.")


def unpickle(data: bytes | memoryview, where: str, allow_pickle: bool = False) -> Any:
    """Unpickle ``data`` (the chunk of dataset ``where``): plain data only unless ``allow_pickle``."""
    raw = bytes(data)
    if allow_pickle:
        return pickle.loads(raw)  # noqa: S301 - the user vouched for this file
    try:
        return SafeUnpickler(raw, where).load()
    except UnsafePickleCodecError:
        raise
    except Exception as err:
        raise ValueError(f"Cannot unpickle the data of '{where}': {type(err).__name__}: {err}") from err
