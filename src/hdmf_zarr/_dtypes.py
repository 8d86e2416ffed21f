"""HDMF spec dtypes <-> numpy/zarr data types, and JSON-safe attribute values."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from hdmf.build import Builder, DatasetBuilder, ReferenceBuilder
from hdmf.spec import DtypeSpec, RefSpec

from ._convention import (
    COMPOUND_DTYPE_MIN_STRING_LENGTH,
    attribute_reference,
    reference_path,
)
from .errors import UnresolvableDtypeError  # noqa: F401  (raised here; importable from here as before)

STRING_DTYPE = np.dtypes.StringDType()

#: storage type -> the spec dtype names that mean it; ``str`` marks variable-length text
_SPELLINGS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (np.float32, ("float", "float32")),
    (np.float64, ("double", "float64")),
    (np.int8, ("int8",)),
    (np.int16, ("short", "int16")),
    (np.int32, ("int", "int32")),
    (np.int64, ("long", "int64")),
    (np.uint8, ("uint8",)),
    (np.uint16, ("uint16",)),
    (np.uint32, ("uint", "uint32")),
    (np.uint64, ("uint64",)),
    (np.bool_, ("bool", "bool_")),
    (str, ("text", "utf", "utf8", "utf-8", "str", "ascii", "bytes", "string_", "isodatetime", "datetime")),
)

#: spec dtype name -> numpy scalar type (or ``str``)
SPEC_DTYPES: dict[str, Any] = {name: kind for kind, names in _SPELLINGS for name in names}

REFERENCE_NAMES = frozenset({"object", "ref", "reference", "region"})


def is_reference_dtype(dtype: Any) -> bool:
    """True for spec dtypes that hold object references."""
    if isinstance(dtype, RefSpec):
        return True
    if isinstance(dtype, DtypeSpec):
        return is_reference_dtype(dtype.dtype)
    if isinstance(dtype, Mapping):
        return "reftype" in dtype or "target_type" in dtype
    if isinstance(dtype, str):
        return dtype == DatasetBuilder.OBJECT_REF_TYPE or dtype in REFERENCE_NAMES
    return False


def is_compound_dtype(dtype: Any) -> bool:
    return isinstance(dtype, (list, tuple)) and len(dtype) > 0 and not isinstance(dtype, str)


def lookup_spec_dtype(dtype: Any) -> Any:
    """Map a spec dtype to a numpy type, ``str`` for text, or None when it names no storage type.

    Types and numpy dtypes pass through; references map to ``str`` (they are stored as paths).
    """
    if dtype is None:
        return None
    if isinstance(dtype, DtypeSpec):
        return lookup_spec_dtype(dtype.dtype)
    if is_reference_dtype(dtype):
        return str
    if isinstance(dtype, np.dtype):
        return dtype.type if dtype.kind not in "OTUS" else str
    if isinstance(dtype, type):
        return str if issubclass(dtype, (str, bytes)) else dtype
    if isinstance(dtype, str):
        return SPEC_DTYPES.get(dtype)
    if is_compound_dtype(dtype):
        return compound_dtype(dtype)
    raise UnresolvableDtypeError(f"Can't resolve dtype {dtype!r}")


def infer_type(data: Any) -> Any:
    """The Python or numpy scalar type of ``data``'s elements (first element of collections)."""
    if isinstance(data, (str, bytes)):
        return str
    if isinstance(data, (datetime.date, datetime.datetime)):
        return str
    dtype = getattr(data, "dtype", None)
    if isinstance(dtype, np.dtype):
        if dtype.kind in "OTUS":
            if dtype.kind == "O" and np.ndim(data) > 0 and np.size(data) > 0:
                return infer_type(np.asarray(data).flat[0])
            return str
        return dtype.type
    if np.ndim(data) == 0 and not isinstance(data, (list, tuple)):
        if isinstance(data, np.ndarray):
            return infer_type(data.item())
        return type(data)
    try:
        first = next(iter(data))
    except StopIteration:
        raise ValueError("cannot determine type for empty data") from None
    return infer_type(first)


def type_name(kind: Any) -> str:
    """The ``_DTYPE`` spelling of a resolved type."""
    if kind is str:
        return "str"
    if isinstance(kind, np.dtype):
        return kind.name
    return kind.__name__


def storage_dtype(kind: Any) -> np.dtype:
    return STRING_DTYPE if kind is str else np.dtype(kind)


def decode_utf8(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{where}: the value {value[:40]!r} is not valid UTF-8 and cannot be stored as Zarr text. "
            "Decode it to str (or store it as uint8 data) first; see "
            "https://github.com/hdmf-dev/hdmf-zarr/issues for text encoding questions."
        ) from err


def to_text(value: Any, where: str) -> str:
    if isinstance(value, bytes | np.bytes_):
        return decode_utf8(bytes(value), where)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return to_text(value.item(), where)
    return str(value)


def text_array(data: Any, where: str) -> np.ndarray:
    """Convert strings, bytes or datetimes (any nesting) into a StringDType array."""
    arr = np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
    if arr.dtype == STRING_DTYPE:
        return arr
    if arr.dtype.kind == "U":
        return arr.astype(STRING_DTYPE)
    flat = [to_text(v, where) for v in arr.reshape(-1)]
    out = np.empty(len(flat), dtype=STRING_DTYPE)
    out[:] = flat
    return out.reshape(arr.shape)


# ---------------------------------------------------------------- compound dtypes


def _field_name_and_dtype(field: Any) -> tuple[str, Any]:
    if isinstance(field, DtypeSpec):
        return field.name, field.dtype
    return field["name"], field["dtype"]


def compound_dtype(fields: Iterable[Any], data: Any = None) -> np.dtype:
    """A numpy structured dtype for spec compound fields; text/reference fields get ``U<n>``."""
    fields = list(fields)
    widths = _text_field_widths(fields, data)
    parts = []
    for index, field in enumerate(fields):
        name, dtype = _field_name_and_dtype(field)
        if is_compound_dtype(dtype):
            sub = _column(data, index, fields)
            parts.append((name, compound_dtype(dtype, sub)))
            continue
        kind = None
        try:
            kind = lookup_spec_dtype(dtype)
        except UnresolvableDtypeError:
            kind = None
        if kind is None:
            raise ValueError(f"Can't resolve dtype '{dtype}' for compound field '{name}'")
        if kind is str:
            parts.append((name, f"U{widths[index]}"))
        else:
            parts.append((name, np.dtype(kind)))
    return np.dtype(parts)


def _column(data: Any, index: int, fields: list[Any] | None = None) -> list[Any] | None:
    if data is None:
        return None
    if isinstance(data, np.ndarray) and data.dtype.names:
        return list(data.reshape(-1)[data.dtype.names[index]])
    if isinstance(data, (tuple, np.void)) and _is_record(data, fields):
        return [data[index]]
    try:
        return [row[index] for row in data]
    except (TypeError, IndexError, KeyError):
        return None


def _is_record(value: Any, fields: list[Any] | None = None) -> bool:
    """True when ``value`` is one compound record rather than a collection of records.

    With ``fields`` known, a tuple is a record when it has one item per field and only the items of
    nested compound fields are sequences (so a 0-d record with a nested compound is recognised).
    """
    if isinstance(value, np.void):
        return True
    if not isinstance(value, tuple):
        return False
    if fields is None:
        return not any(isinstance(v, (list, tuple)) for v in value)
    if len(value) != len(fields):
        return False
    return all(
        is_compound_dtype(_field_name_and_dtype(field)[1]) or not isinstance(item, (list, tuple, np.ndarray))
        for item, field in zip(value, fields)
    )


def _text_field_widths(fields: list[Any], data: Any) -> dict[int, int]:
    widths = {}
    for index in range(len(fields)):
        column = _column(data, index, fields) or []
        longest = max((len(_field_text(v)) for v in column), default=0)
        widths[index] = max(COMPOUND_DTYPE_MIN_STRING_LENGTH, longest)
    return widths


def _field_text(value: Any) -> str:
    if isinstance(value, (ReferenceBuilder, Builder)):
        return reference_path(value.builder if isinstance(value, ReferenceBuilder) else value)
    if value is None:
        return ""
    if isinstance(value, dict):
        import json

        return json.dumps(value)
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def reference_field_names(fields: Iterable[Any]) -> list[str]:
    names = []
    for field in fields:
        name, dtype = _field_name_and_dtype(field)
        if is_reference_dtype(dtype):
            names.append(name)
    return names


def compound_array(fields: list[Any], data: Any, where: str) -> np.ndarray:
    """Build the structured array stored for a compound dataset (references become paths)."""
    dtype = compound_dtype(fields, data)
    if isinstance(data, np.ndarray) and data.dtype.names and not _needs_row_conversion(data.dtype):
        return data.astype(dtype)
    if _is_record(data, fields) or (isinstance(data, np.ndarray) and data.ndim == 0):
        return np.array(_convert_record(data, dtype, where), dtype=dtype)
    rows = [_convert_record(row, dtype, where) for row in data]
    return np.array(rows, dtype=dtype)


def _needs_row_conversion(dtype: np.dtype) -> bool:
    return any(dtype[name].kind in "OS" for name in dtype.names)


def _convert_record(row: Any, dtype: np.dtype, where: str) -> tuple:
    if isinstance(row, np.ndarray) and row.ndim == 0:
        row = row[()]  # a 0-d structured array: its one record
    values = []
    for index, name in enumerate(dtype.names):
        field_dtype = dtype[name]
        value = row[index]
        if field_dtype.names:
            values.append(_convert_record(value, field_dtype, where))
        elif field_dtype.kind == "U":
            values.append(
                _field_text(value) if not isinstance(value, bytes | np.bytes_) else decode_utf8(bytes(value), where)
            )
        else:
            values.append(value)
    return tuple(values)


def compound_builder_dtype(dtype: np.dtype, reference_fields: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The builder-side compound dtype list read back from a structured zarr dtype."""
    refs = set(reference_fields)
    out = []
    for name in dtype.names:
        sub = dtype[name]
        if sub.names:
            out.append({"name": name, "dtype": compound_builder_dtype(sub)})
        elif name in refs:
            out.append({"name": name, "dtype": DatasetBuilder.OBJECT_REF_TYPE})
        else:
            out.append({"name": name, "dtype": sub.type.__name__})
    return out


# ---------------------------------------------------------------- attributes


def json_safe_attribute(key: str, value: Any, where: str) -> Any:
    """Convert one attribute value to what the convention stores in JSON.

    Raises TypeError naming the attribute and object when the value has no JSON form.
    """
    if isinstance(value, ReferenceBuilder):
        return attribute_reference(reference_path(value.builder))
    if isinstance(value, Builder):
        return attribute_reference(reference_path(value))
    try:
        return _json_value(value)
    except _NotJsonable as err:
        raise TypeError(
            f"Cannot store attribute '{key}' on '{where}': {err}. Attribute values must be numbers, "
            "strings, booleans, or (nested) lists of them, or a single object reference."
        ) from None


class _NotJsonable(Exception):
    pass


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotJsonable(f"bytes {value[:40]!r} are not valid UTF-8") from None
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "V":
            raise _NotJsonable("compound (structured) arrays have no JSON form")
        return _json_value(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = _ordered(value) if isinstance(value, (set, frozenset)) else value
        out = []
        for item in items:
            if isinstance(item, (Builder, ReferenceBuilder)):
                raise _NotJsonable("lists of object references are not supported in attributes")
            out.append(_json_value(item))
        return out
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    raise _NotJsonable(f"a value of type {type(value).__name__} ({value!r:.60}) has no JSON form")


def _ordered(values: set | frozenset) -> list:
    try:
        return sorted(values)
    except TypeError:
        return list(values)
