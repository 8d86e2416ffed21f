"""Public names of the lazy reference datasets (``hdmf_zarr.zarr_utils``, as tools import them).

They live in the read path (``hdmf_zarr._read.references``); this module re-exports them.
"""

from ._read.references import (
    AbstractZarrReferenceDataset,
    AbstractZarrTableDataset,
    BuilderResolverMixin,
    BuilderZarrReferenceDataset,
    BuilderZarrTableDataset,
    ContainerResolverMixin,
    ContainerZarrReferenceDataset,
    ContainerZarrTableDataset,
    DatasetOfReferences,
    ZarrDataset,
    is_reference_dtype,
)

__all__ = [
    "is_reference_dtype",
    "ZarrDataset",
    "DatasetOfReferences",
    "BuilderResolverMixin",
    "ContainerResolverMixin",
    "AbstractZarrTableDataset",
    "AbstractZarrReferenceDataset",
    "BuilderZarrTableDataset",
    "ContainerZarrTableDataset",
    "BuilderZarrReferenceDataset",
    "ContainerZarrReferenceDataset",
]
