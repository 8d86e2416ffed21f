"""Pickled data in legacy Zarr v2 files is decoded without running code.

A crafted pickle whose ``__reduce__`` would create a file is planted in a v2 store, as a plain object
dataset and as a reference dataset. No read path runs it: opening, ``read()``, reading builders,
decoding the dataset directly, resolving a reference to it, and converting the file. Every path
refuses it with ``UnsafePickleCodecError`` naming the dataset and ``allow_pickle=True``, and only
``allow_pickle=True`` runs it (which proves the payload is real).
"""

from __future__ import annotations

import builtins
import datetime
import json
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zarr.storage import LocalStore

from _v2stores import (
    GROUP_COLUMN,
    LOCATION_COLUMN,
    SMALL_STORE,
    copy_store,
    edit_zarray,
    object_array,
    put_pickled_chunk,
)
from hdmf_zarr import NWBZarrIO, NWBZarrV2IO, ZarrV2IO
from hdmf_zarr._legacy.safe_pickle import LegacyReference, unpickle
from hdmf_zarr.backend_zarrv2 import UnsafePickleCodecError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class ShellPayload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch '{self.marker}'",)


class OpenPayload:
    """Unpickling this creates ``marker`` through ``builtins.open``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return builtins.open, (str(self.marker), "w")


PAYLOADS = [ShellPayload, OpenPayload]


# ---------------------------------------------------------------------------- the unpickler


PLAIN_DATA = [
    {"source": ".", "path": "/a", "object_id": None},
    [1, 2.5, "x", b"y", None, True, 1 + 2j],
    (1, (2, 3)),
    {1, 2},
    frozenset({3}),
    OrderedDict(a=1),
    datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
    datetime.date(2020, 1, 2),
    datetime.time(1, 2),
    datetime.timedelta(days=1),
    np.float32(1.5),
    np.int64(-3),
    np.dtype([("a", "<i4"), ("b", "O")]),
    np.arange(6, dtype="<f8").reshape(2, 3),
    object_array(["text", {"path": "/x"}, None]),
    np.array([(1, 2.0, {"path": "/t"})], dtype=[("i", "<i4"), ("f", "<f8"), ("ref", "O")]),
    np.array(["ab", "c"]),
]


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("value", PLAIN_DATA, ids=lambda v: type(v).__name__)
def test_plain_data_unpickles(value: Any, protocol: int) -> None:
    decoded = unpickle(pickle.dumps(value, protocol=protocol), "/data")
    assert type(decoded) is type(value)
    if isinstance(value, np.ndarray):
        assert decoded.dtype == value.dtype and decoded.tolist() == value.tolist()
    else:
        assert decoded == value


def test_legacy_references_become_plain_dicts() -> None:
    from hdmf_zarr.utils import ZarrReference

    payload = pickle.dumps(object_array([ZarrReference(source=".", path="/a")]), protocol=5)
    assert b"hdmf_zarr.utils" in payload and b"ZarrReference" in payload  # as hdmf-zarr 0.13 wrote them
    (decoded,) = unpickle(payload, "/refs")
    assert isinstance(decoded, LegacyReference) and decoded == {"source": ".", "path": "/a"}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_code_in_a_pickle_is_refused(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(object_array([payload(marker)]), protocol=5)
    with pytest.raises(UnsafePickleCodecError, match=r"'/some/dataset'.*allow_pickle=True"):
        unpickle(data, "/some/dataset")
    assert not marker.exists()
    unpickle(data, "/some/dataset", allow_pickle=True)
    assert marker.exists(), "the payload is real: the full unpickler runs it"


def test_unsafe_pickle_error_is_a_value_error() -> None:
    assert issubclass(UnsafePickleCodecError, ValueError)
    for name in ("getattr", "eval", "exec", "__import__"):
        with pytest.raises(UnsafePickleCodecError, match=f"builtins.{name}"):
            unpickle(f"cbuiltins\n{name}\n.".encode(), "/x")


# ---------------------------------------------------------------------------- in a store


@pytest.fixture(params=["object dataset", "reference dataset"])
def planted(request: pytest.FixtureRequest, testdata: Path, tmp_path: Path) -> tuple[Path, str, Path]:
    """A copy of a v2 NWB store with a malicious pickle in one dataset: ``(store, dataset key, marker)``."""
    store = copy_store(SMALL_STORE, tmp_path / "planted.nwb.zarr")
    marker = tmp_path / "pwned"
    key = LOCATION_COLUMN if request.param == "object dataset" else GROUP_COLUMN
    values = object_array([ShellPayload(marker)] + [OpenPayload(marker)] * 11)
    put_pickled_chunk(store, key, pickle.dumps(values, protocol=5))
    return store, key, marker


def test_malicious_pickle_never_runs_on_any_read_path(planted: tuple[Path, str, Path], tmp_path: Path) -> None:
    store, key, marker = planted
    refused = rf"'/{key}'.*allow_pickle=True"
    for cls in (NWBZarrIO, NWBZarrV2IO, ZarrV2IO):
        with cls(str(store), "r") as io:  # open
            with pytest.raises(UnsafePickleCodecError, match=refused):
                io.read_builder()
            with pytest.raises(UnsafePickleCodecError, match=refused):  # resolving a reference to it
                io.resolve_ref({"source": ".", "path": "/" + key})
        assert not marker.exists()
    with NWBZarrIO(str(store), "r") as io:
        with pytest.raises(UnsafePickleCodecError, match=refused):
            io.read()
    import pynwb

    with pytest.raises(UnsafePickleCodecError, match=refused):
        pynwb.read_nwb(str(store))
    zarray = json.loads((store / key / ".zarray").read_text())
    with pytest.raises(UnsafePickleCodecError, match=refused):  # decoding the data directly
        ZarrV2IO._decode_v2_dataset(LocalStore(str(store), read_only=True), key, zarray)
    destination = tmp_path / "converted.zarr"
    with pytest.raises(UnsafePickleCodecError, match=refused):
        NWBZarrV2IO.convert_to_v3(str(store), str(destination))
    assert not destination.exists()
    assert not marker.exists()
    with NWBZarrV2IO(str(store), "r", allow_pickle=True) as io:
        io.read_builder()
    assert marker.exists(), "the payload is real: allow_pickle=True runs it"


def test_pickle_declared_as_compressor_is_refused(testdata: Path, tmp_path: Path) -> None:
    store = copy_store(SMALL_STORE, tmp_path / "planted.nwb.zarr")
    marker = tmp_path / "pwned"
    put_pickled_chunk(store, GROUP_COLUMN, pickle.dumps(object_array([ShellPayload(marker)] * 12), protocol=5))
    zarray = edit_zarray(store, GROUP_COLUMN, filters=None, compressor={"id": "pickle", "protocol": 5})
    with pytest.raises(UnsafePickleCodecError, match=GROUP_COLUMN):
        ZarrV2IO._decode_v2_dataset(LocalStore(str(store), read_only=True), GROUP_COLUMN, zarray)
    with NWBZarrIO(str(store), "r") as io, pytest.raises(UnsafePickleCodecError, match=GROUP_COLUMN):
        io.read()
    assert not marker.exists()


def test_pickled_cached_spec_is_refused_even_when_pickle_is_allowed(testdata: Path, tmp_path: Path) -> None:
    store = copy_store(SMALL_STORE, tmp_path / "planted.nwb.zarr")
    marker = tmp_path / "pwned"
    key = next(str(p.parent.relative_to(store)) for p in (store / "specifications").rglob("namespace/.zarray"))
    put_pickled_chunk(store, key, pickle.dumps(object_array([ShellPayload(marker)]), protocol=5))
    for allow_pickle in (False, True):
        with pytest.raises(UnsafePickleCodecError, match="cached spec"):
            NWBZarrIO(str(store), "r", allow_pickle=allow_pickle)
    assert not marker.exists()


def test_safe_pickles_of_legacy_files_read_without_allow_pickle(testdata: Path) -> None:
    """hdmf-zarr 0.8 pickled text and timestamps; 0.13 pickled references: all plain data."""
    store = testdata / "zarr_v2_hdmfzarr080" / "3.0.0_electrodes_dynamic_table.nwb.zarr"
    assert json.loads((store / "session_start_time" / ".zarray").read_text())["filters"][0]["id"] == "pickle"
    with NWBZarrIO(str(store), "r") as io:
        nwbfile = io.read()
        assert nwbfile.session_start_time.year == 2025 and nwbfile.identifier == "ADDME"
        assert nwbfile.electrodes["group"][0].name == "shank0"
