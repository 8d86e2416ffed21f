"""The one tree comparator of the demo and the tests (``hdmf_zarr._roundtrip``): what it reports.

``tests/_digest.py`` is separate on purpose: it runs under the reference implementation too.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, _roundtrip
from hdmf_zarr._roundtrip import MAX_DIFFERENCES, RoundTripCheck, TreeComparison, compare_files
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _write(nwbfile: Any, path: Path) -> Path:
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _edited_copy(path: Path, array: str, edit: Any) -> Path:
    """A copy of the store at ``path`` with ``edit(zarr array)`` applied to one array, metadata consolidated."""
    copy = path.with_name("edited.nwb.zarr")
    shutil.copytree(path, copy)
    edit(zarr.open_array(str(copy / array), mode="r+"))
    zarr.consolidate_metadata(str(copy))
    return copy


def test_original_and_read_back_compare_equal_only_in_written_mode(nwbfile: Any, tmp_path: Path) -> None:
    """pynwb lists trials in NWBFile.intervals on read: accepted for an original written, not between files."""
    path = _write(nwbfile, tmp_path / "f.nwb.zarr")
    with NWBZarrIO(str(path), "r") as io:
        read = io.read()
        check = RoundTripCheck()
        assert check.run(nwbfile, read) == []
        assert check.objects == len(list(nwbfile.all_children())) and check.fields and check.values
        diffs = compare_files(nwbfile, read)
    assert len(diffs) == 1 and diffs[0].startswith("/.intervals: extra in actual"), diffs


def test_changed_attribute_and_object_id_are_reported(nwbfile: Any, tmp_path: Path) -> None:
    path = _write(nwbfile, tmp_path / "f.nwb.zarr")

    def edit(array: zarr.Array) -> None:
        array.attrs["unit"] = "mV"

    changed = _edited_copy(path, "acquisition/ts/data", edit)
    group = zarr.open_group(str(changed / "acquisition" / "ts"), mode="r+")
    group.attrs["object_id"] = "00000000-0000-0000-0000-000000000000"
    zarr.consolidate_metadata(str(changed))
    with NWBZarrIO(str(changed), "r") as io:
        diffs = RoundTripCheck().run(nwbfile, io.read())
    assert sorted(d.split(":")[0] for d in diffs) == ["/ts", "/ts.unit"], diffs
    with NWBZarrIO(str(path), "r") as a, NWBZarrIO(str(changed), "r") as b:
        accepted = compare_files(a.read(), b.read(), allow=lambda path, field, expected, actual: field == "object_id")
    assert accepted == ["/ts.unit: 'volts' != 'mV'"]


def test_missing_and_extra_objects_are_reported(tmp_path: Path) -> None:
    original = mock_NWBFile()
    original.add_acquisition(mock_TimeSeries(name="kept"))
    path = _write(original, tmp_path / "f.nwb.zarr")
    with NWBZarrIO(str(path), "a") as io:
        appended = io.read()
        appended.add_acquisition(mock_TimeSeries(name="added"))
        io.write(appended)
    with NWBZarrIO(str(path), "r") as io:
        diffs = RoundTripCheck().run(original, io.read())
    assert len(diffs) == 2 and all("'added'" in d for d in diffs), diffs
    assert diffs[0].startswith("/.acquisition: members") and diffs[1].startswith("objects: TimeSeries 'added'")


def test_big_arrays_are_compared_block_by_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large numeric arrays are read a block of chunks at a time, and a difference in any block is reported."""
    monkeypatch.setattr(_roundtrip, "BLOCK_COMPARE_BYTES", 1024)
    data = np.arange(10_000, dtype="float64")
    original = mock_NWBFile()
    original.add_acquisition(mock_TimeSeries(name="big", data=ZarrDataIO(data, chunks=(100,))))
    path = _write(original, tmp_path / "f.nwb.zarr")
    blocked = []
    blocks_equal = TreeComparison._blocks_equal

    def spy(self: TreeComparison, a: Any, b: Any) -> bool:
        equal = blocks_equal(self, a, b)
        blocked.append(equal)
        return equal

    monkeypatch.setattr(TreeComparison, "_blocks_equal", spy)
    with NWBZarrIO(str(path), "r") as io:
        check = RoundTripCheck()
        assert check.run(original, io.read()) == []
    assert True in blocked and check.values >= data.size

    def edit(array: zarr.Array) -> None:
        array[9_950] = -1.0

    changed = _edited_copy(path, "acquisition/big/data", edit)
    with NWBZarrIO(str(changed), "r") as io:
        diffs = RoundTripCheck().run(original, io.read())
    assert diffs == ["/big.data: values differ: 1 value(s), first at (9950,): np.float64(9950.0) != np.float64(-1.0)"]


def test_differences_beyond_the_limit_are_counted(tmp_path: Path) -> None:
    original = mock_NWBFile()
    for i in range(MAX_DIFFERENCES + 5):
        original.add_acquisition(mock_TimeSeries(name=f"ts{i:02d}", data=np.arange(3.0)))
    path = _write(original, tmp_path / "f.nwb.zarr")
    for i in range(MAX_DIFFERENCES + 5):
        original.acquisition[f"ts{i:02d}"].fields["description"] = "changed in memory"
    with NWBZarrIO(str(path), "r") as io:
        diffs = RoundTripCheck().run(original, io.read())
    assert len(diffs) == MAX_DIFFERENCES + 1 and diffs[-1] == "... and 5 more difference(s)", diffs[-3:]
