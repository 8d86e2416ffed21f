"""zarr-python 2 era codec arguments (numcodecs codecs) as zarr v3 codecs, and back.

Code written for hdmf-zarr <= 0.13 passes ``ZarrDataIO(compressor=numcodecs.Blosc(...), filters=[...])``
and reads ``array.compressor``. Zarr v3 arrays take zarr v3 codecs, split by what they do: array-to-array
``filters``, one array-to-bytes ``serializer``, bytes-to-bytes ``compressors``. This module translates one spelling
into the other:

* :func:`to_v3` turns one numcodecs codec into its zarr v3 codec: zarr's native codec where the v3 specification has
  one (blosc, zstd, gzip, crc32c, vlen-utf8, vlen-bytes), else the numcodecs wrapper zarr ships
  (``zarr.codecs.numcodecs``, or ``numcodecs.zarr3`` with an older zarr).
* :func:`translate` applies the zarr 2 argument rules of ``ZarrDataIO`` and returns the v3 settings with a
  deprecation message that spells them.
* :func:`to_numcodecs` and :func:`zarr2_compressor` go back, for ``HDMFZarrArray.compressor``.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numcodecs
import zarr.codecs as zarr_codecs
from numcodecs.abc import Codec as NumcodecsCodec
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarr.codecs import BloscCodec, Crc32cCodec, GzipCodec, VLenBytesCodec, VLenUTF8Codec, ZstdCodec

__all__ = [
    "NOT_GIVEN",
    "is_numcodecs_codec",
    "spell",
    "to_numcodecs",
    "to_v3",
    "translate",
    "zarr2_compressor",
    "zarr2_filters",
]

#: numcodecs' Blosc shuffle ints and zarr's names; AUTOSHUFFLE (-1) has no name, zarr then picks by item size
_SHUFFLE_NAMES = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
_SHUFFLE_INTS = {name: number for number, name in _SHUFFLE_NAMES.items()}
_AUTOSHUFFLE = -1
#: codec ids of checksums: they protect data but do not compress it
_CHECKSUMS = {"crc32", "crc32c", "adler32", "fletcher32", "jenkins_lookup3"}
#: where zarr v3 wrappers of numcodecs codecs live, newest first
_WRAPPER_MODULES = ("zarr.codecs.numcodecs", "numcodecs.zarr3")


class _NotGiven:
    """Default of ``ZarrDataIO(compressor=...)``: tells "not passed" from an explicit ``None``."""

    def __repr__(self) -> str:
        return "<not given>"

    def __copy__(self) -> _NotGiven:
        return self  # docval copies defaults; the sentinel stays one object

    def __deepcopy__(self, memo: dict) -> _NotGiven:
        return self


NOT_GIVEN: Any = _NotGiven()


def is_numcodecs_codec(obj: Any) -> bool:
    return isinstance(obj, NumcodecsCodec)


# ------------------------------------------------------------------------------------------ numcodecs -> v3


def _blosc(codec: Any, config: dict[str, Any]) -> BloscCodec:
    cname = config.get("cname", "lz4")
    kwargs: dict[str, Any] = {
        "cname": cname.decode() if isinstance(cname, bytes) else cname,
        "clevel": config.get("clevel", 5),
        "blocksize": config.get("blocksize", 0),
    }
    shuffle = config.get("shuffle", 1)
    if shuffle != _AUTOSHUFFLE:
        if shuffle not in _SHUFFLE_NAMES:
            raise ValueError(f"ZarrDataIO: {codec!r} has an unknown blosc shuffle {shuffle!r}.")
        kwargs["shuffle"] = _SHUFFLE_NAMES[shuffle]
    typesize = config.get("typesize") or getattr(codec, "_typesize", None)
    if typesize:  # numcodecs >= 0.16 lets the typesize be fixed; by default both take the item size
        kwargs["typesize"] = int(typesize)
    return BloscCodec(**kwargs)


#: numcodecs codec id -> zarr's native v3 codec
_NATIVE = {
    "blosc": _blosc,
    "zstd": lambda codec, config: ZstdCodec(level=config.get("level", 0), checksum=bool(config.get("checksum"))),
    "gzip": lambda codec, config: GzipCodec(level=config.get("level", 1)),
    "crc32c": lambda codec, config: Crc32cCodec(),
    "vlen-utf8": lambda codec, config: VLenUTF8Codec(),
    "vlen-bytes": lambda codec, config: VLenBytesCodec(),
}


@functools.cache
def _wrapper_module() -> ModuleType | None:
    for name in _WRAPPER_MODULES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # numcodecs >= 0.17 deprecates numcodecs.zarr3
                return importlib.import_module(name)
        except ImportError:
            continue
    return None


@functools.cache
def _wrappers() -> dict[str, type]:
    """numcodecs codec id -> zarr v3 wrapper class, for the wrappers a module lists."""
    module = _wrapper_module()
    found: dict[str, type] = {}
    for name in dir(module) if module is not None else ():
        cls = getattr(module, name, None)
        codec_name = getattr(cls, "codec_name", None)
        if isinstance(cls, type) and isinstance(codec_name, str) and codec_name.startswith("numcodecs."):
            found.setdefault(codec_name.removeprefix("numcodecs."), cls)
    return found


def _wrapper_for(codec: Any, codec_id: str) -> type | None:
    """The wrapper class of numcodecs ``codec``: named like the codec's class, or found by its codec id.

    Looking up the class name also works with modules that resolve names lazily (numcodecs >= 0.17 makes
    ``numcodecs.zarr3`` a deprecated alias of ``zarr.codecs.numcodecs``).
    """
    module = _wrapper_module()
    if module is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cls = getattr(module, type(codec).__name__, None)
    if isinstance(cls, type) and getattr(cls, "codec_name", None) == f"numcodecs.{codec_id}":
        return cls
    return _wrappers().get(codec_id)


def to_v3(codec: Any) -> Any:
    """The zarr v3 codec equivalent to numcodecs ``codec``; TypeError naming the fix when there is none."""
    config = dict(codec.get_config())
    codec_id = config.pop("id", getattr(codec, "codec_id", None))
    native = _NATIVE.get(codec_id)
    if native is not None:
        return native(codec, config)
    if _wrapper_module() is None:
        raise TypeError(
            f"ZarrDataIO cannot translate numcodecs codec {codec!r} to zarr v3: neither zarr.codecs.numcodecs "
            "(zarr >= 3.1.3) nor numcodecs.zarr3 (numcodecs >= 0.14) is installed. Upgrade zarr, or pass zarr v3 "
            "codecs (compressors=[zarr.codecs.ZstdCodec()], filters=[...]) instead."
        )
    cls = _wrapper_for(codec, codec_id)
    if cls is None:
        raise TypeError(
            f"ZarrDataIO: numcodecs codec {codec!r} (id {codec_id!r}) has no zarr v3 equivalent, so it cannot be "
            "written to a Zarr v3 array. Pass zarr v3 codecs instead, for example compressors=[zarr.codecs."
            "ZstdCodec()] or a wrapper from zarr.codecs.numcodecs, or register a v3 codec of your own with "
            "zarr.registry.register_codec and pass an instance of it."
        )
    return cls(**config)


# ------------------------------------------------------------------------------------------ spelling


def _qualified(codec: Any) -> str:
    cls = type(codec)
    wrapper = hasattr(codec, "codec_config")  # zarr.codecs re-exports the wrappers: name them by their module
    for module in (_wrapper_module(), zarr_codecs) if wrapper else (zarr_codecs,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            found = getattr(module, cls.__name__, None) if module is not None else None
        if found is cls:
            return f"{module.__name__}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def spell(codec: Any) -> str:
    """Python source that builds zarr v3 ``codec``, e.g. ``zarr.codecs.ZstdCodec(level=3)``."""
    if hasattr(codec, "codec_config") and hasattr(codec, "codec_name"):  # a numcodecs wrapper
        config = {k: v for k, v in codec.codec_config.items() if k != "id"}
    elif hasattr(codec, "to_dict"):
        config = dict(codec.to_dict().get("configuration") or {})
        if isinstance(codec, BloscCodec):
            for name in getattr(codec, "_tunable_attrs", ()):  # left to zarr: it picks them from the dtype
                config.pop(name, None)
            if config.get("blocksize") == 0:
                config.pop("blocksize")
        if isinstance(codec, ZstdCodec) and not config.get("checksum"):
            config.pop("checksum", None)
    else:
        return repr(codec)
    arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
    return f"{_qualified(codec)}({arguments})"


def _spell_list(codecs: list[Any]) -> str:
    return "[" + ", ".join(spell(c) for c in codecs) + "]"


# ------------------------------------------------------------------------------------------ ZarrDataIO arguments


@dataclass
class Translation:
    """zarr v3 ``ZarrDataIO`` settings from arguments that may use the zarr 2 spelling."""

    compressors: Any = None  # None (zarr's default), True, False or a list of BytesBytesCodecs
    filters: list[Any] | None = None
    serializer: Any = None
    old: list[str] = field(default_factory=list)  # the zarr 2 spelled arguments, as source text
    new: dict[str, str] = field(default_factory=dict)  # their v3 spelling, by keyword

    @property
    def message(self) -> str | None:
        if not self.old:
            return None
        new = ", ".join(f"{key}={value}" for key, value in self.new.items())
        return f"ZarrDataIO({', '.join(self.old)}) is the zarr 2 spelling; use {new}"


def _classify(codec: Any, given: Any, role: str, out: Translation, bytes_filters: list[Any]) -> None:
    """Put ``codec``, translated from ``given`` in the zarr 2 ``role`` argument, where zarr v3 wants it."""
    if isinstance(codec, ArrayArrayCodec):
        if bytes_filters:
            raise ValueError(
                f"ZarrDataIO filters: array-to-array codec {spell(codec)} follows bytes-to-bytes codec "
                f"{spell(bytes_filters[-1])}; zarr v3 applies every array-to-array filter first, so reorder them."
            )
        out.filters = [*(out.filters or []), codec]
    elif isinstance(codec, ArrayBytesCodec):
        if out.serializer is not None:
            raise TypeError(f"ZarrDataIO: {given!r} and {out.serializer!r} both serialize the array; pass one.")
        out.serializer = codec
    elif isinstance(codec, BytesBytesCodec):
        bytes_filters.append(codec)
    else:
        raise TypeError(f"ZarrDataIO {role}: {given!r} is not a zarr v3 codec.")


def _zarr2_repr(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def translate(compressor: Any, compressors: Any, filters: Any, serializer: Any) -> Translation:
    """Apply the zarr 2 rules to ``ZarrDataIO`` codec arguments; return the zarr v3 settings.

    * ``compressor`` (a numcodecs codec, ``None`` or ``False``) is the zarr 2 keyword; it cannot be combined with
      ``compressors``.
    * numcodecs codecs in ``filters`` or ``compressors`` are translated by :func:`to_v3`; a bytes-to-bytes filter
      (numcodecs Shuffle, a checksum) runs before the compressors, as it did in zarr 2.
    * an array-to-bytes codec (numcodecs PCodec, ZFPY, VLenUTF8) becomes the ``serializer``.
    """
    out = Translation(compressors=compressors, serializer=serializer)
    if compressor is not NOT_GIVEN and compressors is not None:
        raise TypeError(
            "ZarrDataIO got both 'compressor' (the zarr 2 keyword) and 'compressors'; pass only "
            "compressors=[...] with zarr v3 codecs (or compressors=False for no compression)."
        )
    bytes_filters: list[Any] = []
    filters_changed = False
    if filters is not None:
        out.filters = []
        for codec in filters:
            if is_numcodecs_codec(codec):
                filters_changed = True
                _classify(to_v3(codec), codec, "filters", out, bytes_filters)
            else:
                out.filters.append(codec)  # zarr v3 codecs are checked by the caller
        if filters_changed:
            out.old.append(f"filters={_zarr2_repr(filters)}")
            out.filters = out.filters or None  # all of them became compressors or the serializer
    compressors_changed = bool(bytes_filters)
    if compressor is not NOT_GIVEN:
        compressors_changed = True
        out.old.insert(0, f"compressor={compressor!r}")
        if compressor is None or compressor is False:
            out.compressors = False
        elif is_numcodecs_codec(compressor) or isinstance(compressor, BytesBytesCodec):
            codec = to_v3(compressor) if is_numcodecs_codec(compressor) else compressor
            main: list[Any] = []
            # an array-to-array codec in zarr 2's compressor slot (numcodecs PackBits) is the last filter in v3
            filters_changed = filters_changed or isinstance(codec, ArrayArrayCodec)
            _classify(codec, compressor, "compressor", out, main)
            out.compressors = main or False  # an array-to-bytes compressor (ZFPY...) is the whole pipeline
        else:
            raise TypeError(
                f"ZarrDataIO compressor must be a numcodecs codec, None or False, got {compressor!r}; "
                "pass zarr v3 codecs as compressors=[...] instead."
            )
    elif compressors is not None and compressors is not True and compressors is not False:
        given = list(compressors) if isinstance(compressors, (list, tuple)) else [compressors]
        if any(is_numcodecs_codec(c) for c in given):
            compressors_changed = True
            out.old.append(f"compressors={_zarr2_repr(compressors)}")
            out.compressors = [to_v3(c) if is_numcodecs_codec(c) else c for c in given]
    if bytes_filters:
        if out.compressors is False:
            rest: list[Any] = []
        elif out.compressors is None or out.compressors is True:
            rest = [ZstdCodec()]  # zarr's default compressor, which zarr 2 would have applied after the filters
        else:
            rest = list(out.compressors) if isinstance(out.compressors, (list, tuple)) else [out.compressors]
        out.compressors = [*bytes_filters, *rest]
    if filters_changed and out.filters:
        out.new["filters"] = _spell_list(out.filters)
    if compressors_changed:
        out.new["compressors"] = _spell_list(out.compressors) if isinstance(out.compressors, list) else "False"
    if out.serializer is not serializer:  # a translated codec serializes (a given serializer is refused above)
        out.new["serializer"] = spell(out.serializer)
    return out


# ------------------------------------------------------------------------------------------ v3 -> numcodecs


def to_numcodecs(codec: Any) -> Any:
    """The numcodecs codec equivalent to zarr v3 ``codec``, or ``codec`` itself when there is none."""
    if type(codec) is BloscCodec:  # exact types: a subclass may encode differently
        return numcodecs.Blosc(
            cname=codec.cname, clevel=codec.clevel, shuffle=_SHUFFLE_INTS[codec.shuffle], blocksize=codec.blocksize
        )
    if type(codec) is ZstdCodec:
        return numcodecs.Zstd(level=codec.level, checksum=codec.checksum)
    if type(codec) is GzipCodec:
        return numcodecs.GZip(level=codec.level)
    if type(codec) is Crc32cCodec and hasattr(numcodecs, "CRC32C"):
        return numcodecs.CRC32C()
    config = _wrapped_config(codec)
    if config is not None:
        try:
            return numcodecs.get_codec(config)
        except (ValueError, TypeError, KeyError):  # not registered with numcodecs here
            return codec
    return codec


def _wrapped_config(codec: Any) -> dict[str, Any] | None:
    """The numcodecs configuration (with its ``id``) inside a numcodecs wrapper, else None."""
    config = getattr(codec, "codec_config", None)
    name = getattr(codec, "codec_name", None)
    if not isinstance(config, dict) or not isinstance(name, str) or not name.startswith("numcodecs."):
        return None
    return {"id": name.removeprefix("numcodecs."), **{k: v for k, v in config.items() if k != "id"}}


def _codec_id(codec: Any) -> str | None:
    if type(codec) is Crc32cCodec:
        return "crc32c"
    config = _wrapped_config(codec)
    return config["id"] if config is not None else None


def zarr2_compressor(compressors: tuple[Any, ...]) -> Any:
    """What zarr 2's ``Array.compressor`` was for a v3 array with these ``compressors``.

    The last codec that compresses (after bytes-to-bytes filters such as shuffle, before any checksum), as a
    numcodecs codec where one exists; a checksum when there is nothing else; None for no compressors.
    """
    index = _compressor_index(compressors)
    return None if index is None else to_numcodecs(compressors[index])


def _compressor_index(compressors: tuple[Any, ...]) -> int | None:
    if not compressors:
        return None
    compressing = [i for i, c in enumerate(compressors) if _codec_id(c) not in _CHECKSUMS]
    return compressing[-1] if compressing else len(compressors) - 1


def zarr2_filters(filters: tuple[Any, ...], compressors: tuple[Any, ...]) -> tuple[Any, ...]:
    """What zarr 2's ``Array.filters`` was for a v3 array: numcodecs codecs, or None when there are none.

    zarr 2 had a single compressor slot, so the bytes-to-bytes codecs that run before the compressor
    :func:`zarr2_compressor` picks (numcodecs Shuffle, ...) were filters there, after the array-to-array ones.
    Codecs after the compressor (checksums) have no place in zarr 2 and are left out.
    """
    index = _compressor_index(compressors)
    before = compressors[:index] if index is not None else ()
    return tuple(to_numcodecs(codec) for codec in (*filters, *before)) or None
