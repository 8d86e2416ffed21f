"""Arrays as the reader hands them to HDMF: a zarr.Array that also speaks zarr 2 and HDMF dataset idioms,
the stored reference value type, and the width check of compound text fields.

Reading a chunk whose bytes do not decode (a truncated or overwritten chunk) raises ``DamagedFileError``
naming the store, the dataset and the chunk: the array's codec pipeline is wrapped in a ``DecodeGuard``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import zarr
from hdmf.utils import docval, getargs
from zarr.core.array import AsyncArray
from zarr.core.config import config as zarr_config

from .._buffers import host_buffers
from .._dtypes import STRING_DTYPE
from .._legacy.codecs import zarr2_compressor, zarr2_filters
from .._stores import get_store_path
from ..errors import DamagedFileError, MissingCodecError

__all__ = ["DecodeGuard", "HDMFZarrArray", "ZarrReference", "check_compound_widths", "guard_decoding"]

#: top-level modules whose exceptions mean the store did not answer (not that a chunk is damaged)
_STORE_ERROR_MODULES = frozenset(
    "aiohttp botocore aiobotocore obstore fsspec s3fs gcsfs adlfs requests urllib3 httpx google azure".split()
)


class DecodeGuard:
    """A codec pipeline that turns a chunk that does not decode into ``DamagedFileError``.

    It delegates everything to the array's own pipeline. When a read fails, the chunks of that read are
    fetched and decoded again one by one: the first whose stored bytes do not decode is the damaged one,
    and the error names it, its dataset and its store. Errors that are not about a chunk's bytes (a store
    that does not answer, a codec that is not installed, a bad selection, which fails before any chunk
    is read) come through unchanged.
    """

    def __init__(self, inner: Any, store: Any, path: str) -> None:
        self.inner = inner
        self.store = store
        self.path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "inner" not in self.__dict__:  # pickling looks up dunders before state
            raise AttributeError(name)
        return getattr(self.__dict__["inner"], name)

    def __iter__(self) -> Any:
        return iter(self.inner)

    def __repr__(self) -> str:
        return f"DecodeGuard({self.inner!r})"

    async def read(self, batch_info: Any, out: Any, drop_axes: tuple[int, ...] = ()) -> Any:
        batch = list(batch_info)
        try:
            return await self.inner.read(batch, out, drop_axes)
        except (MissingCodecError, DamagedFileError):
            raise
        except Exception as err:
            if _is_store_error(err):  # the store did not answer: asking it again for every chunk would not help
                raise
            chunk = await self._damaged_chunk(batch, out, drop_axes)
            if chunk is None:
                raise
            raise self.error(chunk, err) from err

    def error(self, chunk_key: str, err: BaseException) -> DamagedFileError:
        """The error for the stored chunk ``chunk_key`` (a full store key) that failed with ``err``."""
        location = get_store_path(self.store)
        prefix = f"{self.path}/" if self.path else ""
        chunk = chunk_key[len(prefix) :] if chunk_key.startswith(prefix) else chunk_key
        text = " ".join(str(err).split())
        reason = f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__
        return DamagedFileError(
            f"Cannot read chunk '{chunk}' of the dataset '/{self.path}' in '{location}': its stored bytes do not "
            f"decode with the dataset's codecs ({reason}). The file is damaged: restore '{chunk_key}' from a "
            f"backup, or run `hdmf-zarr verify {location}` to list every damaged object."
        )

    async def _damaged_chunk(self, batch: list[Any], out: Any, drop_axes: tuple[int, ...]) -> str | None:
        """The store key of the first chunk of ``batch`` that does not decode, or None when they all do."""
        partial = bool(getattr(self.inner, "supports_partial_decode", False))
        limit = asyncio.Semaphore(max(1, int(zarr_config.get("async.concurrency") or 1)))
        found: list[tuple[int, str]] = []

        async def check(index: int, item: tuple[Any, ...]) -> None:
            if found:
                return
            async with limit:
                if found:
                    return
                if await (self._fails_partial(item, out, drop_axes) if partial else self._fails(item)):
                    found.append((index, str(item[0].path)))

        await asyncio.gather(*(check(index, item) for index, item in enumerate(batch)))
        return min(found)[1] if found else None

    async def _fails(self, item: tuple[Any, ...]) -> bool:
        """True when the stored bytes of the chunk of ``item`` are there but do not decode."""
        byte_getter, spec = item[0], item[1]
        try:
            buffer = await byte_getter.get(prototype=spec.prototype)
        except Exception:  # noqa: BLE001 - the store failed, not the chunk: the caller re-raises the original
            return False
        if buffer is None:
            return False
        try:
            await self.inner.decode([(buffer, spec)])
        except MissingCodecError:
            return False
        except Exception:  # noqa: BLE001 - any codec's own error type
            return True
        return False

    async def _fails_partial(self, item: tuple[Any, ...], out: Any, drop_axes: tuple[int, ...]) -> bool:
        """Like ``_fails`` for pipelines that read parts of a chunk (sharding): the chunk is read again alone."""
        try:
            await self.inner.read([item], out, drop_axes)
        except MissingCodecError:
            return False
        except Exception as err:  # noqa: BLE001 - any codec's own error type
            return not _is_store_error(err)
        return False


def _is_store_error(err: BaseException) -> bool:
    """True for errors of the store or the network (an OSError the system raised, a client library's error)."""
    if isinstance(err, ConnectionError | TimeoutError | PermissionError | FileNotFoundError):
        return True
    if isinstance(err, OSError) and err.errno is not None:
        return True
    return type(err).__module__.split(".")[0] in _STORE_ERROR_MODULES


def guard_decoding(array: AsyncArray) -> AsyncArray:
    """``array`` with its codec pipeline wrapped in a :class:`DecodeGuard` (once), so damaged chunks are named."""
    pipeline = array.codec_pipeline
    if not isinstance(pipeline, DecodeGuard):
        guard = DecodeGuard(pipeline, array.store_path.store, array.store_path.path)
        object.__setattr__(array, "codec_pipeline", guard)  # zarr sets it the same way (a frozen dataclass)
    return array


def check_compound_widths(values: np.ndarray, stored: np.dtype, where: str) -> None:
    """Raise ValueError when a text field of ``values`` is longer than ``stored`` can hold."""
    if not values.dtype.names:
        return
    for name in stored.names:
        if stored[name].kind != "U" or name not in values.dtype.names:
            continue
        capacity = stored[name].itemsize // 4
        longest = max((len(str(v)) for v in values[name].reshape(-1)), default=0)
        if longest > capacity:
            raise ValueError(
                f"Cannot write to the compound dataset '{where}': a value in field '{name}' needs {longest} "
                f"characters but the existing dataset stores at most {capacity} in that field. Export the "
                "file to a new one with the longer values instead (a new file sizes the field to fit)."
            )


class ZarrReference(dict):
    """An object reference as stored by the convention: ``{"source": ..., "path": ...}``."""

    __module__ = "hdmf_zarr.utils"  # its public name, the one pickles (legacy v2 files among them) use

    @docval(
        {"name": "source", "type": str, "doc": "store of the target ('.' for this one)", "default": None},
        {"name": "path", "type": str, "doc": "absolute in-store path of the target", "default": None},
    )
    def __init__(self, **kwargs):
        source, path = getargs("source", "path", kwargs)
        super().__init__(source=source, path=path)

    @property
    def source(self) -> str | None:
        return self["source"]

    @source.setter
    def source(self, value: str | None) -> None:
        self["source"] = value

    @property
    def path(self) -> str | None:
        return self["path"]

    @path.setter
    def path(self, value: str | None) -> None:
        self["path"] = value


def _pythonic(result: Any) -> Any:
    if isinstance(result, np.ndarray):
        if result.dtype == STRING_DTYPE:
            result = result.astype(object)
        if result.ndim == 0:
            return result[()]
    return result


class WriteHooks(NamedTuple):
    """What an array read for writing tells its IO: a change begins (``begin``), a change raised (``failed``)."""

    begin: Callable[[], None]
    failed: Callable[[], None]


class HDMFZarrArray(zarr.Array):
    """A zarr.Array as HDMF expects datasets to behave: ``len``, iteration, text as Python ``str``.

    The reader switches arrays to this class in place, so wrapping costs nothing. Every read goes through
    ``async_array``, whose codec pipeline is guarded: a chunk that does not decode raises ``DamagedFileError``.
    """

    @property
    def async_array(self) -> AsyncArray:
        return guard_decoding(self._async_array)

    @property
    def dtype(self) -> np.dtype:
        real = super().dtype
        return np.dtype(object) if real == STRING_DTYPE else real

    @property
    def compressor(self) -> Any:
        """zarr 2's ``Array.compressor``: the compressor as a numcodecs codec, or None when uncompressed.

        zarr 3 deprecates it and raises for Zarr v3 arrays; tools written for zarr 2 (nwbinspector's compression
        checks, neuroconv's backend configuration) still read it. For a v3 array it is the last compressor that
        compresses (not a checksum), as a numcodecs codec where one exists, else the zarr v3 codec itself.
        ``compressors`` gives all of them, as zarr v3 codecs.
        """
        if self.metadata.zarr_format == 2:
            return self.metadata.compressor
        return zarr2_compressor(self.compressors)

    @property
    def filters(self) -> Any:
        """zarr 2's ``Array.filters``: numcodecs codecs (the array-to-array ones, then the bytes-to-bytes ones
        before the compressor), or None. Tools written for zarr 2 (neuroconv's backend configuration) read it;
        ``async_array.filters`` and ``metadata`` give the zarr v3 codecs."""
        if self.metadata.zarr_format == 2:
            return self.metadata.filters
        return zarr2_filters(self.async_array.filters, self.async_array.compressors)

    @property
    def itemsize(self) -> int:
        """zarr 2's ``Array.itemsize``: bytes per element of :attr:`dtype`."""
        return self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        """Rows along the first axis, read one chunk row at a time (not one request per element)."""
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        step = max(1, self.chunks[0])
        for start in range(0, self.shape[0], step):
            yield from self[start : start + step]

    def __getitem__(self, selection: Any) -> Any:
        if self.async_array.dtype == STRING_DTYPE:
            with host_buffers():  # text has no device representation
                return _pythonic(super().__getitem__(selection))
        return _pythonic(super().__getitem__(selection))

    #: the writing IO's hooks (set on arrays read in modes 'a' and 'r+'), called around every change
    write_hooks: WriteHooks | None = None

    def __setitem__(self, selection: Any, value: Any) -> None:
        value = self._change(lambda: self._fit(value), None)
        self._change(lambda: super(HDMFZarrArray, self).__setitem__(selection, value), True)

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        data = self._change(lambda: self._fit(data), None)
        return self._change(lambda: super(HDMFZarrArray, self).append(data, axis=axis), True)

    def _change(self, step: Callable[[], Any], writes: bool | None) -> Any:
        """Run ``step`` of a change as part of the IO's edit: a step that ``writes`` marks the file first; a step
        that raises leaves the edit unfinished (when it had begun: the file keeps its mark)."""
        hooks = self.write_hooks
        if hooks is None:
            return step()
        if writes:
            hooks.begin()
        try:
            return step()
        except BaseException:
            hooks.failed()
            raise

    def _fit(self, value: Any) -> Any:
        """Refuse compound rows whose text would be truncated by the stored field width."""
        stored = self.async_array.dtype
        if not getattr(stored, "names", None):
            return value
        check_compound_widths(np.asarray(value), stored, "/" + self.path)
        return value

    def astype(self, dtype: Any) -> np.ndarray:
        """The values read into memory as ``dtype`` (HDMF calls this when a dtype must be widened on export)."""
        return np.asarray(self[...]).astype(dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("`copy=False` is not supported: reading a Zarr array always copies its data.")
        data = zarr.Array.__getitem__(self, ...)
        if isinstance(data, np.ndarray) and data.dtype == STRING_DTYPE:
            data = data.astype(object)
        data = np.asarray(data)
        return data if dtype is None else data.astype(dtype)
