"""Cached namespace specifications (format.md §1.13) and the ZarrIO read utilities (api.md §4.3.4, §4.3.6)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf.backends.errors import UnsupportedOperation
from hdmf.build import BuildManager, DatasetBuilder, GroupBuilder, TypeMap
from hdmf.spec import NamespaceCatalog

from hdmf_zarr import NWBZarrIO, ZarrIO


def node_json(path: Path, key: str = "") -> dict[str, Any]:
    doc = json.loads((path / key / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    return doc


@pytest.fixture(scope="module")
def nwb_path(tmp_path_factory) -> Path:
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    nwb.add_acquisition(mock_TimeSeries(name="ts"))
    path = tmp_path_factory.mktemp("nwb") / "cached.nwb.zarr"
    with NWBZarrIO(path, "w") as io:
        io.write(nwb)
    return path


def nwb_catalog() -> NamespaceCatalog:
    """An empty catalog that understands NWB spec keys (neurodata_type_def, ...)."""
    from pynwb.spec import NWBDatasetSpec, NWBGroupSpec, NWBNamespace

    return NamespaceCatalog(NWBGroupSpec, NWBDatasetSpec, NWBNamespace)


def _versions(path: Path, namespace: str) -> list[str]:
    folder = path / "specifications" / namespace
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


# ------------------------------------------------------------------------------------------ layout


def test_root_names_the_spec_group_in_specloc(nwb_path):
    attributes = node_json(nwb_path)["attributes"]
    assert attributes[".specloc"] == "specifications"
    assert node_json(nwb_path, "specifications")["node_type"] == "group"


def test_every_namespace_is_cached_under_its_version(nwb_path):
    import pynwb

    core_version = pynwb.get_type_map().namespace_catalog.get_namespace("core").version
    assert _versions(nwb_path, "core") == [core_version]
    assert {p.name for p in (nwb_path / "specifications").iterdir() if p.is_dir()} >= {
        "core",
        "hdmf-common",
        "hdmf-experimental",
    }
    documents = {p.name for p in (nwb_path / "specifications" / "core" / core_version).iterdir() if p.is_dir()}
    assert {"namespace", "nwb.base", "nwb.file", "nwb.ecephys", "nwb.device"} <= documents
    (common_version,) = _versions(nwb_path, "hdmf-common")
    common = {p.name for p in (nwb_path / "specifications" / "hdmf-common" / common_version).iterdir() if p.is_dir()}
    assert {"namespace", "base", "table", "sparse"} <= common


def test_spec_documents_are_0d_string_arrays_of_compact_json(nwb_path):
    (version,) = _versions(nwb_path, "hdmf-common")
    key = f"specifications/hdmf-common/{version}/namespace"
    meta = node_json(nwb_path, key)
    assert meta["shape"] == [] and meta["data_type"] == "string"
    assert meta["attributes"] == {}
    assert meta["codecs"][0] == {"name": "vlen-utf8", "configuration": {}}
    # a short document is an inline scalar (its value is the fill value, no chunk); a long one has chunk c
    assert (nwb_path / key / "c").is_file() != ("hdmf_zarr.inline_scalar" in meta)
    text = str(zarr.open_array(nwb_path / key, mode="r")[()])
    document = json.loads(text)
    assert text == json.dumps(document, separators=(",", ":"))
    (namespace,) = document["namespaces"]
    assert list(namespace) == ["doc", "schema", "name", "full_name", "version", "author", "contact"]
    assert namespace["name"] == "hdmf-common" and namespace["version"] == version
    assert {"source": "table"} in namespace["schema"]
    source = json.loads(str(zarr.open_array(nwb_path / f"specifications/hdmf-common/{version}/table", mode="r")[()]))
    assert set(source) <= {"groups", "datasets"}
    assert any(spec.get("data_type_def") == "DynamicTable" for spec in source["groups"])


def test_read_builder_hides_the_spec_group(nwb_path):
    with NWBZarrIO(nwb_path, "r") as io:
        root = io.read_builder()
        assert "specifications" not in root.groups
        assert ".specloc" not in root.attributes


def test_cache_spec_false_writes_no_specifications(nwbfile, zarr_path):
    with NWBZarrIO(zarr_path, "w") as io:
        io.write(nwbfile, cache_spec=False)
    assert ".specloc" not in node_json(zarr_path)["attributes"]
    assert not (zarr_path / "specifications").exists()
    with pytest.warns(UserWarning, match="No cached namespaces found"):
        assert ZarrIO.load_namespaces(NamespaceCatalog(), path=zarr_path) == {}


# ------------------------------------------------------------------------------------------ loading


def test_load_namespaces_from_a_path_fills_a_namespace_catalog(nwb_path):
    catalog = nwb_catalog()
    loaded = ZarrIO.load_namespaces(catalog, path=nwb_path)
    assert {"core", "hdmf-common", "hdmf-experimental"} <= set(loaded)
    assert "NWBFile" in catalog.get_namespace("core").get_registered_types()
    assert "hdmf-common" in loaded["core"]


def test_load_namespaces_from_an_open_file(nwb_path):
    with NWBZarrIO(nwb_path, "r") as io:
        type_map = TypeMap(nwb_catalog())
        loaded = ZarrIO.load_namespaces(type_map, file=io._file)
    assert "core" in loaded
    assert "TimeSeries" in type_map.namespace_catalog.get_namespace("core").get_registered_types()


def test_load_namespaces_restricted_to_named_namespaces(nwb_path):
    catalog = NamespaceCatalog()
    loaded = ZarrIO.load_namespaces(catalog, path=nwb_path, namespaces=["hdmf-common"])
    assert set(loaded) == {"hdmf-common"}
    assert "core" not in catalog.namespaces


def test_load_namespaces_with_path_and_file_raises_value_error(nwb_path):
    with NWBZarrIO(nwb_path, "r") as io:
        with pytest.raises(ValueError, match="Only one of 'path' and 'file' must be provided."):
            ZarrIO.load_namespaces(NamespaceCatalog(), path=nwb_path, file=io._file)


def test_load_namespaces_io_on_a_closed_file_raises_unsupported_operation(nwb_path):
    io = NWBZarrIO(nwb_path, "r")
    io.close()
    with pytest.raises(UnsupportedOperation):
        io.load_namespaces_io(NamespaceCatalog())


def test_load_namespaces_warns_when_nothing_is_cached(tmp_path):
    with ZarrIO(tmp_path / "f.zarr", "w") as io:
        io.write_builder(GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=[1])}))
    with pytest.warns(UserWarning, match="No cached namespaces found in"):
        assert ZarrIO.load_namespaces(NamespaceCatalog(), path=tmp_path / "f.zarr") == {}


# ------------------------------------------------------------------------------------------ versions


def _versioned_type_map(folder: Path, version: str, with_new_type: bool) -> TypeMap:
    """hdmf-common plus namespace ``test_versions`` at ``version``; newer versions add ``NewThing``."""
    from hdmf.common import get_type_map
    from hdmf.spec import AttributeSpec, DatasetSpec, GroupSpec, NamespaceBuilder

    folder = folder / version
    folder.mkdir(parents=True)
    thing = GroupSpec(
        doc="a thing",
        data_type_def="Thing",
        data_type_inc="Container",
        attributes=[AttributeSpec("label", "a label", "text", required=False)],
        datasets=[DatasetSpec(doc="values", name="values", dtype="int", shape=(None,), quantity="?")],
    )
    namespace = NamespaceBuilder(doc="versions", name="test_versions", version=version, author="a", contact="c")
    namespace.include_namespace("hdmf-common")
    namespace.add_spec("test_versions.extensions.yaml", thing)
    if with_new_type:
        namespace.add_spec(
            "test_versions.extensions.yaml", GroupSpec(doc="new", data_type_def="NewThing", data_type_inc="Container")
        )
    namespace.export("test_versions.namespace.yaml", outdir=str(folder))
    type_map = get_type_map()
    type_map.load_namespaces(str(folder / "test_versions.namespace.yaml"))
    return type_map


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> Path:
    """A file written with test_versions 2.9.0, then appended to with 2.10.0 (both versions cached)."""
    folder = tmp_path_factory.mktemp("versions")
    old = _versioned_type_map(folder, "2.9.0", with_new_type=False)
    new = _versioned_type_map(folder, "2.10.0", with_new_type=True)
    path = folder / "two_versions.zarr"
    thing_cls = old.get_dt_container_cls("Thing", "test_versions")
    with ZarrIO(path, "w", manager=BuildManager(old)) as io:
        io.write(thing_cls(name="root", label="first", values=[1, 2]))
    with ZarrIO(path, "a", manager=BuildManager(new)) as io:
        io.write(io.read())
    return path


def test_appending_with_a_newer_namespace_caches_both_versions(two_versions):
    assert _versions(two_versions, "test_versions") == ["2.10.0", "2.9.0"]
    assert "test_versions.extensions" in {
        p.name for p in (two_versions / "specifications/test_versions/2.10.0").iterdir()
    }


@pytest.mark.parametrize("source", ["path", "file"])
def test_load_namespaces_picks_the_semantically_newest_version(two_versions, source):
    catalog = NamespaceCatalog()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if source == "path":
            ZarrIO.load_namespaces(catalog, path=two_versions)
        else:
            with ZarrIO(two_versions, "r") as io:
                ZarrIO.load_namespaces(catalog, file=io._file)
    namespace = catalog.get_namespace("test_versions")
    assert namespace.version == "2.10.0"
    assert "NewThing" in namespace.get_registered_types()


def test_file_is_readable_with_only_its_cached_specs(two_versions):
    type_map = TypeMap(NamespaceCatalog())
    ZarrIO.load_namespaces(type_map, path=two_versions)
    with ZarrIO(two_versions, "r", manager=BuildManager(type_map)) as io:
        thing = io.read()
        assert type(thing).__name__ == "Thing"
        assert thing.label == "first" and list(thing.values[:]) == [1, 2]


def test_nwb_extension_types_are_read_from_the_cached_namespace(tmp_path):
    import pynwb
    from pynwb.spec import NWBAttributeSpec, NWBGroupSpec, NWBNamespaceBuilder
    from pynwb.testing.mock.file import mock_NWBFile

    folder = tmp_path / "ext"
    folder.mkdir()
    meta = NWBGroupSpec(
        doc="extension metadata",
        neurodata_type_def="ZarrTestMeta",
        neurodata_type_inc="LabMetaData",
        attributes=[NWBAttributeSpec("rig", "the rig", "text")],
    )
    namespace = NWBNamespaceBuilder(doc="ext", name="zarr-test-ext", version="0.1.0", author="a", contact="c")
    namespace.include_type("LabMetaData", namespace="core")
    namespace.add_spec("zarr-test-ext.extensions.yaml", meta)
    namespace.export("zarr-test-ext.namespace.yaml", outdir=str(folder))
    type_map = pynwb.get_type_map()  # a copy: the global map never learns the extension
    type_map.load_namespaces(str(folder / "zarr-test-ext.namespace.yaml"))
    meta_cls = type_map.get_dt_container_cls("ZarrTestMeta", "zarr-test-ext")
    nwb = mock_NWBFile()
    nwb.add_lab_meta_data(meta_cls(name="meta", rig="rig-7"))
    path = tmp_path / "ext.nwb.zarr"
    with NWBZarrIO(path, "w", manager=BuildManager(type_map)) as io:
        io.write(nwb)
    assert _versions(path, "zarr-test-ext") == ["0.1.0"]
    with NWBZarrIO(path, "r") as io:
        read = io.read()
        assert type(read.lab_meta_data["meta"]).__name__ == "ZarrTestMeta"
        assert read.lab_meta_data["meta"].rig == "rig-7"


# ------------------------------------------------------------------------------------------ read utilities


def test_get_builder_returns_the_builder_read_for_a_zarr_node(nwb_path):
    with NWBZarrIO(nwb_path, "r") as io:
        with pytest.raises(ValueError, match="has not been built"):
            io.get_builder(io._file["acquisition/ts"])
        root = io.read_builder()
        assert io.get_builder(io._file) is root
        assert io.get_builder(io._file["acquisition/ts"]) is root["acquisition/ts"]
        assert io.get_builder(io._file["acquisition/ts/data"]) is root["acquisition/ts/data"]


def test_get_container_constructs_the_container_of_a_zarr_node(nwb_path):
    from pynwb.base import TimeSeries

    with NWBZarrIO(nwb_path, "r") as io:
        nwbfile = io.read()
        container = io.get_container(io._file["acquisition/ts"])
        assert isinstance(container, TimeSeries)
        assert container is nwbfile.acquisition["ts"]


def test_can_read_accepts_zarr_v3_stores_only(nwb_path, tmp_path):
    assert ZarrIO.can_read(nwb_path)
    assert NWBZarrIO.can_read(path=str(nwb_path))
    assert not ZarrIO.can_read(tmp_path / "missing.zarr")
    (tmp_path / "empty").mkdir()
    assert not ZarrIO.can_read(tmp_path / "empty")
    (tmp_path / "plain.txt").write_text("not zarr")
    assert not ZarrIO.can_read(tmp_path / "plain.txt")


def test_generate_dataset_html_describes_zarr_arrays_and_other_data(nwb_path):
    array = zarr.open_array(nwb_path / "acquisition/ts/data", mode="r")
    html = ZarrIO.generate_dataset_html(array)
    assert "Zarr Array" in html and "<table" in html
    assert "Int64" in html and "(4,)" in html
    other = ZarrIO.generate_dataset_html(np.arange(3))
    assert "Array Read from ZarrIO (not a Zarr Array)" in other
