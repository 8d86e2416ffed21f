"""Host (CPU) buffers for the values hdmf_zarr itself must hold in main memory.

With ``zarr.config.enable_gpu()`` zarr decodes into device memory (cupy). Numeric datasets read
through hdmf_zarr stay on the device; only what HDMF needs as Python values (scalars, text,
reference paths) and data we encode from numpy ourselves use host buffers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import zarr
from zarr.core.buffer import BufferPrototype, cpu

_HOST = {"buffer": "zarr.buffer.cpu.Buffer", "ndbuffer": "zarr.buffer.cpu.NDBuffer"}


def host_prototype() -> BufferPrototype:
    return cpu.buffer_prototype


def on_device() -> bool:
    """True when zarr is configured to decode into device (GPU) memory."""
    return "gpu" in str(zarr.config.get("buffer", "")).lower()


@contextmanager
def host_buffers() -> Iterator[None]:
    """Decode into host memory inside this block, whatever zarr's buffer configuration."""
    if not on_device():
        yield
        return
    with zarr.config.set(_HOST):
        yield
