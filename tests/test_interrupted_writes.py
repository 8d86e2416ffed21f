"""Writers killed part way (SIGKILL), and two writers at once: a reader can always tell, and nothing is lost.

A child process writes (or appends to) a file and kills itself at the Nth file it stores (counting the
documents we write and the chunks zarr writes), so every test kill lands at a known point of the write.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.cli import cli
from hdmf_zarr.errors import ConcurrentWriteError, IncompleteFileError
from hdmf_zarr.utils import ZarrDataIO

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning"),
]

#: run in the child: count stored files, SIGKILL ourselves at the KILL_AT-th (0: never), print the total
_KILLER = """
import os, signal, sys
import zarr.storage._local as local
from hdmf_zarr._write import commit

kill_at = int(os.environ["KILL_AT"])
count = [0]

def tick():
    count[0] += 1
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

real_replace, real_put = os.replace, local._put

def replace(src, dst, *args, **kwargs):
    tick()
    return real_replace(src, dst, *args, **kwargs)

def put(path, value, exclusive=False):
    tick()
    return real_put(path, value, exclusive)

commit.os.replace = replace
local._put = put
"""

_WRITE = """
import numpy as np
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

nwbfile = mock_NWBFile()
for i in range(3):
    data = np.arange(400.0).reshape(100, 4) + i
    data[:30] = 0  # fill-valued chunks are stored too
    nwbfile.add_acquisition(mock_TimeSeries(name=f"ts{i}", data=ZarrDataIO(data, chunks=(10, 4))))
with NWBZarrIO(sys.argv[1], "w") as io:
    io.write(nwbfile)
print("COUNT", count[0])
"""

_APPEND = """
import numpy as np
from pynwb.testing.mock.base import mock_TimeSeries
from hdmf_zarr import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

with NWBZarrIO(sys.argv[1], "a") as io:
    nwbfile = io.read()
    data = np.arange(200.0).reshape(50, 4) + 1000
    nwbfile.add_acquisition(mock_TimeSeries(name="added", data=ZarrDataIO(data, chunks=(10, 4))))
    io.write(nwbfile)
print("COUNT", count[0])
"""


def _run(script: str, path: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "KILL_AT": str(kill_at)}
    code = _KILLER + textwrap.dedent(script)
    return subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, timeout=120)


def _count(script: str, path: Path) -> int:
    done = _run(script, path, 0)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split("COUNT")[-1])


def _expected(i: int) -> np.ndarray:
    data = np.arange(400.0).reshape(100, 4) + i
    data[:30] = 0
    return data


def _read_all(path: Path, **kwargs) -> dict[str, np.ndarray]:
    with NWBZarrIO(str(path), "r", **kwargs) as io:
        nwbfile = io.read()
        return {name: np.asarray(series.data[:]) for name, series in nwbfile.acquisition.items()}


def test_a_killed_writer_leaves_a_file_every_reader_refuses(tmp_path):
    total = _count(_WRITE, tmp_path / "full.nwb.zarr")
    points = sorted({1, 2, 3, total // 4, total // 2, 3 * total // 4, total - 2, total - 1, total})
    outcomes = {}
    for point in points:
        path = tmp_path / f"killed{point}.nwb.zarr"
        done = _run(_WRITE, path, point)
        assert done.returncode == -signal.SIGKILL, (point, done.stderr)
        try:
            _read_all(path)
        except IncompleteFileError as err:
            outcomes[point] = "incomplete"
            assert "allow_incomplete=True" in str(err) and str(path) in str(err)
        except FileNotFoundError:
            outcomes[point] = "no file"  # killed before the root document existed
        else:
            outcomes[point] = "read"
    assert "read" not in outcomes.values(), outcomes
    assert outcomes[points[-2]] == "incomplete"
    # the salvage path opens what was written
    with pytest.warns(UserWarning, match="incomplete"):
        with NWBZarrIO(str(tmp_path / f"killed{points[-2]}.nwb.zarr"), "r", allow_incomplete=True) as io:
            assert io.read() is not None


def test_the_last_stored_file_makes_the_file_complete(tmp_path):
    path = tmp_path / "full.nwb.zarr"
    _count(_WRITE, path)
    root = json.loads((path / "zarr.json").read_text())
    assert "hdmf_zarr.write_state" not in root
    values = _read_all(path)
    for i in range(3):
        np.testing.assert_array_equal(values[f"ts{i}"], _expected(i))


def test_a_killed_append_leaves_the_old_file_or_the_new_one(tmp_path):
    base = tmp_path / "base.nwb.zarr"
    _count(_WRITE, base)
    probe = tmp_path / "probe.nwb.zarr"
    _copy(base, probe)
    total = _count(_APPEND, probe)
    assert set(_read_all(probe)) == {"ts0", "ts1", "ts2", "added"}
    step = max(1, total // 8)  # about ten kill points, the last two steps always among them
    for point in sorted({*range(1, total + 1, step), total - 1, total}):
        path = tmp_path / f"append{point}.nwb.zarr"
        _copy(base, path)
        done = _run(_APPEND, path, point)
        assert done.returncode == -signal.SIGKILL, (point, done.stderr)
        values = _read_all(path)  # never an error: the old file (until the last step) or the new one
        assert set(values) in ({"ts0", "ts1", "ts2"}, {"ts0", "ts1", "ts2", "added"}), point
        for i in range(3):
            np.testing.assert_array_equal(values[f"ts{i}"], _expected(i))
        if "added" in values:
            np.testing.assert_array_equal(values["added"], np.arange(200.0).reshape(50, 4) + 1000)
        elif "hdmf_zarr.write_state" in json.loads((path / "zarr.json").read_text()):
            # an unfinished edit: the next writer is told, and can go on when asked to
            with pytest.raises(IncompleteFileError, match="repair"):
                NWBZarrIO(str(path), "a")
            result = CliRunner().invoke(cli, ["repair", "--rollback", str(path)])
            assert result.exit_code == 0, result.output
            assert "rolled back" in result.output
            assert set(_read_all(path)) == {"ts0", "ts1", "ts2"}
            with NWBZarrIO(str(path), "a") as io:
                nwbfile = io.read()
                nwbfile.add_acquisition(mock_TimeSeries(name="later", data=np.arange(4.0)))
                io.write(nwbfile)
            assert "later" in _read_all(path)


def _copy(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target)


def _small_file(path: Path) -> None:
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(np.arange(40.0), chunks=(10,))))
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)


def test_a_second_writer_in_this_process_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "f.nwb.zarr"
    _small_file(path)
    first = NWBZarrIO(str(path), "a")
    with pytest.raises(ConcurrentWriteError, match="another writer"):
        NWBZarrIO(str(path), "a")
    with pytest.raises(ConcurrentWriteError):
        NWBZarrIO(str(path), "w")  # mode 'w' never clears a file that another writer has open
    with NWBZarrIO(str(path), "r") as reader:  # readers are not blocked
        assert "ts" in reader.read().acquisition
    first.close()
    with NWBZarrIO(str(path), "a") as io:
        assert "ts" in io.read().acquisition


_HOLD = """
import sys, time
from hdmf_zarr import NWBZarrIO
io = NWBZarrIO(sys.argv[1], "a")
print("OPEN", flush=True)
sys.stdin.readline()
io.close()
"""


def test_a_writer_in_another_process_holds_the_lock_until_it_dies(tmp_path):
    path = tmp_path / "f.nwb.zarr"
    _small_file(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLD), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "OPEN"
        with pytest.raises(ConcurrentWriteError):
            NWBZarrIO(str(path), "a")
    finally:
        holder.kill()  # the lock goes with the process
        holder.wait(timeout=30)
    with NWBZarrIO(str(path), "a") as io:
        assert "ts" in io.read().acquisition


def test_two_writers_on_s3_one_finishes_the_other_is_refused(s3_server, s3_bucket):
    url = s3_server.url(s3_bucket, "two.nwb.zarr")
    options = s3_server.storage_options()
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=np.arange(10.0)))
    with NWBZarrIO(url, "w", storage_options=options) as io:
        io.write(nwbfile)
    first = NWBZarrIO(url, "a", storage_options=options)
    second = NWBZarrIO(url, "a", storage_options=options)
    file_one, file_two = first.read(), second.read()
    file_one.add_acquisition(mock_TimeSeries(name="one", data=np.arange(3.0)))
    file_two.add_acquisition(mock_TimeSeries(name="two", data=np.arange(3.0)))
    first.write(file_one)
    with pytest.raises(ConcurrentWriteError, match="changed it after this IO opened it"):
        second.write(file_two)
    first.close()
    second.close()
    with NWBZarrIO(url, "r", storage_options=options) as io:
        assert set(io.read().acquisition) == {"ts", "one"}
