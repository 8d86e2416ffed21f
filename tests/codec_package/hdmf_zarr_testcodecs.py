"""Three tiny, reversible zarr v3 codecs known to zarr only through entry points (tests only).

- ``hdmf_zarr_test.negate``: an array-to-array filter that flips every bit of integer data;
- ``hdmf_zarr_test.xor-bytes``: an array-to-bytes serializer, little-endian bytes XOR 0x5A;
- ``hdmf_zarr_test.reverse``: a bytes-to-bytes "compressor" that reverses the byte order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from zarr.abc.codec import ArrayArrayCodec, BytesBytesCodec
from zarr.codecs import BytesCodec


@dataclass(frozen=True)
class NegateFilter(ArrayArrayCodec):
    is_fixed_size = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NegateFilter:
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {"name": "hdmf_zarr_test.negate"}

    def resolve_metadata(self, chunk_spec):
        return chunk_spec

    def _encode_sync(self, chunk_array, chunk_spec):
        return chunk_array.__class__.from_ndarray_like(~chunk_array.as_ndarray_like())

    def _decode_sync(self, chunk_array, chunk_spec):
        return chunk_array.__class__.from_ndarray_like(~chunk_array.as_ndarray_like())

    async def _encode_single(self, chunk_array, chunk_spec):
        return self._encode_sync(chunk_array, chunk_spec)

    async def _decode_single(self, chunk_array, chunk_spec):
        return self._decode_sync(chunk_array, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec) -> int:
        return input_byte_length


class XorBytesSerializer(BytesCodec):
    def to_dict(self) -> dict[str, Any]:
        return {"name": "hdmf_zarr_test.xor-bytes"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XorBytesSerializer:
        return cls()

    @staticmethod
    def _xor(buffer, chunk_spec):
        raw = np.frombuffer(buffer.as_buffer_like(), dtype=np.uint8) ^ 0x5A
        return chunk_spec.prototype.buffer.from_bytes(raw.tobytes())

    def _encode_sync(self, chunk_array, chunk_spec):
        return self._xor(super()._encode_sync(chunk_array, chunk_spec), chunk_spec)

    def _decode_sync(self, chunk_bytes, chunk_spec):
        return super()._decode_sync(self._xor(chunk_bytes, chunk_spec), chunk_spec)

    async def _encode_single(self, chunk_array, chunk_spec):
        return self._encode_sync(chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return self._decode_sync(chunk_bytes, chunk_spec)


@dataclass(frozen=True)
class ReverseCompressor(BytesBytesCodec):
    is_fixed_size = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReverseCompressor:
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {"name": "hdmf_zarr_test.reverse"}

    def _encode_sync(self, chunk_bytes, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(bytes(chunk_bytes.as_buffer_like())[::-1])

    def _decode_sync(self, chunk_bytes, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(bytes(chunk_bytes.as_buffer_like())[::-1])

    async def _encode_single(self, chunk_bytes, chunk_spec):
        return self._encode_sync(chunk_bytes, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return self._decode_sync(chunk_bytes, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec) -> int:
        return input_byte_length
