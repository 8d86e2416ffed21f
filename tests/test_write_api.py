"""The builder-level write API: write_group, write_dataset, write_link, write_attributes."""

from __future__ import annotations

import numpy as np
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder, ReferenceBuilder

from hdmf_zarr import ZarrIO


def test_write_group_dataset_link_and_attributes_into_an_open_file(zarr_path):
    with ZarrIO(zarr_path, "w") as io:
        io.write_builder(GroupBuilder("root", groups={"a": GroupBuilder("a")}))
        root = zarr.open_group(io.store, mode="r+")
        group = io.write_group(root, GroupBuilder("b", attributes={"x": 1}))
        assert group.attrs["x"] == 1
        target = DatasetBuilder("d", data=np.arange(3), dtype="int32")
        array = io.write_dataset(group, target)
        assert array[:].tolist() == [0, 1, 2]
        assert io.write_dataset(group, target) is None
        target.parent = GroupBuilder("b", parent=GroupBuilder("root"))
        io.write_link(root["a"], LinkBuilder(target, name="to_d"))
        io.write_attributes(root["a"], {"y": np.int64(4)})
    with ZarrIO(zarr_path, "r") as io:
        read = io.read_builder()
        assert read["a"].links["to_d"].builder is read["b"]["d"]
        assert read["a"].attributes["y"] == 4


def _open_file(path):
    io = ZarrIO(path, "w")
    io.write_builder(GroupBuilder("root", groups={"a": GroupBuilder("a")}))
    return io, zarr.open_group(io.store, mode="r+")


ATTRIBUTE_VALUES = {
    "text": ("x", "x"),
    "int": (3, 3),
    "float": (2.5, 2.5),
    "bool": (True, True),
    "numpy scalar": (np.int32(4), 4),
    "numpy float": (np.float64(1.5), 1.5),
    "0-d array": (np.array(5.0), 5.0),
    "list of str": (["a", "b"], ["a", "b"]),
    "tuple of numbers": ((1, 2.5), [1, 2.5]),
    "list of bytes": ([b"x", b"y"], ["x", "y"]),
    "set": ({3, 1, 2}, [1, 2, 3]),
    "1-d floats": (np.arange(3.0), [0.0, 1.0, 2.0]),
    "n-d floats": (np.ones((2, 3)), [[1.0] * 3] * 2),
}


def test_write_attributes_shows_on_the_callers_object_at_once(zarr_path):
    io, root = _open_file(zarr_path)
    group = root["a"]
    array = io.write_dataset(group, DatasetBuilder("d", data=np.arange(3)))
    for node in (group, array):
        io.write_attributes(node, {name: value for name, (value, _) in ATTRIBUTE_VALUES.items()})
        for name, (_, stored) in ATTRIBUTE_VALUES.items():
            assert node.attrs[name] == stored, name
    io.close()
    with ZarrIO(zarr_path, "r") as io:
        read = io.read_builder()
        for builder in (read["a"], read["a"]["d"]):
            assert builder.attributes["n-d floats"] == [[1.0] * 3] * 2
            assert builder.attributes["set"] == [1, 2, 3]


def test_write_attributes_stores_references(zarr_path):
    io, root = _open_file(zarr_path)
    target = io.write_dataset(root["a"], DatasetBuilder("d", data=np.arange(3)))
    io.write_attributes(root, {"to_group": root["a"], "to_array": target})
    assert root.attrs["to_group"] == {"_REFERENCE": {"source": ".", "path": "/a"}}
    io.close()
    with ZarrIO(zarr_path, "r") as io:
        read = io.read_builder()
        assert read.attributes["to_group"] is read["a"]
        assert read.attributes["to_array"] is read["a"]["d"]


def test_builders_written_on_their_own_are_part_of_the_file(zarr_path):
    """write_dataset(parent, builder) for a builder with no parent: its path, the on-disk checks and
    references to it are those of the node written."""
    io, root = _open_file(zarr_path)
    orphan = DatasetBuilder("d", data=np.arange(3), dtype="int32")
    assert not io.get_written(orphan) and not io.get_builder_exists_on_disk(orphan)
    io.write_dataset(root["a"], orphan)
    assert io.get_written(orphan, check_on_disk=True)
    assert io.get_builder_exists_on_disk(orphan)
    assert io.get_builder_disk_path(orphan) == f"{zarr_path}/a/d"
    io.write_dataset(root, DatasetBuilder("refs", data=[ReferenceBuilder(orphan)], dtype="object"))
    group = GroupBuilder("g", datasets={"inner": DatasetBuilder("inner", data=[1, 2])})
    io.write_group(root["a"], group)
    assert io.get_builder_disk_path(group["inner"]) == f"{zarr_path}/a/g/inner"
    assert io.get_builder_exists_on_disk(group["inner"])
    link = LinkBuilder(orphan, name="to_d")
    assert not io.get_builder_exists_on_disk(LinkBuilder(orphan, name="to_d", parent=group))
    io.write_link(root["a"]["g"], link)
    assert io.get_builder_exists_on_disk(link)
    assert "refs" in root and "g" in root["a"]  # the caller's groups show what was written in them
    io.close()
    with ZarrIO(zarr_path, "r") as io:
        read = io.read_builder()
        assert read["refs"].data[0] is read["a"]["d"]
        assert read["a"]["g"].links["to_d"].builder is read["a"]["d"]


def test_on_disk_checks_work_in_any_store():
    store = zarr.storage.MemoryStore()
    with ZarrIO(store, "w") as io:
        root = GroupBuilder("root", groups={"a": GroupBuilder("a")})
        io.write_builder(root)
        assert io.get_written(root["a"], check_on_disk=True)
        assert not io.get_builder_exists_on_disk(GroupBuilder("b", parent=root))
