"""Every spec dtype, scalar, empty dataset, attribute value and compound type HDMF can store.

Written with ``ZarrIO.write_builder`` (builders give direct control over spec dtypes) and, for the
container path, through a small custom namespace; read back with ``read_builder`` / ``read``.
Expected on-disk shapes follow docs format.md §1.2-1.11 and §3.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.build import BuildManager, DatasetBuilder, GroupBuilder

from hdmf_zarr import ZarrIO
from hdmf_zarr.utils import HDMFZarrArray, ZarrDataIO

UTC = datetime.UTC


def write_root(path: Path, datasets=(), groups=(), attributes=None) -> None:
    root = GroupBuilder("root", attributes=dict(attributes or {}))
    for group in groups:
        root.set_group(group)
    for dataset in datasets:
        root.set_dataset(dataset)
    with ZarrIO(path, "w") as io:
        io.write_builder(root)


def node_json(path: Path, key: str = "") -> dict[str, Any]:
    """The zarr.json of a node (Python's json accepts the bare NaN/Infinity tokens)."""
    doc = json.loads((path / key / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    return doc


def read_root(path: Path) -> GroupBuilder:
    io = ZarrIO(path, "r")
    return io.read_builder()


# ------------------------------------------------------------------------------------------ spec dtypes

INTS = [1, 0, 7]
TEXT = ["a", "é", "long text"]
#: spec dtype -> (data, zarr data_type, _DTYPE, numpy dtype read back)
SPEC_DTYPES = {
    "float": (INTS, "float32", "float32", np.float32),
    "float32": (INTS, "float32", "float32", np.float32),
    "double": (INTS, "float64", "float64", np.float64),
    "float64": (INTS, "float64", "float64", np.float64),
    "long": (INTS, "int64", "int64", np.int64),
    "int64": (INTS, "int64", "int64", np.int64),
    "int": (INTS, "int32", "int32", np.int32),
    "int32": (INTS, "int32", "int32", np.int32),
    "short": (INTS, "int16", "int16", np.int16),
    "int16": (INTS, "int16", "int16", np.int16),
    "int8": (INTS, "int8", "int8", np.int8),
    "uint": (INTS, "uint32", "uint32", np.uint32),
    "uint32": (INTS, "uint32", "uint32", np.uint32),
    "uint16": (INTS, "uint16", "uint16", np.uint16),
    "uint8": (INTS, "uint8", "uint8", np.uint8),
    "uint64": (INTS, "uint64", "uint64", np.uint64),
    "bool": ([True, False, True], "bool", "bool", np.bool_),
    "bool_": ([True, False, True], "bool", "bool", np.bool_),
    "text": (TEXT, "string", "str", object),
    "utf": (TEXT, "string", "str", object),
    "utf8": (TEXT, "string", "str", object),
    "utf-8": (TEXT, "string", "str", object),
    "str": (TEXT, "string", "str", object),
    "ascii": ([b"a", b"bc", b""], "string", "str", object),
    "bytes": ([b"a", b"bc", b""], "string", "str", object),
    "string_": ([b"a", b"bc", b""], "string", "str", object),
    "isodatetime": (["2020-01-02T03:04:05+00:00", "2021-06-07T08:09:10-05:00"], "string", "str", object),
}


def _dataset_name(spec_dtype: str) -> str:
    return "d_" + spec_dtype.replace("-", "_")


@pytest.fixture(scope="module")
def spec_dtype_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dtypes") / "dtypes.zarr"
    write_root(
        path,
        datasets=[
            DatasetBuilder(_dataset_name(name), data=data, dtype=name) for name, (data, *_rest) in SPEC_DTYPES.items()
        ],
    )
    return path


@pytest.mark.parametrize("spec_dtype", list(SPEC_DTYPES))
def test_spec_dtype_is_stored_as_the_mapped_zarr_type(spec_dtype_store, spec_dtype):
    data, data_type, dtype_attr, _ = SPEC_DTYPES[spec_dtype]
    meta = node_json(spec_dtype_store, _dataset_name(spec_dtype))
    assert meta["data_type"] == data_type
    assert meta["attributes"] == {"_DTYPE": dtype_attr}
    assert meta["shape"] == [len(data)]
    if data_type == "string":
        assert meta["codecs"][0] == {"name": "vlen-utf8", "configuration": {}}
        assert meta["fill_value"] == ""


@pytest.mark.parametrize("spec_dtype", list(SPEC_DTYPES))
def test_spec_dtype_reads_back_with_values_and_builder_dtype(spec_dtype_store, spec_dtype):
    data, _, dtype_attr, numpy_type = SPEC_DTYPES[spec_dtype]
    builder = read_root(spec_dtype_store)[_dataset_name(spec_dtype)]
    assert builder.dtype == dtype_attr
    assert isinstance(builder.data, HDMFZarrArray)
    values = builder.data[:]
    assert values.dtype == np.dtype(numpy_type)
    expected = [v.decode("utf-8") if isinstance(v, bytes) else v for v in data]
    assert values.tolist() == expected


@pytest.mark.parametrize("spec_dtype", ["text", "ascii", "isodatetime"])
def test_text_datasets_read_lazily_as_python_str(spec_dtype_store, spec_dtype):
    array = read_root(spec_dtype_store)[_dataset_name(spec_dtype)].data
    assert array.dtype == np.dtype(object)
    assert all(type(item) is str for item in array)
    assert type(array[0]) is str


def test_one_byte_types_have_no_endian_configuration(tmp_path):
    write_root(
        tmp_path / "f.zarr",
        datasets=[
            DatasetBuilder("i8", data=[1], dtype="int8"),
            DatasetBuilder("u8", data=[1], dtype="uint8"),
            DatasetBuilder("b", data=[True], dtype="bool"),
            DatasetBuilder("i16", data=[1], dtype="int16"),
        ],
    )
    for name in ("i8", "u8", "b"):
        assert node_json(tmp_path / "f.zarr", name)["codecs"][0] == {"name": "bytes"}
    assert node_json(tmp_path / "f.zarr", "i16")["codecs"][0] == {
        "name": "bytes",
        "configuration": {"endian": "little"},
    }


def test_numeric_default_codecs_and_fill_values(tmp_path):
    write_root(
        tmp_path / "f.zarr",
        datasets=[DatasetBuilder("f", data=[1.5], dtype="float64"), DatasetBuilder("b", data=[True], dtype="bool")],
    )
    meta = node_json(tmp_path / "f.zarr", "f")
    assert meta["fill_value"] == 0.0
    assert meta["codecs"][1] == {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
    assert meta["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
    assert "dimension_names" not in meta
    assert node_json(tmp_path / "f.zarr", "b")["fill_value"] is False


# ------------------------------------------------------------------------------------------ inferred dtypes


@pytest.mark.parametrize(
    ("data", "spec_dtype", "data_type", "dtype_attr"),
    [
        ([1, 2], None, "int64", "int"),
        ([1.5, 2.5], None, "float64", "float"),
        ([True, False], None, "bool", "bool"),
        (np.array([1, 2], dtype=np.int16), None, "int16", "int16"),
        (np.array([1, 2], dtype=np.uint64), None, "uint64", "uint64"),
        (np.array([0.5], dtype=np.float32), "numeric", "float32", "float32"),
        (["a", "b"], None, "string", "str"),
        (np.array(["ab", "c"]), None, "string", "str"),
        (np.array([b"ab", b"c"]), None, "string", "str"),
        (np.array(["x", "y"], dtype=object), None, "string", "str"),
    ],
    ids=["py-int", "py-float", "py-bool", "np-int16", "np-uint64", "numeric", "py-str", "np-U", "np-S", "np-object"],
)
def test_data_without_a_known_spec_dtype_is_stored_by_its_own_type(tmp_path, data, spec_dtype, data_type, dtype_attr):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("d", data=data, dtype=spec_dtype)])
    meta = node_json(path, "d")
    assert (meta["data_type"], meta["attributes"]["_DTYPE"]) == (data_type, dtype_attr)
    read = read_root(path)["d"].data[:]
    expected = [v.decode() if isinstance(v, bytes) else v for v in np.asarray(data).tolist()]
    assert read.tolist() == expected


def test_two_dimensional_text_array_round_trips(tmp_path):
    path = tmp_path / "f.zarr"
    data = [["a", "bb"], ["ccc", ""]]
    write_root(path, datasets=[DatasetBuilder("t", data=data, dtype="text")])
    assert node_json(path, "t")["shape"] == [2, 2]
    array = read_root(path)["t"].data
    assert array[:].tolist() == data
    assert array[1, 0] == "ccc"


def test_datetime_values_are_written_as_iso_8601_text(tmp_path):
    path = tmp_path / "f.zarr"
    when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_root(
        path,
        datasets=[
            DatasetBuilder("many", data=[when, when.replace(year=2021)], dtype="isodatetime"),
            DatasetBuilder("one", data=when, dtype="isodatetime"),
        ],
    )
    root = read_root(path)
    assert root["many"].data[:].tolist() == ["2020-01-02T03:04:05+00:00", "2021-01-02T03:04:05+00:00"]
    assert root["one"].data == "2020-01-02T03:04:05+00:00"
    assert node_json(path, "one")["attributes"]["_DTYPE"] == "str"


def test_bytes_are_decoded_and_read_back_as_str(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(
        path,
        datasets=[
            DatasetBuilder("many", data=[b"caf\xc3\xa9", np.bytes_(b"x")], dtype="ascii"),
            DatasetBuilder("one", data=b"abc", dtype="bytes"),
        ],
    )
    root = read_root(path)
    assert root["many"].data[:].tolist() == ["café", "x"]
    assert root["one"].data == "abc" and type(root["one"].data) is str


@pytest.mark.parametrize("data", [[b"ok", b"\xff\xfe"], b"\xff\xfe"], ids=["list", "scalar"])
def test_bytes_that_are_not_utf8_raise_value_error_naming_the_dataset(tmp_path, data):
    with pytest.raises(ValueError, match=r"'d'.*hdmf-zarr/issues"):
        write_root(tmp_path / "f.zarr", datasets=[DatasetBuilder("d", data=data, dtype="bytes")])


# ------------------------------------------------------------------------------------------ scalars


@pytest.mark.parametrize(
    ("data", "spec_dtype", "data_type", "dtype_attr", "read_type"),
    [
        (5, None, "int64", "int", np.int64),
        (2.5, None, "float64", "float", np.float64),
        (True, None, "bool", "bool", np.bool_),
        (np.float32(2.5), "float32", "float32", "float32", np.float32),
        (3, "uint8", "uint8", "uint8", np.uint8),
        ("hello", None, "string", "str", str),
        (b"hello", "ascii", "string", "str", str),
        ("2020-01-02T03:04:05+00:00", "isodatetime", "string", "str", str),
    ],
)
def test_scalar_is_a_0d_array_whose_fill_value_holds_the_value(
    tmp_path, data, spec_dtype, data_type, dtype_attr, read_type
):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("s", data=data, dtype=spec_dtype)])
    meta = node_json(path, "s")
    expected = data.decode() if isinstance(data, bytes) else data
    assert meta["shape"] == []
    assert meta["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": []}}
    assert meta["data_type"] == data_type
    assert meta["attributes"] == {"_DTYPE": dtype_attr}
    assert meta["hdmf_zarr.inline_scalar"] == {"must_understand": False}
    assert meta["fill_value"] == expected
    assert not (path / "s" / "c").exists()  # the value is in the metadata: no chunk object
    assert zarr.open_array(path / "s", mode="r")[()] == expected  # any zarr reader gets the value
    value = read_root(path)["s"].data
    assert type(value) is read_type
    assert value == expected


def test_scalar_with_a_chosen_fill_value_is_stored_in_chunk_c(tmp_path):
    path = tmp_path / "f.zarr"
    data = ZarrDataIO(np.array(7, dtype="int32"), fillvalue=1)
    write_root(path, datasets=[DatasetBuilder("s", data=data, dtype="int32")])
    meta = node_json(path, "s")
    assert meta["fill_value"] == 1 and "hdmf_zarr.inline_scalar" not in meta
    assert (path / "s" / "c").is_file()
    assert read_root(path)["s"].data == 7


def test_scalar_equal_to_the_fill_value_writes_no_chunk(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("zero", data=0.0)])
    assert sorted(p.name for p in (path / "zero").iterdir()) == ["zarr.json"]
    assert read_root(path)["zero"].data == 0.0


# ------------------------------------------------------------------------------------------ empty datasets


@pytest.mark.parametrize(
    ("spec_dtype", "data_type", "dtype_attr"), [("int", "int32", "int32"), ("text", "string", "str")]
)
def test_empty_dataset_with_a_dtype_has_shape_zero(tmp_path, spec_dtype, data_type, dtype_attr):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("e", data=[], dtype=spec_dtype)])
    meta = node_json(path, "e")
    assert meta["shape"] == [0]
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [1]
    assert (meta["data_type"], meta["attributes"]["_DTYPE"]) == (data_type, dtype_attr)
    array = read_root(path)["e"].data
    assert len(array) == 0 and array[:].shape == (0,)


def test_empty_dataset_without_a_dtype_cannot_be_written(tmp_path):
    with pytest.raises(ValueError, match=r"'/g/e'.*empty"):
        write_root(tmp_path / "f.zarr", groups=[GroupBuilder("g", datasets={"e": DatasetBuilder("e", data=[])})])


# ------------------------------------------------------------------------------------------ dimension labels


def test_dimension_labels_are_written_last_as_array_dimensions(tmp_path):
    path = tmp_path / "f.zarr"
    dataset = DatasetBuilder(
        "d", data=np.zeros((2, 3)), attributes={"unit": "m"}, dimension_labels=("num_times", "num_channels")
    )
    write_root(path, datasets=[dataset])
    attributes = node_json(path, "d")["attributes"]
    assert attributes["_ARRAY_DIMENSIONS"] == ["num_times", "num_channels"]
    assert list(attributes)[-1] == "_ARRAY_DIMENSIONS"
    read = read_root(path)["d"]
    assert read.attributes["_ARRAY_DIMENSIONS"] == ["num_times", "num_channels"]
    assert read.data.attrs["_ARRAY_DIMENSIONS"] == ["num_times", "num_channels"]


def test_datasets_without_dimension_labels_have_no_array_dimensions(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("d", data=[1, 2])])
    assert "_ARRAY_DIMENSIONS" not in node_json(path, "d")["attributes"]


def test_nwb_dimension_labels_come_from_the_schema(nwbfile, zarr_path):
    from hdmf_zarr import NWBZarrIO

    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile)
    (name,) = [k for k in nwbfile.acquisition if k.startswith("ElectricalSeries")]
    data = node_json(zarr_path, f"acquisition/{name}/data")["attributes"]
    assert data["_ARRAY_DIMENSIONS"] == ["num_times", "num_channels"]
    assert data["_DTYPE"] == "float64"
    region = node_json(zarr_path, f"acquisition/{name}/electrodes")["attributes"]
    assert region["_ARRAY_DIMENSIONS"] == ["num_rows"]


# ------------------------------------------------------------------------------------------ attributes


def test_groups_and_datasets_round_trip_with_attributes(tmp_path):
    path = tmp_path / "f.zarr"
    inner = GroupBuilder("inner", attributes={"level": 2})
    outer = GroupBuilder(
        "outer",
        groups={"inner": inner, "empty": GroupBuilder("empty")},
        datasets={"d": DatasetBuilder("d", data=[1, 2], attributes={"unit": "s"})},
        attributes={"level": 1},
    )
    write_root(path, groups=[outer], attributes={"top": "yes"})
    assert node_json(path, "outer/empty") == {"attributes": {}, "zarr_format": 3, "node_type": "group"}
    root = read_root(path)
    assert root.attributes == {"top": "yes"}
    assert root["outer"].attributes == {"level": 1}
    assert root["outer/inner"].attributes == {"level": 2}
    assert root["outer/d"].attributes == {"unit": "s"}
    assert root["outer/empty"].groups == {} and root["outer/empty"].datasets == {}
    assert root["outer/inner"].location == "/outer"
    assert root.name == "root"


def test_numpy_scalar_attributes_are_stored_as_json_numbers(tmp_path):
    path = tmp_path / "f.zarr"
    attributes = {
        "i32": np.int32(3),
        "u64": np.uint64(2**63),
        "f32": np.float32(1.5),
        "b": np.bool_(True),
        "zero_d": np.array(7),
    }
    write_root(path, attributes=attributes)
    stored = node_json(path)["attributes"]
    assert stored == {"i32": 3, "u64": 2**63, "f32": 1.5, "b": True, "zero_d": 7}
    read = read_root(path).attributes
    assert read == {"i32": 3, "u64": 2**63, "f32": 1.5, "b": True, "zero_d": 7}
    assert type(read["b"]) is bool and type(read["i32"]) is int


def test_bytes_attributes_are_decoded_to_str(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(
        path,
        attributes={"one": b"caf\xc3\xa9", "np": np.bytes_(b"x"), "many": [b"a", np.bytes_(b"b")]},
    )
    assert read_root(path).attributes == {"one": "café", "np": "x", "many": ["a", "b"]}


def test_collection_attributes_become_json_lists(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(
        path,
        attributes={
            "matrix": np.arange(6, dtype=np.int16).reshape(2, 3),
            "tuple": (1, 2),
            "set": {3, 1, 2},
            "strings": np.array(["a", "b"]),
            "empty": [],
            "nested": [[1.5], [2.5]],
        },
    )
    stored = node_json(path)["attributes"]
    assert stored["matrix"] == [[0, 1, 2], [3, 4, 5]]
    assert stored["tuple"] == [1, 2]
    assert sorted(stored["set"]) == [1, 2, 3]
    read = read_root(path).attributes
    assert read["matrix"] == [[0, 1, 2], [3, 4, 5]] and isinstance(read["matrix"], list)
    assert read["strings"] == ["a", "b"]
    assert read["empty"] == [] and read["nested"] == [[1.5], [2.5]]


def test_datetime_attributes_are_written_as_iso_text(tmp_path):
    path = tmp_path / "f.zarr"
    when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_root(path, attributes={"when": when, "day": datetime.date(2020, 1, 2)})
    assert read_root(path).attributes == {"when": "2020-01-02T03:04:05+00:00", "day": "2020-01-02"}


def test_nonfinite_float_attributes_use_bare_json_tokens_and_read_back_as_floats(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(
        path,
        attributes={
            "nan": float("nan"),
            "pinf": np.inf,
            "ninf": np.float32(-np.inf),
            "list": [1.0, float("nan")],
            "text": "NaN",
            "text_inf": "Infinity",
        },
    )
    raw = (path / "zarr.json").read_text()
    assert '"nan": NaN' in raw and '"pinf": Infinity' in raw and '"ninf": -Infinity' in raw
    read = read_root(path).attributes
    assert math.isnan(read["nan"]) and read["pinf"] == math.inf and read["ninf"] == -math.inf
    assert read["list"][0] == 1.0 and math.isnan(read["list"][1])
    assert read["text"] == "NaN" and read["text_inf"] == "Infinity"


@pytest.mark.parametrize(
    "value",
    [np.int32, object(), complex(1, 2), [1, int], np.zeros(2, dtype=[("a", "i4")])],
    ids=["numpy-type", "object", "complex", "list-of-types", "structured"],
)
def test_attribute_without_a_json_form_raises_type_error_naming_attribute_and_object(tmp_path, value):
    dataset = DatasetBuilder("d", data=[1], attributes={"bad": value})
    with pytest.raises(TypeError, match=r"'bad'.*'/g/d'"):
        write_root(tmp_path / "f.zarr", groups=[GroupBuilder("g", datasets={"d": dataset})])


def test_attribute_without_a_json_form_on_a_group_names_the_group(tmp_path):
    with pytest.raises(TypeError, match=r"'bad'.*'/g'"):
        write_root(tmp_path / "f.zarr", groups=[GroupBuilder("g", attributes={"bad": np.float64})])


def test_write_attributes_converts_values_on_zarr_nodes(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, groups=[GroupBuilder("g")])
    with ZarrIO(path, "a") as io:
        group = io._file["g"]
        io.write_attributes(group, {"n": np.int64(4), "b": b"x", "m": np.eye(2)})
        with pytest.raises(TypeError, match=r"'t'.*'/g'"):
            io.write_attributes(group, {"t": np.int32})
    assert node_json(path, "g")["attributes"] == {"n": 4, "b": "x", "m": [[1.0, 0.0], [0.0, 1.0]]}


def test_reserved_attributes_are_hidden_from_builders(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("d", data=[1], attributes={"keep": 1}, dimension_labels=("x",))])
    assert set(node_json(path, "d")["attributes"]) == {"keep", "_DTYPE", "_ARRAY_DIMENSIONS"}
    assert read_root(path)["d"].attributes == {"keep": 1, "_ARRAY_DIMENSIONS": ["x"]}
    assert ".specloc" not in read_root(path).attributes


# ------------------------------------------------------------------------------------------ compounds

FIELDS = [
    {"name": "id", "dtype": "uint32"},
    {"name": "label", "dtype": "text"},
    {"name": "pos", "dtype": [{"name": "x", "dtype": "float"}, {"name": "y", "dtype": "int8"}]},
    {"name": "ok", "dtype": "bool"},
]
ROWS = [(1, "first", (0.5, -1), True), (2, "second", (1.5, 2), False)]


def test_compound_is_a_struct_with_fixed_length_utf32_text_fields(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("c", data=ROWS, dtype=FIELDS)])
    meta = node_json(path, "c")
    assert meta["data_type"] == {
        "name": "struct",
        "configuration": {
            "fields": [
                {"name": "id", "data_type": "uint32"},
                {"name": "label", "data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 2048}}},
                {
                    "name": "pos",
                    "data_type": {
                        "name": "struct",
                        "configuration": {
                            "fields": [{"name": "x", "data_type": "float32"}, {"name": "y", "data_type": "int8"}]
                        },
                    },
                },
                {"name": "ok", "data_type": "bool"},
            ]
        },
    }
    assert meta["fill_value"] == {"id": 0, "label": "", "pos": {"x": 0.0, "y": 0}, "ok": False}
    assert meta["attributes"] == {}, "compound arrays carry no _DTYPE and no _REFERENCE_FIELDS without references"


def test_compound_reads_back_lazily_as_records_with_a_builder_dtype_list(tmp_path):
    path = tmp_path / "f.zarr"
    write_root(path, datasets=[DatasetBuilder("c", data=ROWS, dtype=FIELDS)])
    builder = read_root(path)["c"]
    assert builder.dtype == [
        {"name": "id", "dtype": "uint32"},
        {"name": "label", "dtype": "str_"},
        {"name": "pos", "dtype": [{"name": "x", "dtype": "float32"}, {"name": "y", "dtype": "int8"}]},
        {"name": "ok", "dtype": "bool"},
    ]
    assert isinstance(builder.data, HDMFZarrArray)
    row = builder.data[1]
    assert isinstance(row, np.void)
    assert (int(row["id"]), str(row["label"]), float(row["pos"]["x"]), int(row["pos"]["y"]), bool(row["ok"])) == (
        2,
        "second",
        1.5,
        2,
        False,
    )
    assert builder.data[:].tolist() == ROWS


def test_compound_text_field_widens_for_values_longer_than_512_characters(tmp_path):
    path = tmp_path / "f.zarr"
    long = "x" * 600
    write_root(
        path, datasets=[DatasetBuilder("c", data=[(1, "short", (0, 0), True), (2, long, (0, 0), True)], dtype=FIELDS)]
    )
    label = node_json(path, "c")["data_type"]["configuration"]["fields"][1]
    assert label["data_type"]["configuration"]["length_bytes"] == 2400
    assert read_root(path)["c"].data[1]["label"] == long


def test_compound_from_a_structured_numpy_array(tmp_path):
    path = tmp_path / "f.zarr"
    data = np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i2"), ("b", "<f8")])
    fields = [{"name": "a", "dtype": "int16"}, {"name": "b", "dtype": "float64"}]
    write_root(path, datasets=[DatasetBuilder("c", data=data, dtype=fields)])
    read = read_root(path)["c"].data[:]
    assert read.dtype == data.dtype
    np.testing.assert_array_equal(read, data)


def test_compound_bytes_and_datetime_fields_are_stored_as_text(tmp_path):
    path = tmp_path / "f.zarr"
    fields = [{"name": "raw", "dtype": "ascii"}, {"name": "when", "dtype": "isodatetime"}]
    when = datetime.datetime(2020, 1, 2, tzinfo=UTC)
    write_root(path, datasets=[DatasetBuilder("c", data=[(b"abc", when)], dtype=fields)])
    row = read_root(path)["c"].data[0]
    assert (str(row["raw"]), str(row["when"])) == ("abc", "2020-01-02T00:00:00+00:00")


def test_zero_dimensional_compound_reads_back_as_a_0d_structured_array(tmp_path):
    path = tmp_path / "f.zarr"
    fields = [{"name": n, "dtype": "float32"} for n in "xyz"]
    write_root(path, datasets=[DatasetBuilder("position", data=(1.0, 2.0, 3.0), dtype=fields)])
    meta = node_json(path, "position")
    assert meta["shape"] == [] and meta["fill_value"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert meta["attributes"] == {}
    data = read_root(path)["position"].data
    assert isinstance(data, np.ndarray) and data.shape == () and data.dtype.names == ("x", "y", "z")
    assert data.tolist() == (1.0, 2.0, 3.0)


def test_zero_dimensional_nested_compound_keeps_long_text(tmp_path):
    path = tmp_path / "f.zarr"
    long = "y" * 700
    write_root(path, datasets=[DatasetBuilder("one", data=(7, long, (0.5, 1), True), dtype=FIELDS)])
    fields = node_json(path, "one")["data_type"]["configuration"]["fields"]
    assert fields[1]["data_type"]["configuration"]["length_bytes"] == 4 * 700
    data = read_root(path)["one"].data
    assert data.shape == ()
    assert data.tolist() == (7, long, (0.5, 1), True)


def test_unresolvable_compound_field_dtype_raises_value_error(tmp_path):
    fields = [{"name": "a", "dtype": "int"}, {"name": "weird", "dtype": "numeric"}]
    with pytest.raises(ValueError, match="Can't resolve dtype 'numeric' for compound field 'weird'"):
        write_root(tmp_path / "f.zarr", datasets=[DatasetBuilder("c", data=[(1, 2)], dtype=fields)])


# ------------------------------------------------------------------------------------------ container path


@pytest.fixture(scope="module")
def dtype_type_map(tmp_path_factory):
    """A TypeMap with a custom type holding one optional dataset per spec dtype (auto-generated class)."""
    from hdmf.common import get_type_map
    from hdmf.spec import AttributeSpec, DatasetSpec, DtypeSpec, GroupSpec, NamespaceBuilder

    folder = tmp_path_factory.mktemp("spec")
    datasets = [
        DatasetSpec(doc="values", name=_dataset_name(name), dtype=name, shape=(None,), quantity="?")
        for name in CONTAINER_VALUES
    ]
    datasets += [
        DatasetSpec(doc="scalar text", name="scalar_text", dtype="text", quantity="?"),
        DatasetSpec(doc="scalar time", name="when", dtype="isodatetime", quantity="?"),
        DatasetSpec(
            doc="table",
            name="table",
            dtype=[DtypeSpec("a", "a", "int"), DtypeSpec("b", "b", "text")],
            shape=(None,),
            quantity="?",
        ),
    ]
    attributes = [
        AttributeSpec(name=f"a_{name}", doc="attribute", dtype=name, required=False)
        for name in ("int", "float", "text", "bool", "isodatetime")
    ]
    holder = GroupSpec(
        doc="holds one dataset per dtype",
        data_type_def="DtypeHolder",
        data_type_inc="Container",
        datasets=datasets,
        attributes=attributes,
    )
    namespace = NamespaceBuilder(doc="dtypes", name="test_dtypes", version="0.1.0", author="t", contact="t@x")
    namespace.include_namespace("hdmf-common")
    namespace.add_spec("test_dtypes.extensions.yaml", holder)
    namespace.export("test_dtypes.namespace.yaml", outdir=str(folder))
    type_map = get_type_map()
    type_map.load_namespaces(str(folder / "test_dtypes.namespace.yaml"))
    return type_map


#: spec dtype -> (container data, _DTYPE written); numpy data of the exact type keeps hdmf from upcasting
CONTAINER_VALUES: dict[str, tuple[Any, str]] = {
    "float": (np.array([1.5, 2.5], dtype=np.float32), "float32"),
    "double": (np.array([1.5, 2.5]), "float64"),
    "long": (np.array([1, 2], dtype=np.int64), "int64"),
    "int": (np.array([1, 2], dtype=np.int32), "int32"),
    "short": (np.array([1, 2], dtype=np.int16), "int16"),
    "int8": (np.array([1, -2], dtype=np.int8), "int8"),
    "uint": (np.array([1, 2], dtype=np.uint32), "uint32"),
    "uint16": (np.array([1, 2], dtype=np.uint16), "uint16"),
    "uint8": (np.array([1, 2], dtype=np.uint8), "uint8"),
    "uint64": (np.array([1, 2**63], dtype=np.uint64), "uint64"),
    "bool": (np.array([True, False]), "bool"),
    "text": (["a", "é"], "str"),
    "utf8": (["a", "é"], "str"),
    "ascii": ([b"a", b"b"], "str"),
    "isodatetime": ([datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)], "str"),
}


def test_every_spec_dtype_round_trips_through_containers(dtype_type_map, tmp_path):
    holder_cls = dtype_type_map.get_dt_container_cls("DtypeHolder", "test_dtypes")
    when = datetime.datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    holder = holder_cls(
        name="root",
        scalar_text="hello",
        when=when,
        table=np.array([(1, "x"), (2, "y")], dtype=[("a", "<i4"), ("b", "U5")]),
        a_int=3,
        a_float=1.5,
        a_text="t",
        a_bool=True,
        a_isodatetime=when,
        **{_dataset_name(name): data for name, (data, _) in CONTAINER_VALUES.items()},
    )
    path = tmp_path / "holder.zarr"
    with ZarrIO(path, "w", manager=BuildManager(dtype_type_map)) as io:
        io.write(holder)
    for name, (_, dtype_attr) in CONTAINER_VALUES.items():
        assert node_json(path, _dataset_name(name))["attributes"]["_DTYPE"] == dtype_attr, name
    with ZarrIO(path, "r", manager=BuildManager(dtype_type_map)) as io:
        read = io.read()
        for name, (data, _) in CONTAINER_VALUES.items():
            values = getattr(read, _dataset_name(name))
            expected = [v.decode() if isinstance(v, bytes) else v for v in np.asarray(data, dtype=object).tolist()]
            assert list(values[:]) == expected, name
        assert read.scalar_text == "hello"
        assert read.when == when
        assert read.table[:].tolist() == [(1, "x"), (2, "y")]
        assert (read.a_int, read.a_float, read.a_text, read.a_bool) == (3, 1.5, "t", True)
        assert read.a_isodatetime == when
