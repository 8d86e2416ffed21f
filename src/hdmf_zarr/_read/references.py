"""Lazy datasets whose elements (or compound fields) are object references, resolved on access."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from hdmf.data_utils import append_data
from hdmf.query import BuilderResolver, ContainerResolver, HDMFDataset, ReferenceResolver
from hdmf.utils import docval, popargs

from .._dtypes import is_reference_dtype
from .arrays import check_compound_widths

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


class ZarrDataset(HDMFDataset):
    """A zarr array read through a ZarrIO."""

    @docval(
        {"name": "dataset", "type": None, "doc": "the zarr array"},
        {"name": "io", "type": "hdmf_zarr.backend.ZarrIO", "doc": "the IO that read the array"},
    )
    def __init__(self, **kwargs):
        io = popargs("io", kwargs)
        super().__init__(**kwargs)
        self._io = io

    @property
    def io(self):
        """The ZarrIO that read this dataset (used to resolve references)."""
        return self._io

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.dataset.shape)

    def __len__(self) -> int:
        return self.shape[0]


class DatasetOfReferences(ZarrDataset, ReferenceResolver):
    """A dataset whose stored paths resolve to Builders or Containers."""

    @abstractmethod
    def get_object(self, builder: Any) -> Any:
        """Map a resolved target builder to what this dataset returns."""

    def invert(self) -> DatasetOfReferences:
        inverted = getattr(self, "_inverted", None)
        if inverted is None:
            inverted = self.get_inverse_class()(**self._init_args())
            self._inverted = inverted
        return inverted

    def _init_args(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "io": self.io}

    def _get_ref(self, ref: Any) -> Any:
        return self.get_object(self.io._builder_for_reference(ref))

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def __next__(self):
        return self._get_ref(super().__next__())

    def append(self, container: Any) -> None:
        """Append a reference to an already written ``container``."""
        append_data(self.dataset, self.io._reference_path(container))


class BuilderResolverMixin(BuilderResolver):
    def get_object(self, builder: Any) -> Any:
        return builder


class ContainerResolverMixin(ContainerResolver):
    def get_object(self, builder: Any) -> Any:
        return self.io.manager.construct(builder)


class AbstractZarrTableDataset(DatasetOfReferences):
    """A compound dataset whose reference fields resolve on access."""

    @docval(
        {"name": "dataset", "type": None, "doc": "the zarr array"},
        {"name": "io", "type": "hdmf_zarr.backend.ZarrIO", "doc": "the IO that read the array"},
        {"name": "types", "type": (list, tuple), "doc": "the builder dtype of each field"},
    )
    def __init__(self, **kwargs):
        types = popargs("types", kwargs)
        super().__init__(**kwargs)
        self.__types = list(types)
        stored = np.dtype(self.dataset.dtype)
        self._ref_fields = [f["name"] for f in self.__types if is_reference_dtype(f["dtype"])]
        self._out_dtype = np.dtype(
            [(name, object if name in self._ref_fields else stored[name]) for name in stored.names]
        )
        self.__dtype = [
            "object"
            if name in self._ref_fields
            else ("utf" if stored[name].kind == "U" else stored[name].type.__name__)
            for name in stored.names
        ]

    def _init_args(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "io": self.io, "types": self.__types}

    @property
    def types(self) -> list:
        return self.__types

    @property
    def dtype(self) -> list:
        return self.__dtype

    def _resolve_rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(rows.shape, dtype=self._out_dtype)
        for name in rows.dtype.names:
            if name in self._ref_fields:
                column = out[name]
                for index, path in np.ndenumerate(rows[name]):
                    column[index] = self._get_ref(path if isinstance(path, dict) else str(path)) if path else None
            else:
                out[name] = rows[name]
        return out

    def __getitem__(self, selection: Any) -> Any:
        rows = np.asarray(self.dataset[selection])
        resolved = self._resolve_rows(rows)
        return resolved[()] if resolved.ndim == 0 else resolved

    def resolve(self, manager: Any) -> Any:
        return self[0 : len(self)]

    def append(self, row: Any) -> None:
        """Append one row; containers in reference fields are stored as their paths. A row refused here leaves the
        IO's edit unfinished when it had begun (other columns of the table may already hold the row)."""
        stored = self.dataset.async_array.dtype
        change = getattr(self.dataset, "_change", lambda step, writes: step())  # HDMFZarrArray's, else plain
        self.dataset.append(change(lambda: self._stored_row(row, stored), None))

    def _stored_row(self, row: Any, stored: np.dtype) -> np.ndarray:
        values = []
        for name, value in zip(stored.names, tuple(row)):
            if name in self._ref_fields and value is not None and not isinstance(value, str):
                value = self.io._reference_path(value)
            values.append("" if value is None and stored[name].kind == "U" else value)
        check_compound_widths(np.array([tuple(values)], dtype=_widened(stored)), stored, "/" + self.dataset.path)
        return np.array([tuple(values)], dtype=stored)


def _widened(dtype: np.dtype) -> np.dtype:
    """``dtype`` with text fields wide enough for any row (so a width check sees untruncated values)."""
    return np.dtype([(n, object if dtype[n].kind == "U" else dtype[n]) for n in dtype.names])


class AbstractZarrReferenceDataset(DatasetOfReferences):
    """A dataset of object references; items resolve to Builders or Containers."""

    def __getitem__(self, selection: Any) -> Any:
        stored = self.dataset[selection]
        if isinstance(stored, np.ndarray):
            return [self._get_ref(value) for value in stored.reshape(-1)]
        return self._get_ref(stored)

    @property
    def dtype(self) -> str:
        return "object"


class ContainerZarrTableDataset(ContainerResolverMixin, AbstractZarrTableDataset):
    @classmethod
    def get_inverse_class(cls):
        return BuilderZarrTableDataset


class BuilderZarrTableDataset(BuilderResolverMixin, AbstractZarrTableDataset):
    @classmethod
    def get_inverse_class(cls):
        return ContainerZarrTableDataset


class ContainerZarrReferenceDataset(ContainerResolverMixin, AbstractZarrReferenceDataset):
    @classmethod
    def get_inverse_class(cls):
        return BuilderZarrReferenceDataset


class BuilderZarrReferenceDataset(BuilderResolverMixin, AbstractZarrReferenceDataset):
    @classmethod
    def get_inverse_class(cls):
        return ContainerZarrReferenceDataset
