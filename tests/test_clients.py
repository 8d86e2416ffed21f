"""The tools people already run on NWB files work unchanged on this package (issue 8).

neuroconv and nwbinspector live in a side environment next to this package (``conftest_clients.py``);
they run in subprocesses (``_clients_probe.py``), never in this process. Deselect with ``-m "not clients"``.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _clients_probe import CONVERSIONS, OVERRIDES, build_nwbfile
from _side_venv import subprocess_env
from conftest_clients import CLIENT_REQUIREMENTS, CLIENTS_LOG, run_probe
from hdmf_zarr import __version__

pytestmark = pytest.mark.clients

#: above nwbinspector's 50 MB floor for ``check_small_dataset_compression``
COMPRESSION_CHECK_SHAPE = (7_000_000, 2)


def _pip(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(),
        cwd=tempfile.gettempdir(),
    )


# --------------------------------------------------------------------------------------------------
# packaging: installing the clients keeps this package, and the environment is consistent
# --------------------------------------------------------------------------------------------------


def test_installing_the_clients_kept_this_package(clients_python):
    """``pip install neuroconv nwbinspector`` after this package neither replaced nor reinstalled it."""
    log_path = Path(clients_python).parents[1] / CLIENTS_LOG
    if not log_path.exists():
        pytest.skip(f"{log_path} is absent (an environment given by HDMF_ZARR_CLIENTS_PYTHON)")
    log = log_path.read_text()
    touched = [
        line
        for line in log.splitlines()
        if re.search(r"hdmf[-_]zarr", line, re.I)
        and re.match(r"\s*(Uninstalling|Attempting uninstall|Successfully)", line)
    ]
    assert not touched, f"installing {CLIENT_REQUIREMENTS} touched this package:\n" + "\n".join(touched)
    satisfied = rf"hdmf[-_]zarr>=0\.11 in .* \({re.escape(__version__)}\)"
    assert re.search(satisfied, log, re.I), f"neuroconv's hdmf_zarr>=0.11 was not met by this package:\n{log}"


def test_dry_run_install_of_the_clients_keeps_this_package(clients_python):
    report = _pip(clients_python, "install", "--dry-run", "--quiet", "--report", "-", *CLIENT_REQUIREMENTS)
    assert report.returncode == 0, report.stderr
    install = json.loads(report.stdout)["install"]
    names = [item["metadata"]["name"] for item in install]
    assert not [n for n in names if n.lower().replace("_", "-") == "hdmf-zarr"], names
    assert names == [], f"pip would change the clients environment: {names}"


def test_pip_check_is_clean(clients_python):
    done = _pip(clients_python, "check")
    ours = [line for line in done.stdout.splitlines() if re.search(r"hdmf[-_]zarr", line, re.I)]
    assert not ours, done.stdout
    assert done.returncode == 0, f"pip check (not about hdmf-zarr):\n{done.stdout}"


# --------------------------------------------------------------------------------------------------
# nwbinspector: the same report for a Zarr file written by us as for its HDF5 twin
# --------------------------------------------------------------------------------------------------


def _twin(backend: str) -> Any:
    """The mock file with every neurodata type, a big uncompressed series and a big compressed one."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.base import TimeSeries
    from zarr.codecs import GzipCodec

    from _mockfile import build_mock_nwbfile
    from hdmf_zarr.utils import ZarrDataIO

    nwbfile, _ = build_mock_nwbfile()
    plain = np.ones(COMPRESSION_CHECK_SHAPE, dtype="float32")
    packed = np.zeros(COMPRESSION_CHECK_SHAPE, dtype="float32")
    chunks = (1_000_000, 2)
    if backend == "zarr":
        plain = ZarrDataIO(plain, chunks=chunks, compressors=False)
        packed = ZarrDataIO(packed, chunks=chunks, compressors=[GzipCodec(level=4)])
    else:
        plain = H5DataIO(plain, chunks=chunks)
        packed = H5DataIO(packed, chunks=chunks, compression="gzip", compression_opts=4)
    nwbfile.add_acquisition(TimeSeries(name="big_uncompressed", data=plain, unit="V", rate=10.0))
    nwbfile.add_acquisition(TimeSeries(name="big_compressed", data=packed, unit="V", rate=10.0))
    return nwbfile


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    """``{"zarr": folder, "hdf5": file}``: the same content written by NWBZarrIO (ours) and NWBHDF5IO."""
    from pynwb import NWBHDF5IO

    from hdmf_zarr import NWBZarrIO

    folder = tmp_path_factory.mktemp("twins")
    paths = {"zarr": folder / "twin.nwb.zarr", "hdf5": folder / "twin.nwb"}
    with NWBZarrIO(str(paths["zarr"]), mode="w") as io:
        io.write(_twin("zarr"))
    with NWBHDF5IO(str(paths["hdf5"]), mode="w") as io:
        io.write(_twin("hdf5"))
    return paths


def _comparable(messages: list[dict[str, Any]], path: Path) -> list[tuple]:
    rows = []
    for m in messages:
        text = m["message"].replace(str(path), "<file>")
        rows.append(
            (m["check_function_name"], m["object_type"], m["object_name"], m["location"], m["importance"], text)
        )
    return sorted(rows, key=repr)


def _assert_same_report(zarr_messages, zarr_path, hdf5_messages, hdf5_path):
    zarr_rows, hdf5_rows = _comparable(zarr_messages, zarr_path), _comparable(hdf5_messages, hdf5_path)
    crashes = [row for row in zarr_rows if row[4] == "ERROR"]
    assert not crashes, f"nwbinspector crashed on the Zarr file: {crashes[0][0]}\n{crashes[0][5]}"
    only_zarr = [row for row in zarr_rows if row not in hdf5_rows]
    only_hdf5 = [row for row in hdf5_rows if row not in zarr_rows]
    assert not only_zarr and not only_hdf5, f"only for Zarr: {only_zarr}\nonly for HDF5: {only_hdf5}"
    compression = {(row[0], row[2]) for row in zarr_rows if row[0] == "check_small_dataset_compression"}
    assert compression == {("check_small_dataset_compression", "big_uncompressed")}, compression


def test_nwbinspector_report_matches_the_hdf5_twin(clients_python, twins):
    result = run_probe(clients_python, "inspect", str(twins["zarr"]), str(twins["hdf5"]))
    for entry_point in ("file", "object"):  # inspect_nwbfile(path), inspect_nwbfile_object(io.read())
        _assert_same_report(
            result[entry_point][str(twins["zarr"])],
            twins["zarr"],
            result[entry_point][str(twins["hdf5"])],
            twins["hdf5"],
        )


def test_nwbinspector_inspect_all_and_cli_on_a_zarr_folder(clients_python, twins):
    zarr_path, hdf5_path = twins["zarr"], twins["hdf5"]
    reference = run_probe(clients_python, "inspect", str(hdf5_path))["file"][str(hdf5_path)]
    # the .nwb.zarr folder itself: one NWB file
    _assert_same_report(run_probe(clients_python, "inspect_all", str(zarr_path)), zarr_path, reference, hdf5_path)
    # the folder holding both twins: both found, and their shared identifier reported
    both = run_probe(clients_python, "inspect_all", str(zarr_path.parent))
    by_file = {path: [m for m in both if m["file_path"] == str(path)] for path in (zarr_path, hdf5_path)}
    _assert_same_report(by_file[zarr_path], zarr_path, by_file[hdf5_path], hdf5_path)
    unique = [m for m in both if m["check_function_name"] == "check_unique_identifiers"]
    assert len(unique) == 1 and zarr_path.name in unique[0]["message"], unique
    # the command line on the .nwb.zarr folder
    report = zarr_path.parent / "cli.json"
    cli = Path(clients_python).with_name("nwbinspector")
    command = [str(cli), str(zarr_path), "--json-file-path", str(report), "--progress-bar", "False"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=subprocess_env())
    assert done.returncode == 0, done.stderr
    messages = json.loads(report.read_text())["messages"]
    for message in messages:
        message["importance"] = message["importance"].removeprefix("Importance.")
    _assert_same_report(messages, zarr_path, reference, hdf5_path)


# --------------------------------------------------------------------------------------------------
# neuroconv: its Zarr backend configuration, applied and written by us, read back by us
# --------------------------------------------------------------------------------------------------

_TABLES = {"trials": "intervals/trials", "units": "units", "electrodes": "general/extracellular_ephys/electrodes"}
_BLOSC_SHUFFLE = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}


def _zarr_path(location: str) -> str:
    """The store path of a neuroconv dataset location (table columns are ``<table>/<column>/data`` there)."""
    table, *rest = location.split("/")
    if table in _TABLES and rest[-1] == "data":
        return "/".join([_TABLES[table], *rest[:-1]])
    return location


def _stored_codecs(array: Any) -> list[Any]:
    """The codecs of a zarr v3 array other than its serializer, in order (filters, then bytes-to-bytes)."""
    from zarr.abc.codec import ArrayBytesCodec

    return [codec for codec in array.metadata.codecs if not isinstance(codec, ArrayBytesCodec)]


def _assert_codecs(location: str, array: Any, kwargs: dict[str, Any]) -> None:
    """The zarr-2 style ``filters`` + ``compressor`` neuroconv asked for are what the array stores."""
    expected = [*(kwargs["filters"] or []), *([kwargs["compressor"]] if kwargs["compressor"] else [])]
    stored = [codec.to_dict() for codec in _stored_codecs(array)]
    names = [codec["name"].removeprefix("numcodecs.") for codec in stored]
    assert names == [codec["id"] for codec in expected], f"{location}: stored {stored}, asked for {expected}"
    for asked, codec in zip(expected, stored):
        configuration = codec.get("configuration", {})
        for key, value in asked.items():
            if key == "id" or key not in configuration:
                continue
            if asked["id"] == "blosc" and key == "shuffle":
                value = _BLOSC_SHUFFLE[value]
            assert configuration[key] == value, f"{location}: {key} is {configuration[key]!r}, asked for {value!r}"


def _assert_configuration_applied(path: Path, summary: dict[str, Any]) -> None:
    import zarr

    root = zarr.open_group(str(path), mode="r")
    for location, dataset in summary.items():
        array = root[_zarr_path(location)]
        kwargs = dataset["data_io_kwargs"]
        assert list(array.chunks) == kwargs["chunks"], f"{location}: chunks {array.chunks}, asked for {kwargs}"
        _assert_codecs(location, array, kwargs)


def _assert_content(path: Path) -> None:
    """What NWBZarrIO (ours) reads back equals ``build_nwbfile()``."""
    from hdmf_zarr import NWBZarrIO

    expected = build_nwbfile()
    with NWBZarrIO(str(path), mode="r") as io:
        nwbfile = io.read()
        for name in ("raw", "irregular", "ElectricalSeries"):
            np.testing.assert_array_equal(nwbfile.acquisition[name].data[:], expected.acquisition[name].data)
        np.testing.assert_array_equal(
            nwbfile.acquisition["irregular"].timestamps[:], expected.acquisition["irregular"].timestamps
        )
        for column in ("start_time", "stop_time"):
            np.testing.assert_array_equal(nwbfile.trials[column][:], expected.trials[column][:])
        for unit in range(len(expected.units)):
            np.testing.assert_array_equal(nwbfile.units["spike_times"][unit], expected.units["spike_times"][unit])
        assert list(nwbfile.electrodes["location"][:]) == list(expected.electrodes["location"][:])


@pytest.fixture(scope="module")
def configured(clients_python, tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """A file configured by neuroconv (defaults + overrides + configure_backend), written by NWBZarrIO."""
    path = tmp_path_factory.mktemp("neuroconv") / "configured.nwb.zarr"
    return path, run_probe(clients_python, "configure", str(path))


def test_neuroconv_backend_configuration_is_applied(configured):
    """get_default_backend_configuration + overrides + configure_backend, written by NWBZarrIO, read by ours."""
    path, summary = configured
    assert set(OVERRIDES) <= set(summary)
    assert summary["acquisition/raw/data"]["data_io_kwargs"]["chunks"] == [30_000, 8]
    _assert_configuration_applied(path, summary)
    _assert_content(path)


def test_neuroconv_reads_the_configuration_back(clients_python, configured):
    """get_existing_backend_configuration of our arrays (zarr 2's .chunks / .compressor / .filters)."""
    path, summary = configured
    found = run_probe(clients_python, "existing", str(path))
    for location in OVERRIDES:
        assert found[location]["data_io_kwargs"] == summary[location]["data_io_kwargs"], location


def test_neuroconv_skips_datasets_already_in_the_file(clients_python, tmp_path):
    """In mode ``a``, neuroconv recognizes our arrays as already written (zarr 2's ``Array.store.path``)."""
    from hdmf_zarr import NWBZarrIO

    path = tmp_path / "existing.nwb.zarr"
    with NWBZarrIO(str(path), mode="w") as io:
        io.write(build_nwbfile())
    assert run_probe(clients_python, "append_candidates", str(path)) == ["acquisition/appended/data"]


def test_neuroconv_configure_and_write_nwbfile(clients_python, tmp_path):
    path = tmp_path / "written.nwb.zarr"
    summary = run_probe(clients_python, "configure_and_write", str(path))
    _assert_configuration_applied(path, summary)
    _assert_content(path)


def test_neuroconv_run_conversion_then_append(clients_python, tmp_path):
    """An interface's run_conversion(backend="zarr"), then a second one appended in mode r+."""
    from hdmf_zarr import NWBZarrIO

    path = tmp_path / "converted.nwb.zarr"
    run_probe(clients_python, "run_conversion", str(path))
    with NWBZarrIO(str(path), mode="r") as io:
        nwbfile = io.read()
        assert set(CONVERSIONS) <= set(nwbfile.acquisition)
        for name, seed in CONVERSIONS.items():
            expected = np.random.default_rng(seed).standard_normal(size=(30_000, 4)).astype("float32")
            np.testing.assert_array_equal(nwbfile.acquisition[name].data[:], expected)


def test_neuroconv_repack_hdf5_to_zarr(clients_python, tmp_path):
    """repack_nwbfile(export_backend="zarr"): an HDF5 file exported with the default Zarr configuration."""
    path = tmp_path / "repacked.nwb.zarr"
    run_probe(clients_python, "repack", str(tmp_path / "source.nwb"), str(path))
    _assert_content(path)
