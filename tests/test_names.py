"""Node names: the ones Zarr v3 forbids or a store cannot hold are refused before anything is written,
naming the object; legal but unusual names round-trip exactly on the folder, zip and memory stores."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from zarr.storage import MemoryStore

from hdmf_zarr import NWBZarrIO, ZarrIO
from hdmf_zarr._names import DEFAULT_NAME_MAX, ZIP_NAME_MAX, max_name_bytes, name_problem
from hdmf_zarr._write.plan import Planner
from hdmf_zarr.errors import InvalidNameError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: id -> a name every store refuses
FORBIDDEN = {
    "dot": ".",
    "dotdot": "..",
    "slash": "a/b",
    "empty": "",
    "dunder": "__meta",
    "zarr.json": "zarr.json",
    "ZARR.JSON": "ZARR.JSON",
    "nul": "a\x00b",
    "backslash": "a\\b",
    ".zgroup": ".zgroup",
    ".zarray": ".zarray",
    ".zattrs": ".zattrs",
    ".zmetadata": ".zmetadata",
    "surrogate": "a\ud800",
}
#: names longer than a local folder holds (256 bytes in UTF-8)
TOO_LONG = {"long-ascii": "x" * 256, "long-utf8": "é" * 128}

#: legal names that must come back exactly
UNUSUAL = [
    ".hidden",
    "with space",
    " lead and trail ",
    "é",
    "数据",
    "%",
    "%2F",
    "#",
    "?",
    ":",
    "*",
    "-lead",
    "a.b",
    "...",
    "_single",
    "tab\there",
    "c",
    "C",
    "zarr.json.bak",
    "x" * 255,
    "é" * 127,
]
STORES = ["folder", "zip", "memory"]


def _shown(name: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


# ------------------------------------------------------------------------------------------ stores


class Dest:
    """One store to write: a folder or zip file in ``tmp_path/sub``, or a memory store."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.sub = tmp_path / "sub"
        self.sub.mkdir(exist_ok=True)
        self.path = self.sub / ("f.zarr.zip" if kind == "zip" else "f.zarr")
        self.memory: dict[str, Any] = {}

    def open(self, mode: str) -> Any:
        if self.kind == "memory":
            return MemoryStore(self.memory, read_only=mode in ("r", "r-"))
        return self.path

    def keys(self) -> set[str]:
        """Every key of the store after the write."""
        if self.kind == "memory":
            return set(self.memory)
        if self.kind == "zip":
            with zipfile.ZipFile(self.path) as archive:
                return set(archive.namelist())
        return {p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()}

    def root_document(self) -> dict[str, Any]:
        if self.kind == "memory":
            return json.loads(self.memory["zarr.json"].to_bytes())
        if self.kind == "zip":
            with zipfile.ZipFile(self.path) as archive:
                return json.loads(archive.read("zarr.json"))
        return json.loads((self.path / "zarr.json").read_text())

    def assert_nothing_written(self) -> None:
        """The store holds only the empty root that opening it in mode 'w' wrote, and nothing is beside it."""
        assert self.keys() == {"zarr.json"}
        root = self.root_document()
        assert root.get("attributes", {}) == {}
        assert not (root.get("consolidated_metadata") or {}).get("metadata")
        beside = {p.relative_to(self.tmp_path).as_posix() for p in self.tmp_path.rglob("*")}
        if self.kind == "memory":
            assert beside == {"sub"}
        elif self.kind == "zip":
            assert beside == {"sub", "sub/f.zarr.zip"}
        else:
            assert beside == {"sub", "sub/f.zarr", "sub/f.zarr/zarr.json"}


def _tree(kind: str, name: str) -> GroupBuilder:
    """root/acquisition/<name>: a group, a dataset or a link (to root/target) named ``name``."""
    root = GroupBuilder("root")
    acquisition = GroupBuilder("acquisition")
    root.set_group(acquisition)
    target = DatasetBuilder("target", data=np.arange(3))
    root.set_dataset(target)
    if kind == "group":
        acquisition.set_group(GroupBuilder(name, datasets={"d": DatasetBuilder("d", data=np.arange(3))}))
    elif kind == "dataset":
        acquisition.set_dataset(DatasetBuilder(name, data=np.arange(3)))
    else:
        acquisition.set_link(LinkBuilder(target, name=name))
    return root


def _refused(dest: Dest, root: GroupBuilder, path: str) -> InvalidNameError:
    io = ZarrIO(dest.open("w"), "w")
    try:
        with pytest.raises(InvalidNameError, match=re.escape(f"Cannot write '{_shown(path)}'")) as info:
            io.write_builder(root)
    finally:
        io.close()
    dest.assert_nothing_written()
    return info.value


# ------------------------------------------------------------------------------------------ refused names


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("kind", ["group", "dataset", "link"])
@pytest.mark.parametrize("name", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_forbidden_names_are_refused_before_anything_is_written(tmp_path, store, kind, name):
    error = _refused(Dest(store, tmp_path), _tree(kind, name), f"/acquisition/{name}")
    assert isinstance(error, ValueError)
    assert "is not a valid Zarr node name" in str(error) and "Rename the object." in str(error)


def test_dotdot_group_puts_no_file_outside_the_store(tmp_path):
    dest = Dest("folder", tmp_path)
    root = GroupBuilder("root", groups={"..": GroupBuilder("..", datasets={"x": DatasetBuilder("x", data=[1])})})
    error = _refused(dest, root, "/..")
    assert "'..' means the parent group" in str(error)
    assert sorted(os.listdir(dest.sub)) == ["f.zarr"]


def test_a_deep_forbidden_name_is_refused_with_its_full_path(tmp_path):
    root = GroupBuilder("root")
    inner = GroupBuilder("inner", datasets={"ok": DatasetBuilder("ok", data=[1])})
    root.set_group(GroupBuilder("outer", groups={"inner": inner}))
    inner.set_dataset(DatasetBuilder("__x", data=[1]))
    error = _refused(Dest("folder", tmp_path), root, "/outer/inner/__x")
    assert "reserved by the Zarr v3 specification" in str(error)


@pytest.mark.parametrize("kind", ["group", "dataset"])
@pytest.mark.parametrize("name", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_names_too_long_for_a_folder_are_refused(tmp_path, kind, name):
    error = _refused(Dest("folder", tmp_path), _tree(kind, name), f"/acquisition/{name}")
    assert "256 bytes long in UTF-8" in str(error) and f"at most {max_name_bytes(str(tmp_path))} bytes" in str(error)


@pytest.mark.parametrize("store", ["zip", "memory"])
@pytest.mark.parametrize("name", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_long_names_are_fine_where_the_store_holds_them(tmp_path, store, name):
    dest = Dest(store, tmp_path)
    with ZarrIO(dest.open("w"), "w") as io:
        io.write_builder(_tree("dataset", name))
    with ZarrIO(dest.open("r"), "r") as io:
        assert io.read_builder()["acquisition"][name].data[:].tolist() == [0, 1, 2]


def test_a_long_link_name_is_fine_on_a_folder(tmp_path):
    """A link is an entry of ``_LINKS``, not a folder: the store's name length does not apply."""
    dest = Dest("folder", tmp_path)
    name = "x" * 300
    with ZarrIO(dest.open("w"), "w") as io:
        io.write_builder(_tree("link", name))
    with ZarrIO(dest.open("r"), "r") as io:
        read = io.read_builder()
        assert read["acquisition"].links[name].builder is read["target"]


def test_names_already_in_the_store_are_not_checked_again(tmp_path):
    """Appending to a file that another writer gave a name we refuse still works."""
    path = tmp_path / "f.zarr"
    with ZarrIO(path, "w") as io:
        io.write_builder(GroupBuilder("root", groups={"a": GroupBuilder("a")}))
    zarr.open_group(path, mode="r+").create_group("__theirs")
    with ZarrIO(path, "a") as io:
        root = io.read_builder()
        assert "__theirs" in root.groups
        root.set_dataset(DatasetBuilder("mine", data=[1, 2]))
        io.write_builder(root)
    with ZarrIO(path, "r-") as io:
        assert io.read_builder()["mine"].data[:].tolist() == [1, 2]


# ------------------------------------------------------------------------------------------ builder-level API


def _open_file(dest: Dest) -> tuple[ZarrIO, zarr.Group, DatasetBuilder]:
    io = ZarrIO(dest.open("w"), "w")
    target = DatasetBuilder("target", data=np.arange(3))
    io.write_builder(GroupBuilder("root", groups={"a": GroupBuilder("a")}, datasets={"target": target}))
    return io, zarr.open_group(io.store, mode="r+"), target


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", ["..", "__x", "zarr.json", "a/b"])
def test_builder_level_writes_refuse_forbidden_names(tmp_path, store, name):
    dest = Dest(store, tmp_path)
    io, root, target = _open_file(dest)
    try:
        before = dest.keys() if store == "memory" else None
        group = root["a"]
        with pytest.raises(InvalidNameError, match=re.escape(f"'/a/{name}'")):
            io.write_group(group, GroupBuilder(name))
        with pytest.raises(InvalidNameError, match=re.escape(f"'/a/{name}'")):
            io.write_dataset(group, DatasetBuilder(name, data=[1, 2]))
        with pytest.raises(InvalidNameError, match=re.escape(f"'/a/{name}'")):
            io.write_link(group, LinkBuilder(target, name=name))
        assert dict(group.attrs) == {}
        if before is not None:
            assert dest.keys() == before
    finally:
        io.close()
    assert sorted(dest.keys()) == ["a/zarr.json", "target/c/0", "target/zarr.json", "zarr.json"]
    if store == "folder":
        assert sorted(os.listdir(dest.sub)) == ["f.zarr"]


@pytest.mark.parametrize("store", STORES)
def test_builder_level_writes_take_unusual_names(tmp_path, store):
    dest = Dest(store, tmp_path)
    io, root, target = _open_file(dest)
    with io:
        group = io.write_group(root["a"], GroupBuilder(".g é"))
        assert io.write_dataset(group, DatasetBuilder("数据 #1", data=[1, 2]))[:].tolist() == [1, 2]
        io.write_link(group, LinkBuilder(target, name="?link"))
    for mode in ("r", "r-"):
        with ZarrIO(dest.open(mode), mode) as io:
            read = io.read_builder()
            assert read["a"][".g é"]["数据 #1"].data[:].tolist() == [1, 2]
            assert read["a"][".g é"].links["?link"].builder is read["target"]


# ------------------------------------------------------------------------------------------ attribute names


@pytest.mark.parametrize("store", STORES)
def test_attribute_names_that_json_cannot_carry_back_are_refused(tmp_path, store):
    dest = Dest(store, tmp_path)
    group = GroupBuilder("g")
    group.attributes[1] = "one"  # builders refuse it through set_attribute; a dict edit gets past
    root = GroupBuilder("root", groups={"g": group})
    io = ZarrIO(dest.open("w"), "w")
    with io:
        with pytest.raises(TypeError, match=re.escape("Cannot write attribute 1 of '/g'")):
            io.write_builder(root)
        root = GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=[1], attributes={"a\x00b": 1})})
        with pytest.raises(InvalidNameError, match=re.escape("Cannot write attribute 'a\\x00b' of '/d'")):
            io.write_builder(root)
    dest.assert_nothing_written()


def test_write_attributes_refuses_bad_attribute_names(tmp_path):
    dest = Dest("folder", tmp_path)
    io, root, _ = _open_file(dest)
    with io:
        with pytest.raises(InvalidNameError, match="NUL"):
            io.write_attributes(root["a"], {"ok": 1, "a\x00": 2})
        with pytest.raises(TypeError, match="attribute names must be text"):
            io.write_attributes(root["a"], {("a", "b"): 2})
        assert dict(root["a"].attrs) == {}
        io.write_attributes(root["a"], {"": 0, ".dot": 1, "数据": 2, "__x": 3, "a/b": 4, "a\\b": 5})
    with ZarrIO(dest.path, "r") as io:
        assert io.read_builder()["a"].attributes == {"": 0, ".dot": 1, "数据": 2, "__x": 3, "a/b": 4, "a\\b": 5}


# ------------------------------------------------------------------------------------------ legal names round-trip


def _unusual_tree() -> GroupBuilder:
    """Each unusual name as a group (with an attribute of that name), a dataset and a link, side by side."""
    root = GroupBuilder("root")
    target = DatasetBuilder("target", data=np.arange(3))
    root.set_dataset(target)
    for index, name in enumerate(UNUSUAL):
        holder = GroupBuilder(f"h{index}")
        root.set_group(holder)
        holder.set_group(GroupBuilder(name, attributes={name: name}, datasets={"d": DatasetBuilder("d", data=[index])}))
        box = GroupBuilder(f"box{index}")
        holder.set_group(box)
        box.set_dataset(DatasetBuilder(name, data=np.arange(index, index + 3)))
        links = GroupBuilder(f"links{index}")
        holder.set_group(links)
        links.set_link(LinkBuilder(target, name=name))
    return root


@pytest.mark.parametrize("mode", ["r", "r-"])
@pytest.mark.parametrize("store", STORES)
def test_unusual_legal_names_round_trip(tmp_path, store, mode):
    dest = Dest(store, tmp_path)
    with ZarrIO(dest.open("w"), "w") as io:
        io.write_builder(_unusual_tree())
    with ZarrIO(dest.open(mode), mode) as io:
        read = io.read_builder()
        for index, name in enumerate(UNUSUAL):
            holder = read[f"h{index}"]
            if name == "c" and mode == "r-":
                continue  # see test_a_node_named_c_is_listed_in_mode_r_minus
            assert set(holder.groups) == {name, f"box{index}", f"links{index}"}, name
            assert holder[name].attributes == {name: name}
            assert holder[name]["d"].data[:].tolist() == [index]
            assert list(holder[f"box{index}"].datasets) == [name]
            assert holder[f"box{index}"][name].data[:].tolist() == [index, index + 1, index + 2]
            assert holder[f"links{index}"].links[name].builder is read["target"]
    if store == "folder":
        assert sorted(os.listdir(dest.sub)) == ["f.zarr"]


@pytest.mark.parametrize("store", STORES)
def test_a_node_named_c_is_listed_in_mode_r_minus(tmp_path, store):
    dest = Dest(store, tmp_path)
    root = GroupBuilder("root")
    group = GroupBuilder("c")
    group.set_dataset(DatasetBuilder("c", data=[5]))
    root.set_group(group)
    with ZarrIO(dest.open("w"), "w") as io:
        io.write_builder(root)
    with ZarrIO(dest.open("r-"), "r-") as io:
        assert io.read_builder()["c"]["c"].data[:].tolist() == [5]


@pytest.mark.parametrize("mode", ["r", "r-"])
@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", [".hidden", "数据 #1 (é%)", "-x*?"])
def test_nwb_series_with_an_unusual_name_round_trips(tmp_path, store, mode, name):
    dest = Dest(store, tmp_path)
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name=name, data=np.arange(10.0)))
    with NWBZarrIO(dest.open("w"), "w") as io:
        io.write(nwbfile)
    with NWBZarrIO(dest.open(mode), mode) as io:
        read = io.read()
        np.testing.assert_array_equal(read.acquisition[name].data[:], np.arange(10.0))


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", ["..", "a\\b", "__x", ".zattrs"])
def test_nwb_series_with_a_forbidden_name_is_refused(tmp_path, store, name):
    dest = Dest(store, tmp_path)
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name=name, data=np.arange(10.0)))
    io = NWBZarrIO(dest.open("w"), "w")
    try:
        with pytest.raises(InvalidNameError, match=re.escape(f"Cannot write '/acquisition/{name}'")):
            io.write(nwbfile)
    finally:
        io.close()
    dest.assert_nothing_written()


# ------------------------------------------------------------------------------------------ the rules themselves


@pytest.mark.parametrize("name", [*FORBIDDEN.values(), 3, None])
def test_name_problem_explains_every_refusal(name):
    assert name_problem(name)


@pytest.mark.parametrize("name", UNUSUAL)
def test_name_problem_accepts_unusual_names(name):
    assert name_problem(name, DEFAULT_NAME_MAX) is None


def test_max_name_bytes_depends_on_the_store(tmp_path):
    folder_limit = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else DEFAULT_NAME_MAX
    assert max_name_bytes(str(tmp_path)) == folder_limit
    assert max_name_bytes(str(tmp_path / "not" / "yet" / "made.zarr")) == folder_limit
    assert max_name_bytes(f"file://{tmp_path}") == folder_limit
    assert max_name_bytes(str(tmp_path / "f.zarr.zip")) == ZIP_NAME_MAX
    (tmp_path / "f.zarr.zip").mkdir()  # a folder store may end with .zip
    assert max_name_bytes(str(tmp_path / "f.zarr.zip")) == folder_limit
    assert max_name_bytes(None) is None
    assert max_name_bytes("s3://bucket/f.zarr") is None


def test_the_planner_takes_its_limit_as_a_value(tmp_path):
    root = GroupBuilder("root", datasets={"abcdef": DatasetBuilder("abcdef", data=[1])})
    with pytest.raises(InvalidNameError, match="at most 5 bytes"):
        Planner(lambda builder: False, None, max_name_bytes=5).add_root(root)
    assert Planner(lambda builder: False, str(tmp_path)).max_name_bytes == max_name_bytes(str(tmp_path))
    plan = Planner(lambda builder: False, str(tmp_path), max_name_bytes=None).add_root(
        GroupBuilder("root", datasets={"x" * 300: DatasetBuilder("x" * 300, data=[1])})
    )
    assert list(plan.arrays) == ["x" * 300]
