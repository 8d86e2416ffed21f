"""Object references: in attributes, as reference datasets, and as fields of compound datasets.

On-disk forms follow format.md §1.8 and §1.10; the lazy dataset classes follow api.md §4.9.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import DatasetBuilder, GroupBuilder, ReferenceBuilder
from hdmf.spec import DtypeSpec, RefSpec

from hdmf_zarr import NWBZarrIO, ZarrIO
from hdmf_zarr.utils import ZarrReference
from hdmf_zarr.zarr_utils import (
    BuilderZarrReferenceDataset,
    BuilderZarrTableDataset,
    ContainerZarrReferenceDataset,
    ContainerZarrTableDataset,
    is_reference_dtype,
)

STRING = np.dtypes.StringDType()


def node_json(path: Path, key: str = "") -> dict[str, Any]:
    doc = json.loads((path / key / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    return doc


def write(path: Path, root: GroupBuilder) -> None:
    with ZarrIO(path, "w") as io:
        io.write_builder(root)


def tree() -> tuple[GroupBuilder, GroupBuilder, DatasetBuilder]:
    """A root with a target group ``/g`` holding a target dataset ``/g/x``."""
    x = DatasetBuilder("x", data=[1, 2, 3], attributes={"kind": "dataset"})
    g = GroupBuilder("g", datasets={"x": x}, attributes={"kind": "group"})
    return GroupBuilder("root", groups={"g": g}), g, x


# ------------------------------------------------------------------------------------------ attributes


def test_attribute_reference_is_stored_as_a_reference_wrapper(tmp_path):
    root, g, x = tree()
    root.set_group(GroupBuilder("holder", attributes={"to_group": ReferenceBuilder(g), "to_data": x}))
    write(tmp_path / "f.zarr", root)
    attributes = node_json(tmp_path / "f.zarr", "holder")["attributes"]
    assert attributes["to_group"] == {"_REFERENCE": {"source": ".", "path": "/g"}}
    assert attributes["to_data"] == {"_REFERENCE": {"source": ".", "path": "/g/x"}}


def test_attribute_reference_resolves_to_the_target_builder(tmp_path):
    root, g, x = tree()
    root.set_group(GroupBuilder("holder", attributes={"to_group": ReferenceBuilder(g), "to_data": ReferenceBuilder(x)}))
    write(tmp_path / "f.zarr", root)
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert read["holder"].attributes["to_group"] is read["g"]
    assert read["holder"].attributes["to_data"] is read["g/x"]


def test_attribute_reference_to_the_root_uses_the_root_path(tmp_path):
    root, _, _ = tree()
    root.set_group(GroupBuilder("holder", attributes={"top": ReferenceBuilder(root)}))
    write(tmp_path / "f.zarr", root)
    assert node_json(tmp_path / "f.zarr", "holder")["attributes"]["top"] == {"_REFERENCE": {"source": ".", "path": "/"}}
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert read["holder"].attributes["top"] is read


def test_list_of_references_in_an_attribute_raises_type_error(tmp_path):
    root, g, x = tree()
    root.set_group(GroupBuilder("holder", attributes={"many": [ReferenceBuilder(g), ReferenceBuilder(x)]}))
    with pytest.raises(TypeError, match=r"'many'.*'/holder'"):
        write(tmp_path / "f.zarr", root)


def test_legacy_attribute_reference_form_is_resolved(tmp_path):
    root, _, _ = tree()
    write(tmp_path / "f.zarr", root)
    group = zarr.open_group(tmp_path / "f.zarr", mode="a")
    group.attrs["old"] = {"zarr_dtype": "object", "value": {"source": ".", "path": "/g"}}
    group.attrs["odd"] = {"zarr_dtype": "region", "value": {}}
    with ZarrIO(tmp_path / "f.zarr", "r-") as io, pytest.raises(NotImplementedError, match="region"):
        io.read_builder()
    del group.attrs["odd"]
    read = ZarrIO(tmp_path / "f.zarr", "r-").read_builder()
    assert read.attributes["old"] is read["g"]


# ------------------------------------------------------------------------------------------ reference datasets


def test_reference_dataset_is_a_string_array_of_paths_marked_object_reference(tmp_path):
    root, g, x = tree()
    root.set_dataset(DatasetBuilder("refs", data=[ReferenceBuilder(x), ReferenceBuilder(g), x], dtype="object"))
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "refs")
    assert meta["shape"] == [3]
    assert meta["data_type"] == "string"
    assert meta["fill_value"] == ""
    assert meta["codecs"][0] == {"name": "vlen-utf8", "configuration": {}}
    assert meta["attributes"] == {"_DTYPE": "object_reference"}
    stored = zarr.open_array(tmp_path / "f.zarr" / "refs", mode="r")[:]
    assert stored.tolist() == ["/g/x", "/g", "/g/x"]


@pytest.mark.parametrize("spec_dtype", ["object", "ref", "reference"])
def test_every_reference_spec_dtype_name_writes_a_reference_dataset(tmp_path, spec_dtype):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("refs", data=[ReferenceBuilder(g)], dtype=spec_dtype))
    write(tmp_path / "f.zarr", root)
    assert node_json(tmp_path / "f.zarr", "refs")["attributes"]["_DTYPE"] == "object_reference"


@pytest.mark.parametrize(
    "field_dtype",
    [RefSpec("Foo", "object"), {"target_type": "Foo", "reftype": "object"}, "object"],
    ids=["RefSpec", "dict", "object"],
)
def test_every_reference_field_dtype_marks_a_reference_field(tmp_path, field_dtype):
    root, g, _ = tree()
    fields = [{"name": "i", "dtype": "int"}, {"name": "r", "dtype": field_dtype}]
    root.set_dataset(DatasetBuilder("table", data=[(1, ReferenceBuilder(g))], dtype=fields))
    write(tmp_path / "f.zarr", root)
    assert node_json(tmp_path / "f.zarr", "table")["attributes"] == {"_REFERENCE_FIELDS": ["r"]}


def test_reference_dataset_reads_lazily_and_resolves_each_element(tmp_path):
    root, g, x = tree()
    root.set_dataset(DatasetBuilder("refs", data=[ReferenceBuilder(x), ReferenceBuilder(g)], dtype="object"))
    write(tmp_path / "f.zarr", root)
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    refs = read["refs"]
    assert refs.dtype == "object"
    assert isinstance(refs.data, BuilderZarrReferenceDataset)
    assert refs.data.dtype == "object"
    assert len(refs.data) == 2 and refs.data.shape == (2,)
    assert refs.data[0] is read["g/x"]
    assert refs.data[1] is read["g"]
    assert refs.data[0:2] == [read["g/x"], read["g"]]
    assert list(refs.data) == [read["g/x"], read["g"]]


def test_reference_dataset_resolves_only_the_elements_asked_for(tmp_path):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("refs", data=[ReferenceBuilder(g), "/missing"], dtype="object"))
    write(tmp_path / "f.zarr", root)
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert read["refs"].data[0] is read["g"]
    with pytest.raises(ValueError, match="Found bad link to object /missing"):
        read["refs"].data[1]


def test_scalar_reference_is_a_0d_string_array_read_as_a_reference_builder(tmp_path):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("one", data=ReferenceBuilder(g), dtype="object"))
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "one")
    assert (meta["shape"], meta["data_type"]) == ([], "string")
    assert meta["attributes"] == {"_DTYPE": "object_reference"}
    assert meta["hdmf_zarr.inline_scalar"] == {"must_understand": False}
    assert meta["fill_value"] == "/g"  # the path lives in the metadata; no chunk is stored
    assert not (tmp_path / "f.zarr" / "one" / "c").exists()
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    assert isinstance(read["one"].data, ReferenceBuilder)
    assert read["one"].data.builder is read["g"]


def test_empty_reference_dataset_round_trips(tmp_path):
    root, _, _ = tree()
    root.set_dataset(DatasetBuilder("none", data=[], dtype="object"))
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "none")
    assert (meta["shape"], meta["attributes"]) == ([0], {"_DTYPE": "object_reference"})
    data = ZarrIO(tmp_path / "f.zarr", "r").read_builder()["none"].data
    assert isinstance(data, BuilderZarrReferenceDataset) and len(data) == 0 and data[:] == []


def test_reference_datasets_in_lenient_stored_forms_are_resolved(tmp_path):
    root, g, x = tree()
    write(tmp_path / "f.zarr", root)
    group = zarr.open_group(tmp_path / "f.zarr", mode="a")
    old = group.create_array("old", shape=(2,), dtype=STRING, attributes={"_DTYPE": "object"})
    old[:] = np.array([json.dumps({"source": ".", "path": "/g/x"}), "/g"], dtype=STRING)
    read = ZarrIO(tmp_path / "f.zarr", "r-").read_builder()
    assert read["old"].data[:] == [read["g/x"], read["g"]]


# ------------------------------------------------------------------------------------------ compound references

REF_FIELDS = [
    {"name": "start", "dtype": "int32"},
    {"name": "target", "dtype": RefSpec("Foo", "object")},
    {"name": "note", "dtype": "text"},
]


def test_compound_reference_fields_are_fixed_length_paths_listed_in_reference_fields(tmp_path):
    root, g, x = tree()
    data = [(0, ReferenceBuilder(x), "a"), (5, ReferenceBuilder(g), None)]
    root.set_dataset(DatasetBuilder("table", data=data, dtype=REF_FIELDS))
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "table")
    fields = meta["data_type"]["configuration"]["fields"]
    assert fields[1] == {
        "name": "target",
        "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 2048}},
    }
    assert meta["attributes"] == {"_REFERENCE_FIELDS": ["target"]}
    assert "_DTYPE" not in meta["attributes"]
    stored = zarr.open_array(tmp_path / "f.zarr" / "table", mode="r")[:]
    assert stored["target"].tolist() == ["/g/x", "/g"]
    assert stored["note"].tolist() == ["a", ""]


def test_compound_reference_fields_resolve_per_row_on_read(tmp_path):
    root, g, x = tree()
    root.set_dataset(
        DatasetBuilder("table", data=[(0, ReferenceBuilder(x), "a"), (5, ReferenceBuilder(g), "b")], dtype=REF_FIELDS)
    )
    write(tmp_path / "f.zarr", root)
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    table = read["table"]
    assert table.dtype == [
        {"name": "start", "dtype": "int32"},
        {"name": "target", "dtype": "object"},
        {"name": "note", "dtype": "str_"},
    ]
    assert isinstance(table.data, BuilderZarrTableDataset)
    assert table.data.dtype == ["int32", "object", "utf"]
    row = table.data[1]
    assert isinstance(row, np.void)
    assert int(row["start"]) == 5 and row["target"] is read["g"] and str(row["note"]) == "b"
    rows = table.data[0:2]
    assert rows.dtype["target"] == np.dtype(object)
    assert rows["target"][0] is read["g/x"]
    assert [int(r["start"]) for r in table.data] == [0, 5]


def test_missing_compound_reference_is_stored_empty_and_read_as_none(tmp_path):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("table", data=[(1, ReferenceBuilder(g), "a"), (2, None, "b")], dtype=REF_FIELDS))
    write(tmp_path / "f.zarr", root)
    assert zarr.open_array(tmp_path / "f.zarr" / "table", mode="r")[:]["target"].tolist() == ["/g", ""]
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    rows = read["table"].data[:]
    assert rows["target"][0] is read["g"] and rows["target"][1] is None


def test_compound_reference_text_field_stores_dicts_as_json(tmp_path):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("table", data=[(1, ReferenceBuilder(g), {"k": 1})], dtype=REF_FIELDS))
    write(tmp_path / "f.zarr", root)
    stored = zarr.open_array(tmp_path / "f.zarr" / "table", mode="r")[:]
    assert json.loads(str(stored["note"][0])) == {"k": 1}


def test_zero_dimensional_compound_with_a_reference_field_round_trips(tmp_path):
    root, g, _ = tree()
    root.set_dataset(DatasetBuilder("one", data=(3, ReferenceBuilder(g), "note"), dtype=REF_FIELDS))
    write(tmp_path / "f.zarr", root)
    meta = node_json(tmp_path / "f.zarr", "one")
    assert meta["shape"] == [] and meta["attributes"] == {"_REFERENCE_FIELDS": ["target"]}
    read = ZarrIO(tmp_path / "f.zarr", "r").read_builder()
    data = read["one"].data
    assert isinstance(data, np.ndarray) and data.shape == ()
    assert int(data["start"]) == 3 and str(data["note"]) == "note"
    assert data["target"][()] is read["g"]
    assert read["one"].dtype[1] == {"name": "target", "dtype": "object"}


# ------------------------------------------------------------------------------------------ containers


@pytest.fixture(scope="module")
def nwb_with_references(tmp_path_factory):
    """An NWB file with a reference column, a DynamicTableRegion and a TimeSeriesReferenceVectorData."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    series = mock_ElectricalSeries(nwbfile=nwb, name="es")
    ts = mock_TimeSeries(name="ts")
    nwb.add_acquisition(ts)
    nwb.add_trial(start_time=0.0, stop_time=1.0, timeseries=[ts])
    nwb.add_trial(start_time=1.0, stop_time=2.0, timeseries=[ts, series])
    path = tmp_path_factory.mktemp("nwb") / "refs.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    return path, nwb


def test_nwb_reference_column_reads_as_container_reference_dataset(nwb_with_references):
    path, original = nwb_with_references
    meta = node_json(path, "general/extracellular_ephys/electrodes/group")
    assert meta["data_type"] == "string" and meta["attributes"]["_DTYPE"] == "object_reference"
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        column = read.electrodes["group"].data
        assert isinstance(column, ContainerZarrReferenceDataset)
        groups = list(read.electrode_groups.values())
        assert all(any(item is group for group in groups) for item in column[:])
        assert [item.name for item in column] == [g.name for g in original.electrodes["group"].data]


def test_nwb_table_region_attribute_resolves_to_the_table(nwb_with_references):
    path, _ = nwb_with_references
    attributes = node_json(path, "acquisition/es/electrodes")["attributes"]
    assert attributes["table"] == {"_REFERENCE": {"source": ".", "path": "/general/extracellular_ephys/electrodes"}}
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        assert read.acquisition["es"].electrodes.table is read.electrodes


def test_nwb_compound_reference_column_resolves_to_containers(nwb_with_references):
    path, _ = nwb_with_references
    meta = node_json(path, "intervals/trials/timeseries")
    assert meta["attributes"]["_REFERENCE_FIELDS"] == ["timeseries"]
    assert meta["fill_value"] == {"idx_start": 0, "count": 0, "timeseries": ""}
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        column = read.trials["timeseries"].target
        assert isinstance(column.data, ContainerZarrTableDataset)
        refs = column.data[:]
        assert refs["timeseries"][0] is read.acquisition["ts"]
        assert refs["timeseries"][2] is read.acquisition["es"]
        assert [r.timeseries.name for r in read.trials["timeseries"][1]] == ["ts", "es"]


def test_hdmf_common_table_region_round_trips(tmp_path):
    from hdmf.common import DynamicTable, DynamicTableRegion, SimpleMultiContainer, VectorData, get_manager

    table = DynamicTable(name="t", description="d", columns=[VectorData(name="c", description="c", data=[1, 2, 3])])
    region = DynamicTableRegion(name="reg", description="r", data=[2, 0], table=table)
    holder = DynamicTable(name="r", description="d", columns=[region])
    with ZarrIO(tmp_path / "f.zarr", "w", manager=get_manager()) as io:
        io.write(SimpleMultiContainer(name="root", containers=[table, holder]))
    assert node_json(tmp_path / "f.zarr", "r/reg")["attributes"]["table"] == {
        "_REFERENCE": {"source": ".", "path": "/t"}
    }
    with ZarrIO(tmp_path / "f.zarr", "r", manager=get_manager()) as io:
        read = io.read()
        assert read["r"]["reg"].table is read["t"]
        assert read["r"]["reg"][:]["c"].tolist() == [3, 1]


# ------------------------------------------------------------------------------------------ resolve_ref


@pytest.mark.parametrize(
    "reference",
    [
        {"source": ".", "path": "/g/x"},
        ZarrReference(source=".", path="/g/x"),
        json.dumps({"source": ".", "path": "/g/x"}),
        "/g/x",
        np.array("/g/x", dtype=STRING),
    ],
    ids=["dict", "ZarrReference", "json", "path", "0-d array"],
)
def test_resolve_ref_accepts_every_stored_reference_form(tmp_path, reference):
    root, _, _ = tree()
    write(tmp_path / "f.zarr", root)
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        name, target = io.resolve_ref(reference)
        assert name == "x"
        assert isinstance(target, zarr.Array) and target.path == "g/x"


def test_resolve_ref_without_a_path_returns_the_root(tmp_path):
    root, _, _ = tree()
    write(tmp_path / "f.zarr", root)
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        name, target = io.resolve_ref({"source": ".", "path": None})
        assert name == "root" and isinstance(target, zarr.Group) and target.path == ""


def test_resolve_ref_rejects_arrays_and_missing_targets(tmp_path):
    root, _, _ = tree()
    write(tmp_path / "f.zarr", root)
    with ZarrIO(tmp_path / "f.zarr", "r") as io:
        with pytest.raises(ValueError):
            io.resolve_ref(np.array(["/g", "/g/x"]))
        with pytest.raises(ValueError, match="Found bad link to object /nope"):
            io.resolve_ref({"source": ".", "path": "/nope"})


def test_zarr_reference_is_a_dict_with_source_and_path():
    ref = ZarrReference(source=".", path="/a")
    assert dict(ref) == {"source": ".", "path": "/a"}
    ref.path = "/b"
    assert ref["path"] == "/b" and ref.source == "."


# ------------------------------------------------------------------------------------------ is_reference_dtype


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("object", True),
        (RefSpec("Foo", "object"), True),
        (DtypeSpec("r", "doc", RefSpec("Foo", "object")), True),
        (DtypeSpec("i", "doc", "int"), False),
        ("object_reference", False),
        (np.dtype(object), False),
        ("int", False),
        (None, False),
    ],
)
def test_is_reference_dtype(dtype, expected):
    assert is_reference_dtype(dtype) is expected


def test_zero_d_structured_array_with_a_reference_field(zarr_path):
    """A 0-d compound dataset given as a 0-d numpy structured array, one field a reference."""
    target = GroupBuilder("target")
    fields = [
        {"name": "ref", "dtype": DtypeSpec("ref", "a reference", RefSpec("Container", "object"))},
        {"name": "value", "dtype": "int32"},
    ]
    record = np.array((ReferenceBuilder(target), 3), dtype=[("ref", object), ("value", "i4")])
    assert record.ndim == 0
    root = GroupBuilder("root", groups={"target": target}, datasets={"rec": DatasetBuilder("rec", record, fields)})
    with ZarrIO(zarr_path, "w") as io:
        io.write_builder(root)
    with ZarrIO(zarr_path, "r") as io:
        read = io.read_builder()
        value = read["rec"].data
        assert value["ref"][()] is read["target"] and value["value"][()] == 3
