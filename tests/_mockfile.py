"""An NWB file holding one object of every neurodata type that ``pynwb.testing.mock`` can make.

Runnable by any interpreter that has pynwb and an ``hdmf_zarr`` package with ``NWBZarrIO`` (ours, or
the reference implementation in a side virtual environment)::

    python tests/_mockfile.py OUT.nwb.zarr [OUT2.nwb.zarr ...]

writes the mock file to each path with whichever ``hdmf_zarr`` the interpreter imports, and prints a
JSON line ``{path: {"ok": bool, "notes" | "error": ...}, "__implementation__": {...}}``.
``build_mock_nwbfile()`` is also importable by tests.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
import traceback
import warnings
from typing import Any

#: mock factories that are not called, with the reason
SKIPPED = {
    "mock_NWBFile": "it makes the file itself",
    "mock_electrodes": "it makes a DynamicTableRegion, which only exists as a column of a series or table "
    "(mock_ElectricalSeries and mock_SpikeEventSeries cover it)",
    "mock_ElectrodeTable": "deprecated alias of mock_ElectrodesTable; a file holds one electrodes table",
}

#: factories to call first, because others create their object implicitly when it is absent
FIRST = ("mock_Subject", "mock_ElectrodesTable", "mock_Units", "mock_IntracellularRecordingsTable")


def mock_factories() -> list[tuple[str, Any]]:
    """``(name, function)`` for every ``mock_*`` function of the ``pynwb.testing.mock`` modules."""
    import pynwb.testing.mock as package

    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("mock_") and func.__module__ == module.__name__:
                found[name] = func
    ordered = [n for n in FIRST if n in found] + sorted(n for n in found if n not in FIRST)
    return [(n, found[n]) for n in ordered]


def _place(nwbfile: Any, obj: Any) -> None:
    """Put an object that its factory left unattached somewhere sensible in the file."""
    from pynwb.base import TimeSeries
    from pynwb.core import NWBDataInterface
    from pynwb.device import Device

    if getattr(obj, "parent", None) is not None:
        return
    if isinstance(obj, Device):
        nwbfile.add_device(obj)
    elif isinstance(obj, TimeSeries):
        nwbfile.add_acquisition(obj)
    elif isinstance(obj, NWBDataInterface):
        module = nwbfile.processing.get("misc") or nwbfile.create_processing_module("misc", "misc mock objects")
        module.add(obj)
    else:
        # e.g. OpticalChannel: owned by the ImagingPlane it was made for, which the factory does not attach
        return


def _arguments(func: Any, nwbfile: Any) -> dict[str, Any]:
    """The file to attach to and, for series that index the electrodes table, a region of the existing table."""
    from pynwb.testing.mock.ecephys import mock_electrodes

    params = inspect.signature(func).parameters
    kwargs: dict[str, Any] = {"nwbfile": nwbfile} if "nwbfile" in params else {}
    if "electrodes" in params and nwbfile.electrodes is not None:
        table = nwbfile.electrodes
        kwargs["electrodes"] = mock_electrodes(n_electrodes=len(table), table=table)
    return kwargs


def build_mock_nwbfile() -> tuple[Any, dict[str, str]]:
    """The mock NWBFile and ``{factory: note}`` for the factories that were skipped or failed.

    Object names come from pynwb's process-wide name counters; they are reset for the build (and
    restored after), so the file is the same in every process whatever ran there before.
    """
    from pynwb.testing.mock import utils

    saved = dict(utils.name_generator_registry)
    utils.name_generator_registry.clear()
    try:
        return _build()
    finally:
        utils.name_generator_registry.clear()
        utils.name_generator_registry.update(saved)


def _build() -> tuple[Any, dict[str, str]]:
    from pynwb.testing.mock.file import mock_NWBFile

    notes = dict(SKIPPED)
    nwbfile = mock_NWBFile(identifier="hdmf-zarr-interop-mock", session_description="every mock type")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, func in mock_factories():
            if name in SKIPPED:
                continue
            try:
                obj = func(**_arguments(func, nwbfile))
            except Exception as exc:  # a factory that needs special wiring: note it and go on
                notes[name] = f"{type(exc).__name__}: {exc}"
                continue
            _place(nwbfile, obj)
        nwbfile.add_trial(start_time=0.0, stop_time=1.0)
        nwbfile.add_trial(start_time=1.0, stop_time=2.5)
        nwbfile.add_epoch(start_time=0.0, stop_time=2.5, tags=["a", "b"])
    return nwbfile, notes


def add_storage_variants(nwbfile: Any) -> None:
    """TimeSeries whose data use the Zarr storage options of ``hdmf_zarr.ZarrDataIO`` and iterative writing."""
    import numpy as np
    from hdmf.data_utils import DataChunkIterator
    from pynwb.base import TimeSeries
    from zarr.codecs import BloscCodec, ZstdCodec

    from hdmf_zarr import ZarrDataIO

    floats = np.arange(600, dtype="float64").reshape(60, 10) / 7
    ints = np.arange(4000, dtype="int16").reshape(400, 10)
    variants = {
        "chunked_zstd": ZarrDataIO(data=floats, chunks=(8, 10), compressors=[ZstdCodec(level=5)]),
        "chunked_blosc": ZarrDataIO(data=ints, chunks=(64, 5), compressors=[BloscCodec(cname="lz4", clevel=3)]),
        "sharded": ZarrDataIO(data=ints, chunks=(10, 10), shards=(100, 10)),
        "fill_value": ZarrDataIO(data=np.zeros((50, 3), dtype="int32"), chunks=(10, 3), fillvalue=-1),
        "iterative": DataChunkIterator(data=iter(list(floats)), buffer_size=7),
    }
    for name, data in variants.items():
        nwbfile.add_acquisition(TimeSeries(name=f"storage_{name}", data=data, unit="a.u.", rate=10.0))


def write_mock(path: str) -> dict[str, str]:
    """Write the mock file to ``path`` with the importable ``hdmf_zarr``; return the notes."""
    from hdmf_zarr import NWBZarrIO

    nwbfile, notes = build_mock_nwbfile()
    add_storage_variants(nwbfile)
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile)
    return notes


def main(argv: list[str]) -> int:
    from _digest import IMPLEMENTATION_KEY, implementation

    results: dict[str, Any] = {IMPLEMENTATION_KEY: implementation()}
    for path in argv:
        try:
            results[path] = {"ok": True, "notes": write_mock(path)}
        except Exception as exc:
            results[path] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
