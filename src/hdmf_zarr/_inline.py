"""Scalars stored in their array's metadata: the value is the fill value, and no chunk is written.

A 0-d dataset written this way is a plain zarr array: any zarr reader gets the value back, because
a missing chunk reads as the fill value. The extra metadata field ``hdmf_zarr.inline_scalar``
(``{"must_understand": false}``, so other readers may ignore it) tells our reader that the value is
already in the metadata it has loaded, so opening a file costs no request per scalar.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._convention import INLINE_SCALAR_FIELD

#: longest text (in characters) stored inline; longer scalars get a chunk as usual
MAX_INLINE_TEXT = 1024
_FIELD_VALUE = {"must_understand": False}


def can_inline(shape: tuple[int, ...], values: Any, settings: dict[str, Any]) -> bool:
    """True for a 0-d number, bool or short text whose fill value the user did not choose."""
    if shape != () or "fill_value" in settings or not isinstance(values, np.ndarray):
        return False
    kind = values.dtype.kind
    if kind == "f" and np.isnan(values[()]):  # JSON's NaN token keeps neither the sign nor the payload bits
        return values.tobytes() == np.array(np.nan, dtype=values.dtype).tobytes()
    if kind in "biuf":
        return True
    if kind == "T":
        return len(str(values[()])) <= MAX_INLINE_TEXT
    return False


def inline(meta: Any, values: np.ndarray) -> Any:
    """``meta`` with ``values`` as its fill value and the marker field (``meta`` is a private copy)."""
    object.__setattr__(meta, "fill_value", meta.data_type.cast_scalar(values[()]))
    object.__setattr__(meta, "extra_fields", {**meta.extra_fields, INLINE_SCALAR_FIELD: dict(_FIELD_VALUE)})
    return meta


def is_inline(meta: Any) -> bool:
    return getattr(meta, "shape", None) == () and INLINE_SCALAR_FIELD in (getattr(meta, "extra_fields", None) or {})


def inline_value(meta: Any) -> np.ndarray:
    """The value of an inline scalar as a 0-d array (what reading its chunk would give)."""
    return np.asarray(meta.fill_value, dtype=meta.data_type.to_native_dtype())
