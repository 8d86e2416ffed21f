"""``hdmf-zarr info`` and ``hdmf-zarr convert --icechunk`` on Icechunk repositories: versions, history, commits."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from pynwb import NWBHDF5IO
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr._roundtrip import compare_files
from hdmf_zarr.cli import cli
from hdmf_zarr.nwb import NWBZarrIO

icechunk = pytest.importorskip("icechunk")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _nwbfile():
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(100.0)))
    return nwbfile


def _repository(path):
    return icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))


def _messages(path) -> list[str]:
    return [snapshot.message for snapshot in _repository(path).ancestry(branch="main")]


@pytest.fixture
def repo_path(tmp_path):
    """A repository with two commits: the file with ``ts``, then ``added`` appended."""
    path = tmp_path / "session.icechunk"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    with NWBZarrIO(repo, "w", commit_message="first version") as io:
        io.write(_nwbfile())
    with NWBZarrIO(path, "a", commit_message="add a series") as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name="added", data=np.arange(3.0)))
        io.write(nwbfile)
    return path


@pytest.fixture
def h5_path(tmp_path):
    path = tmp_path / "source.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(_nwbfile())
    return path


# ----------------------------------------------------------------------------------------- info
def test_info_shows_branch_snapshot_and_history(repo_path):
    tip = _repository(repo_path).lookup_branch("main")
    result = run("info", repo_path)
    assert result.exit_code == 0, result.output
    assert f"Version: Icechunk branch main, snapshot {tip}" in result.output
    assert "History: 3 commits, newest first" in result.output
    history = result.output[result.output.index("History:") :]
    assert history.index("add a series") < history.index("first version") < history.index("Repository initialized")
    assert tip in history and "added/" in result.output and "ts/" in result.output
    assert "consolidated" not in result.output  # a snapshot needs no consolidated block: nothing to warn about
    assert "Warning" not in result.output


def test_info_history_option_limits_the_commits(repo_path):
    result = run("info", repo_path, "--history", "1")
    assert result.exit_code == 0, result.output
    assert "History: the last commit" in result.output and "add a series" in result.output
    assert "first version" not in result.output
    assert "History" not in run("info", repo_path, "--history", "0").output


def test_info_of_an_older_snapshot_shows_the_older_tree(repo_path):
    repo = _repository(repo_path)
    older = [s.id for s in repo.ancestry(branch="main")][1]
    result = run("info", repo_path, "--snapshot", older)
    assert result.exit_code == 0, result.output
    assert f"Version: Icechunk snapshot {older}" in result.output
    assert "ts/" in result.output and "added/" not in result.output
    assert "add a series" not in result.output and "first version" in result.output


def test_info_of_a_tag_and_a_branch(repo_path):
    repo = _repository(repo_path)
    older = [s.id for s in repo.ancestry(branch="main")][1]
    repo.create_tag("v1", older)
    repo.create_branch("dev", older)
    tagged = run("info", repo_path, "--tag", "v1")
    assert tagged.exit_code == 0 and f"Version: Icechunk tag v1, snapshot {older}" in tagged.output
    assert "added/" not in tagged.output
    dev = run("info", repo_path, "--branch", "dev")
    assert dev.exit_code == 0 and f"Version: Icechunk branch dev, snapshot {older}" in dev.output


def test_info_names_a_missing_version_and_the_existing_ones(repo_path):
    result = run("info", repo_path, "--branch", "nope")
    assert result.exit_code == 1
    assert "has no such version" in result.output and "its branches: main" in result.output
    assert len(result.output.strip().splitlines()) == 1
    both = run("info", repo_path, "--branch", "main", "--tag", "v1")
    assert both.exit_code == 2 and "at most one" in both.output


def test_versions_are_refused_for_a_plain_zarr_file(tmp_path):
    path = tmp_path / "plain.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(_nwbfile())
    result = run("info", path, "--branch", "main")
    assert result.exit_code == 1 and "not an Icechunk repository" in result.output
    assert "Version:" not in run("info", path).output


# ----------------------------------------------------------------------------------------- convert
def test_convert_hdf5_into_a_new_repository(tmp_path, h5_path):
    dst = tmp_path / "converted.icechunk"
    result = run("convert", h5_path, dst, "--icechunk")
    assert result.exit_code == 0, result.output
    tip = _repository(dst).lookup_branch("main")
    assert f"Icechunk repository, branch main at snapshot {tip}" in result.output
    assert _messages(dst) == [f"hdmf-zarr convert {h5_path}", "Repository initialized"]
    with NWBHDF5IO(h5_path, "r") as source, NWBZarrIO(dst, "r") as converted:
        assert compare_files(source.read(), converted.read()) == []
    info = run("info", dst)
    assert info.exit_code == 0 and f"hdmf-zarr convert {h5_path}" in info.output


def test_convert_zarr_into_a_repository(tmp_path, h5_path):
    zarr_path = tmp_path / "source.nwb.zarr"
    assert run("convert", h5_path, zarr_path).exit_code == 0
    dst = tmp_path / "from_zarr.icechunk"
    result = run("convert", zarr_path, dst, "--icechunk")
    assert result.exit_code == 0, result.output
    assert _messages(dst)[0] == f"hdmf-zarr convert {zarr_path}"
    with NWBZarrIO(zarr_path, "r") as source, NWBZarrIO(dst, "r") as converted:
        assert compare_files(source.read(), converted.read()) == []


def test_an_existing_repository_is_refused_without_overwrite(repo_path, h5_path):
    before = _messages(repo_path)
    result = run("convert", h5_path, repo_path, "--icechunk")
    assert result.exit_code == 1 and "already holds an Icechunk repository" in result.output
    assert "--overwrite" in result.output
    assert _messages(repo_path) == before


def test_overwrite_commits_the_new_content_on_top_of_the_history(repo_path, h5_path):
    before = _messages(repo_path)
    result = run("convert", h5_path, repo_path, "--icechunk", "--overwrite")
    assert result.exit_code == 0, result.output
    assert _messages(repo_path) == [f"hdmf-zarr convert {h5_path}", *before]
    with NWBZarrIO(repo_path, "r") as io:
        assert sorted(io.read().acquisition) == ["ts"]  # "added" was replaced with the source's content
    older = [s.id for s in _repository(repo_path).ancestry(branch="main")][1]
    with NWBZarrIO(repo_path, "r", snapshot_id=older) as io:
        assert sorted(io.read().acquisition) == ["added", "ts"]


def test_a_folder_that_is_not_a_repository_is_refused_without_overwrite(tmp_path, h5_path):
    dst = tmp_path / "taken"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    result = run("convert", h5_path, dst, "--icechunk")
    assert result.exit_code == 1 and "already exists" in result.output
    assert (dst / "keep.txt").read_text() == "mine"


def test_a_failed_conversion_commits_nothing(repo_path, h5_path, tmp_path, monkeypatch):
    from hdmf_zarr._write import commit

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(commit.Committer, "commit", broken)
    before = _messages(repo_path)
    result = run("convert", h5_path, repo_path, "--icechunk", "--overwrite")
    assert result.exit_code == 1 and "disk on fire" in result.output
    assert _messages(repo_path) == before
    monkeypatch.undo()
    with NWBZarrIO(repo_path, "r") as io:
        assert sorted(io.read().acquisition) == ["added", "ts"]
    monkeypatch.setattr(commit.Committer, "commit", broken)
    fresh = tmp_path / "fresh.icechunk"
    assert run("convert", h5_path, fresh, "--icechunk").exit_code == 1
    assert not fresh.exists()  # a repository made for the conversion is removed


def test_storage_options_need_a_url_destination(tmp_path, h5_path):
    result = run("convert", h5_path, tmp_path / "x.icechunk", "--icechunk", "--storage-options", "{}")
    assert result.exit_code == 2 and "URL" in result.output


def test_info_and_convert_on_an_s3_repository(s3_server, s3_bucket, h5_path):
    import json

    options = json.dumps(s3_server.storage_options())
    url = f"s3://{s3_bucket}/converted.icechunk"
    result = run("convert", h5_path, url, "--icechunk", "--storage-options", options)
    assert result.exit_code == 0, result.output
    info = run("info", url, "--storage-options", options)
    assert info.exit_code == 0, info.output
    assert "Version: Icechunk branch main" in info.output and f"hdmf-zarr convert {h5_path}" in info.output
    again = run("convert", h5_path, url, "--icechunk", "--storage-options", options)
    assert again.exit_code == 1 and "already holds an Icechunk repository" in again.output


def test_convert_zarr_v2_into_a_repository(testdata, tmp_path):
    source = next(iter(sorted((testdata / "zarr_v2").glob("*.nwb.zarr"))), None)
    if source is None:
        pytest.skip("no Zarr v2 file in the test-data corpus")
    dst = tmp_path / "from_v2.icechunk"
    result = run("convert", source, dst, "--icechunk", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _messages(dst)[0] == f"hdmf-zarr convert {source}"
    with NWBZarrIO(str(source), mode="r") as v2, NWBZarrIO(dst, mode="r") as converted:
        assert compare_files(v2.read(), converted.read()) == []
