"""Runs neuroconv and nwbinspector on Zarr files, in the side environment of ``conftest_clients.py``.

Usage: ``python tests/_clients_probe.py COMMAND ARGS...``; prints one JSON line. The clients are imported
inside the commands only, so the test process can import ``build_nwbfile`` (pynwb alone) to get the
expected content.

Commands:

- ``inspect PATH...``: nwbinspector's ``inspect_nwbfile`` on each path, and ``inspect_nwbfile_object`` on
  the file read with the IO of its backend (``NWBZarrIO`` for a folder, ``NWBHDF5IO`` for a file).
- ``inspect_all PATH``: nwbinspector's ``inspect_all`` (a folder is searched for NWB files).
- ``configure OUT``: neuroconv's default Zarr backend configuration of ``build_nwbfile()``, with a few
  datasets given other chunks and codecs, applied with ``configure_backend`` and written with ``NWBZarrIO``.
- ``existing PATH``: neuroconv's ``get_existing_backend_configuration`` of a Zarr file read with ``NWBZarrIO``.
- ``configure_and_write OUT``: ``configure_and_write_nwbfile(build_nwbfile(), OUT, backend="zarr")``.
- ``append_candidates PATH``: open a Zarr file in mode ``a``, add a series, and list the datasets neuroconv's
  ``get_default_dataset_io_configurations`` would configure (those already in the file must be skipped).
- ``run_conversion OUT``: a mock interface's ``run_conversion(backend="zarr")``, then a second one appended
  (``append_on_disk_nwbfile=True``, mode ``r+``).
- ``repack H5 OUT``: write ``build_nwbfile()`` to HDF5, then ``repack_nwbfile`` it to Zarr.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import UTC
from pathlib import Path
from typing import Any

#: datasets of build_nwbfile() whose neuroconv configuration the `configure` command overrides
OVERRIDES = ("acquisition/raw/data", "acquisition/irregular/data", "acquisition/irregular/timestamps")
#: mock interfaces of the `run_conversion` command: metadata key -> seed
CONVERSIONS = {"TimeSeries": 0, "Appended": 1}


def build_nwbfile() -> Any:
    """An NWB file with series (regular, irregular), an electrodes table, units and trials; same in any process."""
    from datetime import datetime

    import numpy as np
    from pynwb import NWBFile, TimeSeries
    from pynwb.testing.mock import utils
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries, mock_Units

    utils.name_generator_registry.clear()
    rng = np.random.default_rng(0)
    nwbfile = NWBFile(
        session_description="hdmf_zarr clients test",
        identifier="hdmf-zarr-clients",
        session_start_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    raw = rng.integers(-2000, 2000, size=(150_000, 16), dtype="int16")
    nwbfile.add_acquisition(TimeSeries(name="raw", data=raw, unit="uV", rate=30_000.0))
    timestamps = np.cumsum(rng.uniform(0.001, 0.002, size=20_000))
    irregular = np.cumsum(rng.standard_normal(20_000))
    nwbfile.add_acquisition(TimeSeries(name="irregular", data=irregular, unit="a.u.", timestamps=timestamps))
    mock_ElectricalSeries(nwbfile=nwbfile)
    nwbfile.units = mock_Units(num_units=5)
    for start in range(6):
        nwbfile.add_trial(start_time=float(start), stop_time=start + 0.5)
    utils.name_generator_registry.clear()
    return nwbfile


def _messages(messages: Any) -> list[dict[str, Any]]:
    rows = []
    for message in messages:
        rows.append(
            {
                "check_function_name": message.check_function_name,
                "object_type": message.object_type,
                "object_name": message.object_name,
                "location": message.location,
                "importance": message.importance.name,
                "severity": message.severity.name,
                "message": message.message,
                "file_path": None if message.file_path is None else str(message.file_path),
            }
        )
    return rows


def inspect(paths: list[str]) -> dict[str, Any]:
    from nwbinspector import inspect_nwbfile, inspect_nwbfile_object
    from pynwb import NWBHDF5IO

    from hdmf_zarr import NWBZarrIO

    result: dict[str, Any] = {"file": {}, "object": {}}
    for path in paths:
        result["file"][path] = _messages(inspect_nwbfile(nwbfile_path=path))
        io_class = NWBZarrIO if Path(path).is_dir() else NWBHDF5IO
        with io_class(path, mode="r") as io:
            result["object"][path] = _messages(inspect_nwbfile_object(nwbfile_object=io.read()))
    return result


def inspect_all_(path: str) -> list[dict[str, Any]]:
    from nwbinspector import inspect_all

    return _messages(inspect_all(path=path, n_jobs=1, progress_bar=False))


def _codec(codec: Any) -> Any:
    """A numcodecs codec (or a name, None, False) as JSON."""
    if hasattr(codec, "get_config"):
        return codec.get_config()
    return codec


def _summary(backend_configuration: Any) -> dict[str, Any]:
    summary = {}
    for location, dataset in backend_configuration.dataset_configurations.items():
        kwargs = dataset.get_data_io_kwargs()
        summary[location] = {
            "chunk_shape": list(dataset.chunk_shape),
            "full_shape": list(dataset.full_shape),
            "compressors": [_codec(c) for c in dataset.compressors or []],
            "filters": [_codec(c) for c in dataset.filters or []],
            "data_io_kwargs": {
                "chunks": list(kwargs["chunks"]),
                "compressor": _codec(kwargs["compressor"]),
                "filters": None if kwargs["filters"] is None else [_codec(c) for c in kwargs["filters"]],
            },
        }
    return summary


def configure(out: str) -> dict[str, Any]:
    import numcodecs
    from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration

    from hdmf_zarr import NWBZarrIO

    nwbfile = build_nwbfile()
    configuration = get_default_backend_configuration(nwbfile=nwbfile, backend="zarr")
    datasets = configuration.dataset_configurations
    raw, data, timestamps = (datasets[location] for location in OVERRIDES)
    raw.chunk_shape = (30_000, 8)
    raw.compressors = [numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)]
    data.filters = ["delta"]
    data.filter_options = [{"dtype": "float64"}]
    timestamps.compressors = ["shuffle", "zstd"]
    timestamps.compressor_options = [None, {"level": 5}]
    summary = _summary(configuration)
    configure_backend(nwbfile=nwbfile, backend_configuration=configuration)
    with NWBZarrIO(out, mode="w") as io:
        io.write(nwbfile)
    return summary


def existing(path: str) -> dict[str, Any]:
    from neuroconv.tools.nwb_helpers import get_existing_backend_configuration

    from hdmf_zarr import NWBZarrIO

    with NWBZarrIO(path, mode="r") as io:
        return _summary(get_existing_backend_configuration(nwbfile=io.read()))


def append_candidates(path: str) -> list[str]:
    import numpy as np
    from neuroconv.tools.nwb_helpers import get_default_dataset_io_configurations
    from pynwb import TimeSeries

    from hdmf_zarr import NWBZarrIO

    with NWBZarrIO(path, mode="a") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(TimeSeries(name="appended", data=np.arange(10.0), unit="a.u.", rate=1.0))
        candidates = get_default_dataset_io_configurations(nwbfile=nwbfile, backend="zarr")
        return sorted(candidate.location_in_file for candidate in candidates)


def configure_and_write(out: str) -> dict[str, Any]:
    from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, get_default_backend_configuration

    summary = _summary(get_default_backend_configuration(nwbfile=build_nwbfile(), backend="zarr"))
    configure_and_write_nwbfile(nwbfile=build_nwbfile(), nwbfile_path=out, backend="zarr")
    return summary


def run_conversion(out: str) -> dict[str, Any]:
    from neuroconv.tools.testing.mock_interfaces import MockTimeSeriesInterface

    (first, first_seed), (second, second_seed) = CONVERSIONS.items()
    MockTimeSeriesInterface(metadata_key=first, seed=first_seed).run_conversion(
        nwbfile_path=out, backend="zarr", overwrite=True
    )
    MockTimeSeriesInterface(metadata_key=second, seed=second_seed).run_conversion(
        nwbfile_path=out, append_on_disk_nwbfile=True
    )
    return {"ok": True}


def repack(h5_path: str, out: str) -> dict[str, Any]:
    from neuroconv.tools.nwb_helpers import repack_nwbfile
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(h5_path, mode="w") as io:
        io.write(build_nwbfile())
    repack_nwbfile(nwbfile_path=Path(h5_path), export_nwbfile_path=Path(out), export_backend="zarr")
    return {"ok": True}


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")
    command, args = argv[0], argv[1:]
    commands = {
        "inspect": lambda: inspect(args),
        "inspect_all": lambda: inspect_all_(args[0]),
        "configure": lambda: configure(args[0]),
        "existing": lambda: existing(args[0]),
        "append_candidates": lambda: append_candidates(args[0]),
        "configure_and_write": lambda: configure_and_write(args[0]),
        "run_conversion": lambda: run_conversion(args[0]),
        "repack": lambda: repack(args[0], args[1]),
    }
    result = commands[command]()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
