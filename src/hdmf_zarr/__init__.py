"""hdmf_zarr: a Zarr v3 storage backend for HDMF and NWB."""

from ._version import __version__
from .backend import ZarrIO
from .nwb import NWBZarrIO
from .utils import ZarrDataIO

__all__ = ["ZarrIO", "ZarrDataIO", "NWBZarrIO", "__version__"]
