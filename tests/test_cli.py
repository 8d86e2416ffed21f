"""The ``hdmf-zarr`` command line: info, convert, validate; help, exit codes and error messages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from hdmf.backends.hdf5 import H5DataIO
from pynwb import NWBHDF5IO

from hdmf_zarr import NWBZarrIO
from hdmf_zarr._roundtrip import compare_files
from hdmf_zarr.cli import cli

DATA = (np.arange(6000, dtype="int16") % 97).reshape(1500, 4)


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def h5_path(tmp_path):
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    mock_ElectricalSeries(
        name="es", nwbfile=nwbfile, data=H5DataIO(DATA, chunks=(500, 4), compression="gzip", shuffle=True)
    )
    path = tmp_path / "source.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


@pytest.fixture
def zarr_file(tmp_path, h5_path):
    path = tmp_path / "converted.nwb.zarr"
    assert run("convert", h5_path, path).exit_code == 0
    return path


def _codecs(path: Path) -> list[str]:
    array = zarr.open_array(str(path), path="acquisition/es/data", mode="r")
    return [c.to_dict()["name"] for c in array.metadata.codecs]


def _data(path: Path) -> np.ndarray:
    io_class = NWBHDF5IO if path.suffix == ".nwb" else NWBZarrIO
    with io_class(str(path), mode="r") as io:
        return io.read().acquisition["es"].data[:]


# ----------------------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [[], ["info"], ["convert"], ["validate"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: hdmf-zarr" in result.output


def test_version():
    from hdmf_zarr import __version__

    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_unknown_command_is_a_usage_error():
    result = run("nonsense")
    assert result.exit_code == 2 and "No such command" in result.output


# ----------------------------------------------------------------------------------------- convert
def test_convert_hdf5_to_zarr_carries_chunks_and_codecs_over(h5_path, tmp_path):
    target = tmp_path / "out.nwb.zarr"
    result = run("convert", h5_path, target)
    assert result.exit_code == 0, result.output
    assert "HDF5" in result.output and "Zarr v3" in result.output
    assert _codecs(target) == ["bytes", "numcodecs.shuffle", "numcodecs.zlib"]
    assert zarr.open_array(str(target), path="acquisition/es/data", mode="r").chunks == (500, 4)
    np.testing.assert_array_equal(_data(target), DATA)


def test_convert_zarr_to_hdf5_and_zarr_to_zarr(zarr_file, tmp_path):
    back = tmp_path / "back.nwb"
    assert run("convert", zarr_file, back).exit_code == 0
    np.testing.assert_array_equal(_data(back), DATA)
    again = tmp_path / "again.nwb.zarr"
    result = run("convert", zarr_file, again, "--jobs", "2", "--compressor", "zstd:5")
    assert result.exit_code == 0, result.output
    assert _codecs(again) == ["bytes", "zstd"]
    np.testing.assert_array_equal(_data(again), DATA)


def test_convert_with_recompress_and_no_compression(h5_path, tmp_path):
    target = tmp_path / "plain.nwb.zarr"
    result = run("convert", h5_path, target, "--recompress", "--compressor", "none", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _codecs(target) == ["bytes"]
    np.testing.assert_array_equal(_data(target), DATA)


def test_convert_refuses_an_existing_destination_unless_told(h5_path, zarr_file):
    result = run("convert", h5_path, zarr_file)
    assert result.exit_code == 1
    assert "already exists" in result.output and "--overwrite" in result.output
    assert "Traceback" not in result.output
    assert run("convert", h5_path, zarr_file, "--overwrite").exit_code == 0
    np.testing.assert_array_equal(_data(zarr_file), DATA)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{h5}", "{tmp}/out.txt"], "Cannot tell the format"),
        (["{h5}", "{tmp}/out.zarr", "--compressor", "brotli"], "Unknown compressor"),
        (["{h5}", "{tmp}/out.zarr", "--compressor", "zstd:high"], "integer"),
        (["{h5}", "{tmp}/out.zarr", "--jobs", "0"], "--jobs"),
        (["{tmp}/missing.nwb", "{tmp}/out.zarr"], "does not exist"),
        (["{zarr}", "{tmp}/out.nwb", "--compressor", "zstd"], "Zarr destinations only"),
    ],
)
def test_bad_command_lines_exit_with_status_2(h5_path, zarr_file, tmp_path, args, message):
    paths = {"h5": h5_path, "zarr": zarr_file, "tmp": tmp_path}
    result = run("convert", *[a.format(**paths) for a in args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_failed_conversion_leaves_nothing_behind(tmp_path):
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)  # an HDF5 signature, then garbage
    target = tmp_path / "out.nwb.zarr"
    result = run("convert", broken, target)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "--debug" in result.output
    assert not target.exists()


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "plain.txt").write_text("not a file format")
    result = run("--debug", "convert", tmp_path / "plain.txt", tmp_path / "out.zarr")
    assert result.exit_code == 1
    assert result.exception is not None and "neither an HDF5 file nor a Zarr store" in str(result.exception)


def test_convert_zarr_v2_to_v3(testdata, tmp_path):
    source = next(iter(sorted((testdata / "zarr_v2").glob("*.nwb.zarr"))), None)
    if source is None:
        pytest.skip("no Zarr v2 file in the test-data corpus")
    target = tmp_path / "v3.nwb.zarr"
    result = run("convert", source, target)
    assert result.exit_code == 0, result.output
    assert "Zarr v2" in result.output
    assert (target / "zarr.json").is_file()
    with NWBZarrIO(str(source), mode="r") as v2, NWBZarrIO(str(target), mode="r") as v3:
        diffs = compare_files(v2.read(), v3.read())
    assert not diffs, f"the conversion of {source.name} differs from it (v2 | v3):\n" + "\n".join(diffs)


@pytest.mark.parametrize(
    "source",
    [
        "hdf5/pynapple/sub-4_ses-4_ecephys+image.nwb",
        "hdf5/pynwb_back_compat/3.0.0_device_model_str_special_chars.nwb",
        "hdf5/pynwb_back_compat/3.0.0_fiber_photometry_extension.nwb",
    ],
)
def test_convert_files_that_pynwb_cannot_rebuild(testdata, tmp_path, source):
    """An unmodified file converts from its builders as read, as HDF5 -> HDF5 export does: no rebuild."""
    target = tmp_path / "converted.nwb.zarr"
    result = run("convert", testdata / source, target)
    assert result.exit_code == 0, result.output
    with NWBHDF5IO(str(testdata / source), mode="r") as h5, NWBZarrIO(str(target), mode="r") as zio:
        original, converted = h5.read(), zio.read()
        assert sorted(converted.objects[k].name for k in converted.objects) == sorted(
            original.objects[k].name for k in original.objects
        )


# ----------------------------------------------------------------------------------------- info
def test_info_shows_types_layout_sizes_and_files(zarr_file):
    result = run("info", zarr_file)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Zarr v3, consolidated metadata" in out
    assert "[NWBFile]" in out and "[ElectricalSeries]" in out
    assert "int16 (1500, 4)" in out and "chunks (500, 4)" in out and "shuffle(elementsize=2)+zlib" in out
    assert "Files:" in out and "->" in out and "x)" in out  # logical -> stored (ratio)


def test_info_depth_and_ascii(zarr_file):
    result = run("info", zarr_file, "--depth", "1", "--ascii")
    assert result.exit_code == 0
    assert "[ElectricalSeries]" not in result.output and "|--" in result.output


def test_info_on_something_that_is_not_zarr_fails_cleanly(h5_path):
    result = run("info", h5_path)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output


# ----------------------------------------------------------------------------------------- validate
def test_validate_a_good_file(zarr_file):
    result = run("validate", zarr_file)
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_validate_reports_problems_with_status_1(zarr_file, tmp_path):
    from hdmf_zarr._stores import open_store
    from hdmf_zarr._write.commit import refresh_consolidated

    broken = tmp_path / "broken.nwb.zarr"
    shutil.copytree(zarr_file, broken)
    shutil.rmtree(broken / "session_description")
    refresh_consolidated(open_store(str(broken), "r+"))
    result = run("validate", broken)
    assert result.exit_code == 1
    assert "session_description" in result.output and "1 problem found" in result.output


# ----------------------------------------------------------------------------------------- end to end
def test_console_script_end_to_end(h5_path, tmp_path):
    target = tmp_path / "e2e.nwb.zarr"
    command = [sys.executable, "-m", "hdmf_zarr.cli"]
    done = subprocess.run([*command, "convert", str(h5_path), str(target)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*command, "info", str(target)], capture_output=True, text=True)
    assert done.returncode == 0 and "[ElectricalSeries]" in done.stdout
    done = subprocess.run([*command, "validate", str(tmp_path / "missing.zarr")], capture_output=True, text=True)
    assert done.returncode == 2 and "does not exist" in done.stderr
