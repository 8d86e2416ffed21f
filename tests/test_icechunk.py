"""Icechunk repositories: one commit per write, nothing committed when it fails, history, branches, conflicts.

Real Icechunk storage: a local folder, memory, and the loopback S3 server. The store-parametrised round trips
of tests/test_stores.py run on Icechunk too (kinds ``icechunk-local`` and ``icechunk-memory``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.errors import ConcurrentWriteError, InvalidNameError

icechunk = pytest.importorskip("icechunk")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _nwbfile(*names: str):
    nwbfile = mock_NWBFile()
    for i, name in enumerate(names):
        nwbfile.add_acquisition(mock_TimeSeries(name=name, data=np.arange(10.0) + i))
    return nwbfile


def _append(location, name: str, **kwargs) -> None:
    with NWBZarrIO(location, "a", **kwargs) as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name=name, data=np.arange(3.0)))
        io.write(nwbfile)


def _names(location, **kwargs) -> list[str]:
    with NWBZarrIO(location, "r", **kwargs) as io:
        return sorted(io.read().acquisition)


@pytest.fixture
def local_repo(tmp_path):
    path = tmp_path / "session.icechunk"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    with NWBZarrIO(repo, "w") as io:
        io.write(_nwbfile("ts"))
    return path


def _history(path) -> list[str]:
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))
    return [snapshot.message for snapshot in repo.ancestry(branch="main")]


def test_a_write_is_one_commit_and_the_folder_is_recognised(local_repo):
    assert _history(local_repo) == ["hdmf_zarr 0.15.0: write of NWBZarrIO in mode 'w'", "Repository initialized"]
    assert _names(local_repo) == ["ts"]  # the folder itself is opened as the repository
    import pynwb

    assert sorted(pynwb.read_nwb(local_repo).acquisition) == ["ts"]


def test_an_edit_is_one_commit_with_its_message(local_repo):
    _append(local_repo, "added", commit_message="add a series")
    assert _history(local_repo)[0] == "add a series"
    assert len(_history(local_repo)) == 3
    assert _names(local_repo) == ["added", "ts"]
    with NWBZarrIO(local_repo, "a") as io:  # opened to edit, nothing changed: no commit
        io.read()
    assert len(_history(local_repo)) == 3


def test_no_consolidated_metadata_is_written(local_repo):
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(local_repo)))
    store = repo.readonly_session("main").store
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    root = json.loads(sync(store.get("zarr.json", prototype=default_buffer_prototype())).to_bytes())
    assert "consolidated_metadata" not in root or root["consolidated_metadata"] is None
    assert "hdmf_zarr.write_state" not in root


def test_nothing_is_committed_when_the_write_raises(local_repo):
    before = _history(local_repo)
    with pytest.raises(InvalidNameError):
        with NWBZarrIO(local_repo, "a") as io:
            nwbfile = io.read()
            nwbfile.add_acquisition(mock_TimeSeries(name="ok", data=np.arange(3.0)))
            nwbfile.add_acquisition(mock_TimeSeries(name="..", data=np.arange(3.0)))
            io.write(nwbfile)
    assert _history(local_repo) == before
    assert _names(local_repo) == ["ts"]


def test_older_snapshots_and_tags_read_as_they_were(local_repo):
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(local_repo)))
    first = repo.lookup_branch("main")
    repo.create_tag("v1", first)
    _append(local_repo, "added")
    assert _names(local_repo) == ["added", "ts"]
    assert _names(local_repo, snapshot_id=first) == ["ts"]
    assert _names(local_repo, tag="v1") == ["ts"]
    with pytest.raises(ValueError, match="at most one"):
        NWBZarrIO(local_repo, "r", tag="v1", snapshot_id=first)


def test_a_branch_is_written_apart_from_main(local_repo):
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(local_repo)))
    repo.create_branch("dev", repo.lookup_branch("main"))
    _append(local_repo, "on_dev", branch="dev")
    assert _names(local_repo, branch="dev") == ["on_dev", "ts"]
    assert _names(local_repo) == ["ts"]


def test_two_writers_on_one_branch_one_commits_the_other_gets_a_conflict():
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    with NWBZarrIO(repo, "w") as io:
        io.write(_nwbfile("ts"))
    first, second = NWBZarrIO(repo, "a"), NWBZarrIO(repo, "a")
    file_one, file_two = first.read(), second.read()
    file_one.add_acquisition(mock_TimeSeries(name="one", data=np.arange(3.0)))
    file_two.add_acquisition(mock_TimeSeries(name="two", data=np.arange(3.0)))
    first.write(file_one)
    second.write(file_two)
    first.close()
    with pytest.raises(ConcurrentWriteError, match="another writer committed"):
        second.close()
    assert _names(repo) == ["one", "ts"]


_KILLED_APPEND = """
import os, signal, sys
import numpy as np
from pynwb.testing.mock.base import mock_TimeSeries
from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

with NWBZarrIO(sys.argv[1], "a") as io:
    nwbfile = io.read()
    nwbfile.add_acquisition(mock_TimeSeries(name="added", data=ZarrDataIO(np.arange(400.0), chunks=(10,))))
    io.write(nwbfile)
    os.kill(os.getpid(), signal.SIGKILL)  # everything written, the commit not made
"""


def test_an_append_killed_before_its_commit_leaves_the_branch_as_it_was(local_repo):
    before = _history(local_repo)
    code = textwrap.dedent(_KILLED_APPEND)
    done = subprocess.run([sys.executable, "-c", code, str(local_repo)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _history(local_repo) == before
    assert _names(local_repo) == ["ts"]
    _append(local_repo, "next")  # the next writer succeeds
    assert _names(local_repo) == ["next", "ts"]


def test_a_repository_on_s3_is_recognised_by_its_url(s3_server, s3_bucket):
    options = s3_server.storage_options()
    endpoint = options.get("endpoint_url") or options["client_kwargs"]["endpoint_url"]
    storage = icechunk.s3_storage(
        bucket=s3_bucket,
        prefix="repo.icechunk",
        endpoint_url=endpoint,
        allow_http=True,
        force_path_style=True,
        access_key_id=options["key"],
        secret_access_key=options["secret"],
        region="us-east-1",
    )
    repo = icechunk.Repository.create(storage)
    with NWBZarrIO(repo, "w") as io:
        io.write(_nwbfile("ts"))
    url = f"s3://{s3_bucket}/repo.icechunk"
    assert _names(url, storage_options=options) == ["ts"]
    _append(url, "added", storage_options=options)
    assert _names(url, storage_options=options) == ["added", "ts"]
    assert len(list(repo.ancestry(branch="main"))) == 3


def test_without_icechunk_installed_the_error_names_the_extra(local_repo, monkeypatch):
    monkeypatch.setitem(sys.modules, "icechunk", None)
    with pytest.raises(ImportError, match=r"hdmf-zarr\[icechunk\]"):
        NWBZarrIO(local_repo, "r")


def test_a_local_repository_is_locked_against_a_second_writer(local_repo):
    first = NWBZarrIO(local_repo, "a")
    with pytest.raises(ConcurrentWriteError):
        NWBZarrIO(local_repo, "a")
    first.close()
    assert os.path.isdir(local_repo)


def test_versions_are_refused_for_other_stores(tmp_path):
    path = tmp_path / "plain.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(_nwbfile("ts"))
    with pytest.raises(ValueError, match="Icechunk repository"):
        NWBZarrIO(path, "r", branch="main")
