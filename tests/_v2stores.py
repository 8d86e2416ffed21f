"""Helpers for tests on legacy Zarr v2 stores: the corpus list, and editing copies of corpus stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from conftest import TESTDATA

V2_FOLDERS = ("zarr_v2", "zarr_v2_hdmfzarr080", "zarr_v2_real")
#: a small hdmf-zarr 0.13 store with a pickled reference column (electrodes/group)
SMALL_STORE = "zarr_v2/3.0.0_electrodes_dynamic_table.nwb.zarr"
GROUP_COLUMN = "general/extracellular_ephys/electrodes/group"
LOCATION_COLUMN = "general/extracellular_ephys/electrodes/location"


def _manifest() -> dict[str, Any]:
    path = TESTDATA / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def v2_stores() -> list[str]:
    """Every v2 store of the corpus (the ``_known_bad`` folder excluded), relative to the corpus root."""
    return sorted(str(p.relative_to(TESTDATA)) for folder in V2_FOLDERS for p in (TESTDATA / folder).glob("*.zarr"))


def hdf5_sources() -> dict[str, str]:
    """``{v2 store: the HDF5 file it was exported from}`` where the manifest names one."""
    manifest = _manifest()
    entries = manifest.get("zarr_v2_hdmfzarr013", []) + manifest.get("zarr_v2_hdmfzarr080", [])
    return {e["output"]: e["source_hdf5"] for e in entries if e.get("output") and e.get("source_hdf5")}


def is_nwb_store(path: Path) -> bool:
    return "nwb_version" in json.loads((path / ".zattrs").read_text())


def copy_store(name: str, dst: Path) -> Path:
    shutil.copytree(TESTDATA / name, dst)
    return dst


def edit_zarray(store: Path, key: str, **changes: Any) -> dict[str, Any]:
    """Change keys of an array's ``.zarray`` (and its copy in ``.zmetadata``); returns the new document."""
    zarray = json.loads((store / key / ".zarray").read_text())
    zarray.update(changes)
    (store / key / ".zarray").write_text(json.dumps(zarray))
    consolidated = store / ".zmetadata"
    if consolidated.is_file():
        meta = json.loads(consolidated.read_text())
        meta["metadata"][f"{key}/.zarray"] = zarray
        consolidated.write_text(json.dumps(meta))
    return zarray


def put_pickled_chunk(store: Path, key: str, payload: bytes) -> None:
    """Store ``payload`` (a pickle) as the only, uncompressed chunk of ``key``, with the pickle filter."""
    zarray = json.loads((store / key / ".zarray").read_text())
    edit_zarray(store, key, compressor=None, filters=[{"id": "pickle", "protocol": 5}], dtype="|O", fill_value=0)
    for chunk in (store / key).iterdir():
        if not chunk.name.startswith("."):
            chunk.unlink()
    (store / key / ".".join("0" for _ in zarray["shape"])).write_bytes(payload)


def object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
