"""The builder-level write API: write_group, write_dataset, write_link, write_attributes."""

from __future__ import annotations

import numpy as np
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder

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
