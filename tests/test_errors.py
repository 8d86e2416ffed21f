"""Bad input: clear errors naming the object and the fix, and nothing already written is lost."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from hdmf.build import DatasetBuilder, GroupBuilder

from hdmf_zarr import NWBZarrIO, ZarrIO
from hdmf_zarr._repair import repair_store
from hdmf_zarr.cli import cli
from hdmf_zarr.errors import IncompleteFileError


def _write_builder(path, root: GroupBuilder, mode="w"):
    with ZarrIO(path, mode) as io:
        io.write_builder(root)


def test_unstorable_attribute_names_attribute_and_object(zarr_path):
    root = GroupBuilder("root", groups={"g": GroupBuilder("g", attributes={"bad": object()})})
    with pytest.raises(TypeError, match=r"'bad' on '/g'"):
        _write_builder(zarr_path, root)


def test_bytes_that_are_not_utf8_name_the_dataset(zarr_path):
    root = GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=[b"\xff\xfe"], dtype="ascii")})
    with pytest.raises(ValueError, match=r"Dataset 'd'.*not valid UTF-8"):
        _write_builder(zarr_path, root)


def test_empty_data_without_dtype_says_how_to_fix(zarr_path):
    root = GroupBuilder("root", datasets={"empty": DatasetBuilder("empty", data=[])})
    with pytest.raises(ValueError, match=r"'/empty'.*no dtype"):
        _write_builder(zarr_path, root)


def test_failed_write_in_append_mode_leaves_file_unchanged(zarr_path):
    _write_builder(zarr_path, GroupBuilder("root", groups={"g": GroupBuilder("g", attributes={"a": 1})}))
    before = {p.relative_to(zarr_path): p.read_bytes() for p in zarr_path.rglob("*") if p.is_file()}
    with ZarrIO(zarr_path, "a") as io:
        root = io.read_builder()
        root.set_dataset(DatasetBuilder("good", data=np.arange(3)))
        root["g"].set_group(GroupBuilder("new", attributes={"bad": {1, object()}}))
        with pytest.raises(TypeError, match="'bad' on '/g/new'"):
            io.write_builder(root)
    after = {p.relative_to(zarr_path): p.read_bytes() for p in zarr_path.rglob("*") if p.is_file()}
    assert after == before


def test_bad_link_target_on_read(zarr_path):
    root = GroupBuilder("root", groups={"g": GroupBuilder("g")})
    _write_builder(zarr_path, root)
    meta_path = zarr_path / "g" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["_LINKS"] = [{"source": ".", "path": "/does/not/exist", "name": "broken"}]
    meta_path.write_text(json.dumps(meta))
    (zarr_path / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    with ZarrIO(zarr_path, "r") as io:
        with pytest.raises(ValueError, match="Found bad link to object /does/not/exist"):
            io.read_builder()


def test_zarr_v2_store_is_read_only(tmp_path):
    store = tmp_path / "legacy.zarr"
    store.mkdir()
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    with ZarrIO(store, "r") as io:
        assert io.read_builder().name == "root"
    for mode in ("a", "r+"):
        with pytest.raises(ValueError, match=r"Zarr v2 file.*cannot be opened in mode.*convert_to_v3"):
            NWBZarrIO(store, mode)
    assert sorted(p.name for p in store.iterdir()) == [".zgroup"]


def _compound_file(zarr_path):
    """A file with one compound dataset whose text field holds at most 512 characters."""
    fields = [{"name": "name", "dtype": "text"}, {"name": "value", "dtype": "int32"}]
    data = np.array([("a", 1)], dtype=[("name", "U512"), ("value", "i4")])
    root = GroupBuilder("root", datasets={"tbl": DatasetBuilder("tbl", data=data, dtype=fields)})
    _write_builder(zarr_path, root)


def test_compound_text_field_too_narrow_for_appended_row(zarr_path):
    _compound_file(zarr_path)
    with ZarrIO(zarr_path, "a") as io:
        array = io.read_builder()["tbl"].data
        array.append(np.array([("b" * 40, 2)], dtype=[("name", "U40"), ("value", "i4")]))
        with pytest.raises(ValueError, match="compound dataset '/?tbl': a value in field 'name' needs 600 characters"):
            array.append(np.array([("x" * 600, 3)], dtype=[("name", "U600"), ("value", "i4")]))
    # an edit in which a change raised is left unfinished: readers see the file as it was before the edit
    with pytest.warns(UserWarning, match="as it was before that edit"), ZarrIO(zarr_path, "r") as io:
        assert io.read_builder()["tbl"].data[:]["name"].tolist() == ["a"]
    with pytest.raises(IncompleteFileError, match="repair"):
        ZarrIO(zarr_path, "a")
    repair_store(zarr.storage.LocalStore(zarr_path))  # keeps what the edit wrote: the first row appended
    with ZarrIO(zarr_path, "r") as io:
        assert io.read_builder()["tbl"].data[:]["name"].tolist() == ["a", "b" * 40]


def test_a_refused_first_change_leaves_the_file_untouched(zarr_path):
    _compound_file(zarr_path)
    with ZarrIO(zarr_path, "a") as io:
        with pytest.raises(ValueError, match="needs 600 characters"):
            io.read_builder()["tbl"].data.append(np.array([("x" * 600, 3)], dtype=[("name", "U600"), ("value", "i4")]))
    with ZarrIO(zarr_path, "a") as io:
        assert io.read_builder()["tbl"].data[:]["name"].tolist() == ["a"]


def test_reference_to_an_object_outside_the_file_is_refused(zarr_path):
    from hdmf.build import ReferenceBuilder

    stray = GroupBuilder("stray")
    root = GroupBuilder(
        "root",
        datasets={"refs": DatasetBuilder("refs", data=[ReferenceBuilder(stray)], dtype="object")},
    )
    with pytest.raises(ValueError, match="reference to 'stray': it is not part of the file"):
        _write_builder(zarr_path, root)
    root = GroupBuilder("root", groups={"g": GroupBuilder("g", attributes={"ref": ReferenceBuilder(stray)})})
    with pytest.raises(ValueError, match="reference to 'stray'"):
        _write_builder(zarr_path, root)


def test_link_to_an_object_outside_the_file_is_refused(zarr_path):
    from hdmf.build import LinkBuilder

    stray = GroupBuilder("stray")
    root = GroupBuilder("root", groups={"g": GroupBuilder("g", links={"l": LinkBuilder(stray, name="l")})})
    with pytest.raises(ValueError, match="'stray': it is not part of the file"):
        _write_builder(zarr_path, root)


def test_unreachable_remote_store_lets_a_connection_error_through():
    import socket

    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = {
        "anon": True,
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    with pytest.raises(OSError, match="Cannot reach the store at 's3://bucket/f.nwb.zarr'") as raised:
        NWBZarrIO("s3://bucket/f.nwb.zarr", "r", storage_options=options)
    assert isinstance(raised.value, ConnectionError)
    assert "not a Zarr store" not in str(raised.value)


def _trials_file(path):
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile()
    series = mock_TimeSeries(name="ts")
    nwbfile.add_acquisition(series)
    nwbfile.add_trial(start_time=0.0, stop_time=1.0, timeseries=[series])
    with NWBZarrIO(path, "w") as io:
        io.write(nwbfile)


def _add_series_and_trial(nwbfile, name_length):
    """A TimeSeries nested three levels deep (its path is about 3 x name_length long) and a trial referencing it."""
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.testing.mock.base import mock_TimeSeries

    module = nwbfile.create_processing_module("p" * name_length, "a module")
    behavior = BehavioralTimeSeries(name="b" * name_length)
    module.add(behavior)
    series = mock_TimeSeries(name="t" * name_length)
    behavior.add_timeseries(series)
    nwbfile.add_trial(start_time=1.0, stop_time=2.0, timeseries=[series])
    return series


def test_appended_row_references_an_object_added_since_the_read(zarr_path):
    """A reference in a row appended in mode 'a' to an object added in the same session points to that object
    (it used to be stored as '/', the root)."""
    _trials_file(zarr_path)
    with NWBZarrIO(zarr_path, "a") as io:
        nwbfile = io.read()
        _add_series_and_trial(nwbfile, 12)
        io.write(nwbfile)
    with NWBZarrIO(zarr_path, "r") as io:
        rows = io.read().trials["timeseries"][:]
        assert [row[0].timeseries.name for row in rows] == ["ts", "t" * 12]


def test_appended_reference_too_long_for_the_stored_field_is_refused(zarr_path):
    _trials_file(zarr_path)
    with NWBZarrIO(zarr_path, "a") as io:
        nwbfile = io.read()
        with pytest.raises(ValueError, match=r"compound dataset '/intervals/trials/timeseries'.*field 'timeseries'"):
            _add_series_and_trial(nwbfile, 200)
    stored = zarr.open_array(f"{zarr_path}/intervals/trials/timeseries", mode="r")[:]
    assert stored["timeseries"].tolist() == ["/acquisition/ts"]  # nothing truncated was written
    # the columns appended before the refused one are not committed: readers see the table as it was
    with pytest.warns(UserWarning, match="as it was before that edit"), NWBZarrIO(zarr_path, "r") as io:
        trials = io.read().trials
        assert len(trials) == 1 and len(trials["start_time"].data[:]) == 1
    result = CliRunner().invoke(cli, ["repair", "--rollback", str(zarr_path)])
    assert result.exit_code == 0, result.output
    with NWBZarrIO(zarr_path, "a") as io:  # the next writer works on the file as it was
        assert len(io.read().trials) == 1
