"""hdmf_zarr: a Zarr v3 storage backend for HDMF and NWB."""

from importlib import import_module
from typing import Any

from ._version import __version__
from ._write.sharding import ShardingPolicy
from .backend import ZarrIO
from .errors import IncompleteConversionError
from .nwb import NWBZarrIO
from .utils import ZarrDataIO

__all__ = [  # the v3 backend and its helpers first, then the legacy v2 names
    "NWBZarrIO",
    "ZarrIO",
    "ZarrDataIO",
    "ShardingPolicy",
    "__version__",
    "NWBZarrV2IO",
    "ZarrV2IO",
    "IncompleteConversionError",
    "is_zarr_v2_file",
]

#: the legacy Zarr v2 reader is imported on first use only
_LEGACY = {"ZarrV2IO": "backend_zarrv2", "is_zarr_v2_file": "backend_zarrv2", "NWBZarrV2IO": "nwb_zarrv2"}


def __getattr__(name: str) -> Any:
    if name in _LEGACY:
        return getattr(import_module(f".{_LEGACY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
