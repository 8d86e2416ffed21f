"""Soft links, external links and links made from zarr arrays (format.md §1.7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder

from hdmf_zarr import NWBZarrIO, ZarrDataIO, ZarrIO
from hdmf_zarr.errors import UnsafeLinkError


def node_json(path: Path, key: str = "") -> dict[str, Any]:
    doc = json.loads((path / key / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    return doc


def write(path: Path, root: GroupBuilder, **kwargs: Any) -> None:
    with ZarrIO(path, "w") as io:
        io.write_builder(root, **kwargs)


def target_tree() -> GroupBuilder:
    x = DatasetBuilder("x", data=np.arange(5, dtype=np.int16), attributes={"unit": "m"})
    return GroupBuilder("root", groups={"g": GroupBuilder("g", datasets={"x": x}, attributes={"kind": "target"})})


# ------------------------------------------------------------------------------------------ soft links


def test_soft_links_are_links_entries_with_source_dot(tmp_path):
    root = target_tree()
    holder = GroupBuilder("holder")
    holder.set_link(LinkBuilder(root["g"], name="to_group"))
    holder.set_link(LinkBuilder(root["g/x"], name="to_data"))
    root.set_group(holder)
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "holder")
    assert meta["attributes"] == {
        "_LINKS": [
            {"source": ".", "path": "/g", "name": "to_group"},
            {"source": ".", "path": "/g/x", "name": "to_data"},
        ]
    }
    assert [list(entry) for entry in meta["attributes"]["_LINKS"]] == [["source", "path", "name"]] * 2
    assert sorted(p.name for p in (tmp_path / "f.zarr" / "holder").iterdir()) == ["zarr.json"], "links create no node"


def test_soft_links_read_back_as_link_builders_to_the_same_builders(tmp_path):
    root = target_tree()
    holder = GroupBuilder("holder")
    holder.set_link(LinkBuilder(root["g"], name="to_group"))
    holder.set_link(LinkBuilder(root["g/x"], name="to_data"))
    root.set_group(holder)
    write(tmp_path / "f.zarr", root)
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        read = io.read_builder()
        links = read["holder"].links
        assert set(links) == {"to_group", "to_data"}
        assert links["to_group"].builder is read["g"]
        assert links["to_data"].builder is read["g/x"]
        assert links["to_data"].builder.data[:].tolist() == [0, 1, 2, 3, 4]
        assert links["to_group"].source == io.source
        assert "_LINKS" not in read["holder"].attributes


def test_links_held_by_the_root_group_are_written(tmp_path):
    root = target_tree()
    root.set_link(LinkBuilder(root["g/x"], name="top_link"))
    write(tmp_path / "f.zarr", root)
    assert node_json(tmp_path / "f.zarr")["attributes"]["_LINKS"] == [
        {"source": ".", "path": "/g/x", "name": "top_link"}
    ]
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert read.links["top_link"].builder is read["g/x"]


def test_adding_a_link_in_append_mode_keeps_existing_entries(tmp_path):
    root = target_tree()
    root.set_group(GroupBuilder("holder", links={"first": LinkBuilder(root["g"], name="first")}))
    write(tmp_path / "f.zarr", root)
    with ZarrIO(tmp_path / "f.zarr", "a") as io:
        read = io.read_builder()
        read["holder"].set_link(LinkBuilder(read["g/x"], name="second"))
        io.write_builder(read)
    assert node_json(tmp_path / "f.zarr", "holder")["attributes"]["_LINKS"] == [
        {"source": ".", "path": "/g", "name": "first"},
        {"source": ".", "path": "/g/x", "name": "second"},
    ]
    assert set(ZarrIO(tmp_path / "f.zarr", "r").read_builder()["holder"].links) == {"first", "second"}


def test_nwb_soft_link_from_electrode_group_to_device(tmp_path):
    from pynwb.testing.mock.device import mock_Device
    from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    device = mock_Device(name="probe", nwbfile=nwb)
    mock_ElectrodeGroup(name="shank0", device=device, nwbfile=nwb)
    path = tmp_path / "f.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    links = node_json(path, "general/extracellular_ephys/shank0")["attributes"]["_LINKS"]
    assert links == [{"source": ".", "path": "/general/devices/probe", "name": "device"}]
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        assert read.electrode_groups["shank0"].device is read.devices["probe"]


# ------------------------------------------------------------------------------------------ external links


def _external_pair(tmp_path: Path, target: Path, linker: Path) -> None:
    """Write ``target``, then ``linker`` holding links to its group and dataset."""
    target.parent.mkdir(parents=True, exist_ok=True)
    linker.parent.mkdir(parents=True, exist_ok=True)
    write(target, target_tree())
    with ZarrIO(target, "r") as source_io:
        source = source_io.read_builder()
        holder = GroupBuilder("holder")
        holder.set_link(LinkBuilder(source["g/x"], name="ext_data"))
        holder.set_link(LinkBuilder(source["g"], name="ext_group"))
        write(linker, GroupBuilder("root", groups={"holder": holder}))


@pytest.mark.parametrize(
    ("target", "linker", "source"),
    [
        ("ext/file0.zarr", "ext/sub/file1.zarr", "../../file0.zarr"),
        ("a/target.zarr", "b/linker.zarr", "../../a/target.zarr"),
        ("target.zarr", "linker.zarr", "../target.zarr"),
    ],
    ids=["nested", "sibling-folder", "same-folder"],
)
def test_external_link_source_is_relative_to_the_linking_store_folder(tmp_path, target, linker, source):
    _external_pair(tmp_path, tmp_path / target, tmp_path / linker)
    assert node_json(tmp_path / linker, "holder")["attributes"]["_LINKS"] == [
        {"source": source, "path": "/g/x", "name": "ext_data"},
        {"source": source, "path": "/g", "name": "ext_group"},
    ]


def test_external_links_resolve_into_the_other_store(tmp_path):
    target, linker = tmp_path / "a" / "target.zarr", tmp_path / "b" / "linker.zarr"
    _external_pair(tmp_path, target, linker)
    with ZarrIO(linker, "r", external_link_policy="any") as io:  # a/ is outside b/, the linking file's folder
        read = io.read_builder()
        data = read["holder"].links["ext_data"].builder
        group = read["holder"].links["ext_group"].builder
        assert data.source == str(target) and group.source == str(target)
        assert data.data[:].tolist() == [0, 1, 2, 3, 4]
        assert data.attributes == {"unit": "m"}
        assert group.attributes == {"kind": "target"}
        assert group["x"] is data, "one builder per node of the external store"
        name, array = io.resolve_ref({"source": "../../a/target.zarr", "path": "/g/x"})
        assert name == "x" and array[:].tolist() == [0, 1, 2, 3, 4]


def test_nwb_container_from_another_file_becomes_an_external_link(tmp_path):
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    first, second = tmp_path / "a" / "first.nwb.zarr", tmp_path / "b" / "second.nwb.zarr"
    nwb = mock_NWBFile()
    nwb.add_acquisition(mock_TimeSeries(name="ts"))
    with NWBZarrIO(first, "w") as io:
        io.write(nwb)
    with NWBZarrIO(first, "r") as source_io:
        other = mock_NWBFile()
        other.add_acquisition(source_io.read().acquisition["ts"])
        with NWBZarrIO(second, "w", manager=source_io.manager) as io:
            io.write(other)
    assert node_json(second, "acquisition")["attributes"]["_LINKS"] == [
        {"source": "../../a/first.nwb.zarr", "path": "/acquisition/ts", "name": "ts"}
    ]
    with NWBZarrIO(second, "r") as io, pytest.raises(UnsafeLinkError) as raised:  # a/ is outside b/: refused
        io.read()
    assert "'/acquisition/ts'" in str(raised.value) and str(first) in str(raised.value)
    with NWBZarrIO(second, "r", external_link_policy=[tmp_path / "a"]) as io:
        assert io.read().acquisition["ts"].data[:].tolist() == [1, 2, 3, 4]
    with NWBZarrIO(second, "r", external_link_policy="any") as io:
        ts = io.read().acquisition["ts"]
        assert ts.container_source == str(first)
        assert ts.data[:].tolist() == [1, 2, 3, 4]


# ------------------------------------------------------------------------------------------ bad targets


def _add_link_entry(path: Path, key: str, entry: dict[str, str]) -> None:
    group = zarr.open_group(path / key, mode="a", use_consolidated=False)
    group.attrs["_LINKS"] = [*group.attrs.get("_LINKS", []), entry]


def test_link_to_a_missing_object_raises_value_error(tmp_path):
    write(tmp_path / "f.zarr", target_tree())
    _add_link_entry(tmp_path / "f.zarr", "g", {"source": ".", "path": "/missing/node", "name": "bad"})
    with (
        ZarrIO(tmp_path / "f.zarr", "r-") as io,
        pytest.raises(ValueError, match="Found bad link to object /missing/node"),
    ):
        io.read_builder()


def test_link_to_a_missing_external_store_raises_value_error(tmp_path):
    write(tmp_path / "f.zarr", target_tree())
    _add_link_entry(tmp_path / "f.zarr", "g", {"source": "../nowhere.zarr", "path": "/g", "name": "bad"})
    with ZarrIO(tmp_path / "f.zarr", "r-") as io, pytest.raises(ValueError, match="Found bad link to object /g"):
        io.read_builder()


def test_link_to_a_missing_object_in_an_external_store_raises_value_error(tmp_path):
    write(tmp_path / "other.zarr", target_tree())
    write(tmp_path / "f.zarr", target_tree())
    _add_link_entry(tmp_path / "f.zarr", "g", {"source": "../other.zarr", "path": "/g/nope", "name": "bad"})
    with ZarrIO(tmp_path / "f.zarr", "r-") as io, pytest.raises(ValueError, match="Found bad link to object /g/nope"):
        io.read_builder()


def test_resolve_ref_to_a_missing_external_store_raises_value_error(tmp_path):
    write(tmp_path / "f.zarr", target_tree())
    with ZarrIO(tmp_path / "f.zarr", "r") as io, pytest.raises(ValueError, match="Found bad link to object /g"):
        io.resolve_ref({"source": "../nowhere.zarr", "path": "/g"})


# ------------------------------------------------------------------------------------------ zarr arrays as data


@pytest.fixture
def source_array(tmp_path) -> zarr.Array:
    write(tmp_path / "src.zarr", target_tree())
    return zarr.open_group(tmp_path / "src.zarr", mode="r")["g/x"]


@pytest.mark.parametrize(
    ("data", "write_args"),
    [
        (lambda a: a, {}),
        (lambda a: ZarrDataIO(a, link_data=True), {"link_data": False}),
    ],
    ids=["array", "ZarrDataIO-link_data"],
)
def test_zarr_array_data_is_linked_not_copied(tmp_path, source_array, data, write_args):
    out = tmp_path / "out" / "linker.zarr"
    out.parent.mkdir()
    write(out, GroupBuilder("root", datasets={"y": DatasetBuilder("y", data=data(source_array))}), **write_args)
    assert node_json(out)["attributes"]["_LINKS"] == [{"source": "../../src.zarr", "path": "/g/x", "name": "y"}]
    assert not (out / "y").exists()
    with ZarrIO(out, "r", external_link_policy=[tmp_path]) as io:  # src.zarr is outside out/, the linker's folder
        read = io.read_builder()
        assert read.datasets == {}
        assert read.links["y"].builder.data[:].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("data", "write_args"),
    [
        (lambda a: a, {"link_data": False}),
        (lambda a: ZarrDataIO(a, link_data=False), {}),
    ],
    ids=["write-link_data-False", "ZarrDataIO-link_data-False"],
)
def test_zarr_array_data_is_copied_when_not_linking(tmp_path, source_array, data, write_args):
    out = tmp_path / "copy.zarr"
    write(out, GroupBuilder("root", datasets={"y": DatasetBuilder("y", data=data(source_array))}), **write_args)
    assert "_LINKS" not in node_json(out)["attributes"]
    meta = node_json(out, "y")
    assert meta["data_type"] == "int16" and meta["shape"] == [5]
    read = ZarrIO(out, "r").read_builder()
    assert read["y"].data[:].tolist() == [0, 1, 2, 3, 4]


def test_zarr_array_of_the_same_store_is_linked_with_source_dot(tmp_path):
    write(tmp_path / "f.zarr", target_tree())
    with ZarrIO(tmp_path / "f.zarr", "a") as io:
        read = io.read_builder()
        read.set_group(GroupBuilder("h", datasets={"z": DatasetBuilder("z", data=io._file["g/x"])}))
        io.write_builder(read)
    assert node_json(tmp_path / "f.zarr", "h")["attributes"]["_LINKS"] == [{"source": ".", "path": "/g/x", "name": "z"}]
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert read["h"].links["z"].builder is read["g/x"]
