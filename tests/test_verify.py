"""``hdmf-zarr verify`` and ``hdmf-zarr repair`` (``hdmf_zarr._verify``): a small NWB file is written once,
copied for each test and damaged by hand."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from zarr.core.sync import sync

from hdmf_zarr._stores import open_store
from hdmf_zarr._verify import Problem, repair_store, verify_store
from hdmf_zarr._writelock import WriterLock
from hdmf_zarr.cli import cli
from hdmf_zarr.errors import ConcurrentWriteError
from hdmf_zarr.nwb import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

DATA = "acquisition/ts/data"
VALUES = np.arange(200.0).reshape(50, 4)  # chunks (10, 4): c/0/0 .. c/4/0


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _nwbfile():
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(VALUES, chunks=(10, 4)), rate=1.0))
    return nwbfile


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verify") / "base.nwb.zarr"
    with NWBZarrIO(str(path), "w") as io:
        io.write(_nwbfile())
    assert sorted(p.name for p in (path / DATA / "c").iterdir()) == ["0", "1", "2", "3", "4"]
    return path


@pytest.fixture
def copy(written: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(written, tmp_path / "file.nwb.zarr")).resolve()


def verify(path: Path, **kwargs) -> list[Problem]:
    store = open_store(str(path), "r")
    report = verify_store(store, **kwargs)
    assert report.nodes > 40 and report.arrays > 20
    return report.problems


def repair(path: Path, force: bool = False):
    return repair_store(open_store(str(path), "r+"), force=force)


def read_data(path: Path) -> np.ndarray:
    with NWBZarrIO(str(path), "r") as io:
        return np.asarray(io.read().acquisition["ts"].data[:])


def edit(document: Path, change) -> None:
    doc = json.loads(document.read_text())
    change(doc)
    document.write_text(json.dumps(doc))


def mark(state: str):
    def add(doc: dict) -> None:
        doc["hdmf_zarr.write_state"] = {
            "must_understand": False,
            "state": state,
            "host": "lab-pc",
            "pid": 4242,
            "writer": "0123abcd",
            "started": "2025-01-02T03:04:05+00:00",
        }

    return add


# ---------------------------------------------------------------------------------------------- verify
def test_a_clean_file_verifies_clean(written: Path) -> None:
    report = verify_store(open_store(str(written), "r"))
    assert report.problems == [] and report.ok
    assert report.chunks >= 5 and report.bytes_read > 0
    result = run("verify", written)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [report.summary()]
    assert "no problems found" in result.output and "nodes" in result.output and "chunks checked" in result.output


def test_a_missing_chunk_names_the_dataset_and_the_chunk(copy: Path) -> None:
    (copy / DATA / "c" / "1" / "0").unlink()
    for decode in (True, False):
        problems = verify(copy, decode=decode)
        assert [(p.path, p.kind) for p in problems] == [("/acquisition/ts/data", "missing-chunk")]
        assert "'c/1/0'" in problems[0].message
    result = run("verify", copy)
    assert result.exit_code == 1
    assert result.output.startswith("/acquisition/ts/data: missing-chunk: chunk 'c/1/0' is missing")
    assert result.output.strip().endswith("1 problem")


def test_a_chunk_that_does_not_decode(copy: Path) -> None:
    (copy / DATA / "c" / "2" / "0").write_bytes(b"these bytes are not zstd")
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/acquisition/ts/data", "damaged-chunk")]
    assert "'c/2/0'" in problems[0].message and "does not decode" in problems[0].message
    assert verify(copy, decode=False) == []  # only existence checked
    result = run("verify", copy)
    assert result.exit_code == 1 and "damaged-chunk" in result.output
    assert run("verify", "--no-decode", copy).exit_code == 0


def test_a_deleted_node_document_then_repair(copy: Path) -> None:
    (copy / "processing" / "zarr.json").unlink()
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/processing", "missing-node")]
    assert "consolidated metadata lists this group" in problems[0].message
    result = run("repair", copy)
    assert result.exit_code == 0, result.output
    assert "rebuilt the consolidated metadata" in result.output and "1 removed" in result.output
    assert verify(copy) == []
    np.testing.assert_array_equal(read_data(copy), VALUES)


def test_a_changed_shape_names_the_field_then_repair(copy: Path) -> None:
    edit(copy / DATA / "zarr.json", lambda doc: doc.update(shape=[60, 4]))
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/acquisition/ts/data", "block-mismatch")]
    assert "shape ([60, 4] in zarr.json, [50, 4] in the consolidated metadata)" in problems[0].message
    result = run("verify", copy)
    assert result.exit_code == 1 and "block-mismatch" in result.output
    assert repair(copy).changes
    assert verify(copy) == []  # the chunks beyond the recorded 50 rows may be absent
    data = read_data(copy)
    assert data.shape == (60, 4)
    np.testing.assert_array_equal(data[:50], VALUES)


def test_changed_attributes_are_named(copy: Path) -> None:
    edit(copy / DATA / "zarr.json", lambda doc: doc["attributes"].update(unit="mV", comment="new"))
    (problem,) = verify(copy)
    assert problem.kind == "block-mismatch" and "attributes (comment, unit)" in problem.message


def test_a_node_the_block_does_not_list_then_repair(copy: Path) -> None:
    (copy / "analysis" / "extra").mkdir()
    (copy / "analysis" / "extra" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/analysis/extra", "unlisted-node")]
    assert "1 added" in repair(copy).changes[0]
    assert verify(copy) == []


def test_a_damaged_block_then_repair(copy: Path) -> None:
    edit(copy / "zarr.json", lambda doc: doc.update(consolidated_metadata=[1, 2]))
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/", "damaged-block")]
    assert repair(copy).changes
    assert verify(copy) == []
    np.testing.assert_array_equal(read_data(copy), VALUES)


def test_an_interrupted_edit_is_incomplete_then_repair(copy: Path) -> None:
    edit(copy / "zarr.json", mark("appending"))
    problems = verify(copy)
    assert [(p.path, p.kind) for p in problems] == [("/", "incomplete")]
    assert "appending since 2025-01-02T03:04:05+00:00 by process 4242 on lab-pc" in problems[0].message
    with pytest.warns(UserWarning, match="incomplete"):
        read_data(copy)  # mode 'r' reads the file as it was before the edit
    result = run("repair", copy)
    assert result.exit_code == 0, result.output
    assert "removed the write mark" in result.output
    assert "hdmf_zarr.write_state" not in json.loads((copy / "zarr.json").read_text())
    assert verify(copy) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        np.testing.assert_array_equal(read_data(copy), VALUES)


def test_an_unfinished_new_file_is_repaired_only_with_force(copy: Path) -> None:
    edit(copy / "zarr.json", mark("writing"))
    before = (copy / "zarr.json").read_bytes()
    (problem,) = verify(copy)
    assert problem.kind == "incomplete" and "writing since" in problem.message
    report = repair(copy)
    assert not report.ok and report.changes == [] and "--force" in report.refused
    result = run("repair", copy)
    assert result.exit_code == 1 and "was not repaired" in result.output and "--force" in result.output
    assert (copy / "zarr.json").read_bytes() == before
    result = run("repair", "--force", copy)
    assert result.exit_code == 0, result.output
    assert "may lack data" in result.output
    assert verify(copy) == []
    np.testing.assert_array_equal(read_data(copy), VALUES)


def test_repair_refuses_a_damaged_document(copy: Path) -> None:
    (copy / "general" / "zarr.json").write_text("{not json")
    before = (copy / "zarr.json").read_bytes()
    (problem,) = verify(copy)
    assert (problem.path, problem.kind) == ("/general", "damaged-metadata")
    assert "not valid JSON" in problem.message
    report = repair(copy)
    assert not report.ok and [p.path for p in report.problems] == ["/general"]
    result = run("repair", copy)
    assert result.exit_code == 1 and "/general: damaged-metadata" in result.output
    assert (copy / "zarr.json").read_bytes() == before


def test_repair_refuses_an_array_that_lost_its_document(copy: Path) -> None:
    (copy / DATA / "zarr.json").unlink()
    (problem,) = verify(copy)
    assert (problem.path, problem.kind) == ("/acquisition/ts/data", "missing-node")
    report = repair(copy)
    assert not report.ok and report.problems[0].path == "/acquisition/ts/data"


def test_a_codec_that_is_not_installed(copy: Path) -> None:
    def rename(doc: dict) -> None:
        doc["codecs"][1]["name"] = "no-such-codec"

    edit(copy / DATA / "zarr.json", rename)
    edit(copy / "zarr.json", lambda root: rename(root["consolidated_metadata"]["metadata"][DATA]))
    (problem,) = verify(copy)
    assert (problem.path, problem.kind) == ("/acquisition/ts/data", "missing-codec")
    assert "'no-such-codec'" in problem.message
    assert verify(copy, decode=False) == []
    report = repair(copy)
    assert not report.ok and report.problems[0].kind == "missing-codec"


def test_stray_objects_are_warnings(copy: Path) -> None:
    (copy / DATA / "c" / "9").mkdir()
    (copy / DATA / "c" / "9" / "0").write_bytes(b"x")
    (copy / "general" / "zarr.json.123.456.partial").write_text("{")
    report = verify_store(open_store(str(copy), "r"))
    assert report.ok and report.errors == []
    assert sorted((p.path, p.kind) for p in report.warnings) == [
        ("/acquisition/ts/data", "extra-chunk"),
        ("/general/zarr.json.123.456.partial", "stray-object"),
    ]
    result = run("verify", copy)
    assert result.exit_code == 0 and "extra-chunk (warning): 'c/9/0'" in result.output
    assert "no problems found, 2 warnings" in result.output


def test_repair_of_a_clean_file_changes_nothing(copy: Path) -> None:
    before = (copy / "zarr.json").read_bytes()
    result = run("repair", copy)
    assert result.exit_code == 0 and "nothing to repair" in result.output
    assert (copy / "zarr.json").read_bytes() == before


def test_repair_waits_for_no_writer(copy: Path) -> None:
    edit(copy / "zarr.json", mark("appending"))
    lock = WriterLock.acquire(str(copy), "a")
    if lock is None:
        pytest.skip("no file locks here")
    try:
        with pytest.raises(ConcurrentWriteError):
            repair(copy)
        assert run("repair", copy).exit_code == 1
    finally:
        lock.release()
    assert repair(copy).changes


def test_a_zarr_v2_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.zarr"
    zarr.open_group(str(path), mode="w", zarr_format=2).create_group("x")
    with pytest.raises(ValueError, match="Zarr v2 file"):
        verify_store(open_store(str(path), "r"))
    result = run("verify", path)
    assert result.exit_code == 1 and "Zarr v2 file" in result.output


def test_command_line_errors(copy: Path) -> None:
    assert run("verify", copy, "--storage-options", "not json").exit_code == 2
    assert run("verify", copy, "--storage-options", "[1]").exit_code == 2
    assert run("verify", copy.parent / "nothing-here").exit_code == 1


def test_verify_over_s3(s3_server, s3_bucket) -> None:
    url = s3_server.url(s3_bucket, "remote.nwb.zarr")
    options = s3_server.storage_options()
    with NWBZarrIO(url, "w", storage_options=options) as io:
        io.write(_nwbfile())
    result = run("verify", url, "--storage-options", json.dumps(options))
    assert result.exit_code == 0 and "no problems found" in result.output, result.output
    store = open_store(url, "r+", options)
    sync(store.delete(f"{DATA}/c/3/0"))
    report = verify_store(open_store(url, "r", options), decode=False)
    assert [(p.path, p.kind) for p in report.problems] == [("/acquisition/ts/data", "missing-chunk")]
    assert "'c/3/0'" in report.problems[0].message
