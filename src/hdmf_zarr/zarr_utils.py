"""Public names of the lazy reference datasets (``hdmf_zarr.zarr_utils``, as tools import them).

They live in the read path (``hdmf_zarr._read.references``); this module re-exports them.
"""

from ._read import references as _references
from ._read.references import *  # noqa: F403  (the public names, listed in __all__ there)

__all__ = list(_references.__all__)
