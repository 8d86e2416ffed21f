"""hdmf_zarr: a Zarr v3 storage backend for HDMF and NWB."""

from ._sharding import ShardingPolicy
from ._version import __version__
from .backend import ZarrIO
from .backend_zarrv2 import IncompleteConversionError, ZarrV2IO, is_zarr_v2_file
from .nwb import NWBZarrIO
from .nwb_zarrv2 import NWBZarrV2IO
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
