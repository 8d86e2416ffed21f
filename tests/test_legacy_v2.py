"""Legacy Zarr v2 files (hdmf-zarr <= 0.13): read by ZarrIO / NWBZarrIO, converted to Zarr v3.

Every v2 store of the corpus opens, matches the HDF5 file it was exported from object by object, and
converts to a v3 store that matches too. That includes what hdmf-zarr 0.14 cannot read: the pickled
text and timestamps of hdmf-zarr 0.8, compound datasets with reference fields, and a store without
cached specifications.
"""

from __future__ import annotations

import json
import shutil
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore

from _v2stores import (
    GROUP_COLUMN,
    SMALL_STORE,
    copy_store,
    hdf5_sources,
    is_nwb_store,
    object_array,
    v2_stores,
)
from hdmf_zarr import IncompleteConversionError, NWBZarrIO, NWBZarrV2IO, ZarrIO, ZarrV2IO, is_zarr_v2_file
from hdmf_zarr._legacy.index import legacy_source_location
from hdmf_zarr._roundtrip import compare_files

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SOURCES = hdf5_sources()

#: conversions that fail inside pynwb / hdmf, not in the backend: the HDF5 -> HDF5 export of the source
#: file fails the same way (see REBUILD_FAILURES in test_interop.py)
UPSTREAM_CONVERSION_FAILURES = {
    "zarr_v2_hdmfzarr080/sub-4_ses-4_ecephys+image.nwb.zarr": "does not have attribute 'electrodes_index'",
}


def allowed_changes(hdf5: Path | None) -> Any:
    """Differences that pynwb / hdmf make themselves when they read or rebuild a file:

    - files written before object ids existed get new random ids at every read;
    - pynwb >= 2.6 gives ``Subject.age__reference`` its default "birth" when it rebuilds an older file;
    - on export hdmf widens a signed index (VectorIndex data stored as int32) to the spec's unsigned type.
    """
    has_ids = True
    if hdf5 is not None:
        import h5py

        with h5py.File(hdf5, "r") as f:
            has_ids = "object_id" in f.attrs

    def allow(path: str, field: str, expected: Any, actual: Any) -> bool:
        if field == "object_id":
            return not has_ids
        if field == "age__reference":
            return expected is None and actual == "birth"
        if field == "__data__" and isinstance(expected, np.ndarray) and isinstance(actual, np.ndarray):
            widened = expected.dtype.kind == "i" and actual.dtype.kind == "u"
            return widened and np.array_equal(expected, actual)
        return False

    return allow


def _read_and_compare(store: Path, expected: Any, allow: Any, what: str, **kwargs: Any) -> None:
    with NWBZarrIO(str(store), "r", **kwargs) as io:
        diffs = compare_files(expected, io.read(), allow=allow)
    assert not diffs, f"{what} (expected | actual):\n" + "\n".join(diffs)


def _params() -> list[Any]:
    stores = v2_stores()
    if not stores:
        return [pytest.param(None, marks=pytest.mark.skip(reason="the test-data corpus is not present"))]
    return [pytest.param(store, id=store) for store in stores]


@pytest.mark.parametrize("store", _params())
def test_corpus_v2_store_reads_and_converts(testdata: Path, tmp_path: Path, store: str) -> None:
    """Opens with NWBZarrIO (ZarrIO + hdmf-common for HDMF-only files), matches its HDF5 source, converts to v3."""
    path, converted = testdata / store, tmp_path / "converted.zarr"
    if not is_nwb_store(path):
        _hdmf_store_reads_and_converts(path, converted)
        return
    from pynwb import NWBHDF5IO

    source = testdata / SOURCES[store] if store in SOURCES else None
    allow = allowed_changes(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with NWBZarrIO(str(path), "r") as v2, NWBHDF5IO(str(source), "r") if source else nullcontext() as h5:
            nwbfile = v2.read()
            expected = h5.read() if source else nwbfile
            if source:
                diffs = compare_files(expected, nwbfile, allow=allow)
                assert not diffs, f"{store} differs from {source} (HDF5 | v2 read):\n" + "\n".join(diffs)
            if store in UPSTREAM_CONVERSION_FAILURES:
                with pytest.raises(Exception, match=UPSTREAM_CONVERSION_FAILURES[store]):
                    NWBZarrV2IO.convert_to_v3(str(path), str(converted))
                assert not converted.exists()
                return
            NWBZarrV2IO.convert_to_v3(str(path), str(converted))
            assert (converted / "zarr.json").is_file() and not list(converted.rglob(".z*"))
            what = f"the conversion of {store} differs from {source or 'its v2 read'}"
            _read_and_compare(converted, expected, allow, what)


def _hdmf_store_reads_and_converts(path: Path, converted: Path) -> None:
    from hdmf.common import get_manager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with ZarrIO(str(path), "r", manager=get_manager()) as v2:
            container = v2.read()
            assert container.name == "root" and len(container.columns) > 0
            NWBZarrV2IO.convert_to_v3(str(path), str(converted))
            with ZarrIO(str(converted), "r", manager=get_manager()) as v3:
                diffs = compare_files(container, v3.read())
    assert not diffs, f"the conversion of {path.name} differs from it:\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------- opening and modes


def test_v2_store_opens_read_only_in_every_class(testdata: Path, tmp_path: Path) -> None:
    path = str(copy_store(SMALL_STORE, tmp_path / "v2.nwb.zarr"))
    before = sorted(p.name for p in Path(path).iterdir())
    for mode in ("a", "r+"):
        with pytest.raises(ValueError, match=r"is a Zarr v2 file.*mode '(a|r\+)'.*convert_to_v3.*hdmf-zarr convert"):
            NWBZarrIO(path, mode)
        with pytest.raises(ValueError, match="read-only"):
            NWBZarrV2IO(path, mode)
        with pytest.raises(ValueError, match="read-only"):
            ZarrV2IO(path, mode)
    assert sorted(p.name for p in Path(path).iterdir()) == before
    with NWBZarrIO(path, "r") as io, NWBZarrV2IO(path, "r") as v2io:
        read = io.read()
        assert len(read.electrodes) > 0
        diffs = compare_files(read, v2io.read())
    assert not diffs, "NWBZarrIO and NWBZarrV2IO read the file differently:\n" + "\n".join(diffs)
    with NWBZarrV2IO(path, "r") as io:
        with pytest.raises(NotImplementedError):
            io.write(container=io.read())
        with pytest.raises(NotImplementedError):
            io.export(src_io=io)


def test_mode_w_replaces_a_v2_store(testdata: Path, tmp_path: Path, nwbfile: Any) -> None:
    path = copy_store(SMALL_STORE, tmp_path / "v2.nwb.zarr")
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)
    assert (path / "zarr.json").is_file() and not list(path.rglob(".z*"))
    with NWBZarrIO(str(path), "r") as io:
        assert io.read().identifier == nwbfile.identifier


def test_pynwb_reads_v2_files(testdata: Path) -> None:
    import pynwb

    path = str(testdata / SMALL_STORE)
    assert NWBZarrIO.can_read(path) and ZarrIO.can_read(path) and NWBZarrV2IO.can_read(path)
    for read in (pynwb.read_nwb, NWBZarrIO.read_nwb, NWBZarrV2IO.read_nwb):
        nwbfile = read(path)
        try:
            assert [g.name for g in nwbfile.electrodes["group"][:2]] == ["shank0", "shank0"]
        finally:
            nwbfile.read_io.close()


def test_store_without_cached_specs_uses_installed_schema(testdata: Path, tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    path = copy_store(SMALL_STORE, tmp_path / "nospecs.nwb.zarr")
    shutil.rmtree(path / "specifications")
    for name in (".zattrs", ".zmetadata"):
        document = json.loads((path / name).read_text())
        attrs = document["metadata"][".zattrs"] if name == ".zmetadata" else document
        del attrs[".specloc"]
        if name == ".zmetadata":
            document["metadata"] = {k: v for k, v in document["metadata"].items() if "specifications" not in k}
        (path / name).write_text(json.dumps(document))
    with pytest.warns(UserWarning, match="No cached namespaces"):
        io = NWBZarrIO(str(path), "r")
    with io, NWBHDF5IO(str(testdata / SOURCES[SMALL_STORE]), "r") as h5:
        diffs = compare_files(h5.read(), io.read(), allow=allowed_changes(None))
    assert not diffs, "\n".join(diffs)


def test_specs_missing_from_consolidated_metadata_are_found(testdata: Path) -> None:
    """hdmf-zarr once cached specs (and ``.specloc``) after consolidating; they are read from the store."""
    path = testdata / "zarr_v2_real" / "pynwb_zarr_tutorial.nwb.zarr"
    assert "specifications/.zgroup" not in json.loads((path / ".zmetadata").read_text())["metadata"]
    from hdmf.spec import NamespaceCatalog
    from pynwb.spec import NWBDatasetSpec, NWBGroupSpec, NWBNamespace

    catalog = NamespaceCatalog(NWBGroupSpec, NWBDatasetSpec, NWBNamespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        NWBZarrIO.load_namespaces(catalog, path=str(path))
    assert not [w for w in caught if "No cached namespaces" in str(w.message)]
    assert catalog.get_namespace("core").version == "2.6.0-alpha"


def test_allow_pickle_is_a_reader_setting(testdata: Path) -> None:
    path = str(testdata / SMALL_STORE)
    with ZarrV2IO(path, "r") as io:
        assert io.allow_pickle is False
    with ZarrV2IO(path, "r", allow_pickle=True) as io:
        assert io.allow_pickle is True
    with NWBZarrIO(path, "r", allow_pickle=True) as io:
        assert len(io.read().electrodes) == 12
    with NWBZarrIO(path, "r") as io:
        assert len(io.read(allow_pickle=True).electrodes) == 12


def test_is_zarr_v2_file(testdata: Path, tmp_path: Path, nwbfile: Any) -> None:
    v3 = tmp_path / "v3.nwb.zarr"
    with NWBZarrIO(str(v3), "w") as io:
        io.write(nwbfile)
    v2 = testdata / SMALL_STORE
    assert is_zarr_v2_file(v2) and is_zarr_v2_file(str(v2)) and is_zarr_v2_file(LocalStore(str(v2), read_only=True))
    assert not is_zarr_v2_file(v3) and not is_zarr_v2_file(LocalStore(str(v3), read_only=True))
    assert not is_zarr_v2_file(tmp_path / "missing.zarr")
    # URLs are asked through fsspec (here its in-memory file system)
    zarr.open_group("memory://legacy.zarr", mode="w", zarr_format=2)
    zarr.open_group("memory://current.zarr", mode="w", zarr_format=3)
    assert is_zarr_v2_file("memory://legacy.zarr", storage_options={})
    assert not is_zarr_v2_file("memory://current.zarr", storage_options={})
    assert not is_zarr_v2_file("memory://absent.zarr", storage_options={})


# ---------------------------------------------------------------------------- damaged entries


def test_unreadable_entry_is_skipped_and_blocks_conversion(testdata: Path, tmp_path: Path) -> None:
    path = copy_store(SMALL_STORE, tmp_path / "damaged.nwb.zarr")
    (path / GROUP_COLUMN / "0").write_bytes(b"not a blosc frame")
    with pytest.warns(UserWarning, match=f"Skipping '/{GROUP_COLUMN}'"):
        with NWBZarrV2IO(str(path), "r") as io:
            builder = io.read_builder()
            assert [p for p, _ in io.skipped_entries] == [f"/{GROUP_COLUMN}"]
            assert "group" not in builder["general/extracellular_ephys/electrodes"].datasets
    destination = tmp_path / "converted.zarr"
    with pytest.warns(UserWarning, match="Skipping"):
        with pytest.raises(IncompleteConversionError, match=rf"1 entries .*\n  /{GROUP_COLUMN}: Cannot decode"):
            NWBZarrV2IO.convert_to_v3(str(path), str(destination))
    assert not destination.exists()


# ---------------------------------------------------------------------------- hand decoding


def _write_v2_array(root: Path, key: str, values: np.ndarray, chunks: tuple, skip: tuple = (), **zarray: Any) -> dict:
    """Write ``values`` as a v2 array with vlen-utf8 / plain bytes chunks (no compressor) by hand."""
    order = zarray.get("order", "C")
    meta = {
        "chunks": list(chunks),
        "compressor": None,
        "dtype": zarray.pop("dtype", values.dtype.str if values.dtype != object else "|O"),
        "fill_value": zarray.pop("fill_value", 0),
        "filters": zarray.pop("filters", None),
        "order": order,
        "shape": list(values.shape),
        "zarr_format": 2,
    }
    (root / key).mkdir(parents=True)
    (root / key / ".zarray").write_text(json.dumps(meta))
    grid = [range(-(-s // c)) for s, c in zip(values.shape, chunks)]
    for index in np.ndindex(*[len(g) for g in grid]):
        if index in skip:
            continue
        block = np.empty(chunks, dtype=values.dtype)
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, values.shape))
        block[tuple(slice(0, r.stop - r.start) for r in region)] = values[region]
        if values.dtype == object:
            block[block == None] = ""  # noqa: E711 - the padding of edge chunks
            encoded = numcodecs.VLenUTF8().encode(block.ravel(order=order))
        else:
            encoded = block.tobytes(order=order)
        (root / key / ".".join(map(str, index))).write_bytes(encoded)
    return meta


def test_decode_v2_dataset_multichunk_text_and_missing_chunks(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path))
    text = object_array([f"r{i}c{j}" for i in range(5) for j in range(3)]).reshape(5, 3)
    meta = _write_v2_array(tmp_path, "text", text, (2, 2), filters=[{"id": "vlen-utf8"}], fill_value="")
    assert ZarrV2IO._decode_v2_dataset(store, "/text", meta).tolist() == text.tolist()
    numbers = np.arange(20, dtype="<i4").reshape(4, 5)
    meta = _write_v2_array(tmp_path, "numbers", numbers, (3, 2), skip=((1, 2),), fill_value=-1, order="F")
    expected = numbers.copy()
    expected[3:, 4:] = -1
    assert np.array_equal(ZarrV2IO._decode_v2_dataset(store, "numbers", meta), expected)
    meta = _write_v2_array(tmp_path, "missing", text, (5, 3), skip=((0, 0),), filters=[{"id": "vlen-utf8"}])
    assert ZarrV2IO._decode_v2_dataset(store, "missing", meta).tolist() == [[None] * 3] * 5


def test_legacy_link_source_relative_to_parent_folder(tmp_path: Path) -> None:
    (tmp_path / "data" / "file.zarr").mkdir(parents=True)
    (tmp_path / "data" / "other.zarr").mkdir()
    here = str(tmp_path / "data" / "file.zarr")
    assert legacy_source_location(here, ".") == here
    assert legacy_source_location(here, "other.zarr") == str(tmp_path / "data" / "other.zarr")
    assert legacy_source_location(here, "../other.zarr") == str(tmp_path / "data" / "other.zarr")
    assert legacy_source_location(here, "nowhere.zarr") == here


def test_v2_spec_reader_reads_json_coded_documents(testdata: Path) -> None:
    import zarr

    from hdmf_zarr.backend_zarrv2 import ZarrV2SpecReader

    folder = testdata / SMALL_STORE / "specifications" / "core" / "2.11.0"
    reader = ZarrV2SpecReader(zarr.open_group(str(folder), mode="r", zarr_format=2, use_consolidated=False))
    assert reader.read_namespace("namespace")[0]["name"] == "core"
    assert "groups" in reader.read_spec("nwb.base")


def test_legacy_link_to_a_sibling_store_resolves(testdata: Path, tmp_path: Path) -> None:
    """hdmf-zarr 0.10 and earlier wrote link sources relative to the folder holding the store."""
    here = copy_store(SMALL_STORE, tmp_path / "here.nwb.zarr")
    copy_store(SMALL_STORE, tmp_path / "other.nwb.zarr")
    link = [{"name": "other_units", "source": "other.nwb.zarr", "path": "/units"}]
    attrs = json.loads((here / "analysis" / ".zattrs").read_text()) if (here / "analysis" / ".zattrs").exists() else {}
    attrs["zarr_link"] = link
    (here / "analysis" / ".zattrs").write_text(json.dumps(attrs))
    meta = json.loads((here / ".zmetadata").read_text())
    meta["metadata"]["analysis/.zattrs"] = attrs
    (here / ".zmetadata").write_text(json.dumps(meta))
    with ZarrIO(str(here), "r") as io:
        target = io.read_builder()["analysis"].links["other_units"].builder
        assert target.name == "units" and Path(target.source) == tmp_path / "other.nwb.zarr"
        name, group = io.resolve_ref(link[0])
        assert name == "units" and "spike_times" in group


def test_the_v2_reader_is_imported_only_when_a_v2_store_is_opened(tmp_path: Path, nwbfile: Any) -> None:
    import subprocess
    import sys

    path = tmp_path / "v3.nwb.zarr"
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)
    code = (
        "import sys, hdmf_zarr\n"
        f"with hdmf_zarr.NWBZarrIO({str(path)!r}, 'r') as io: io.read()\n"
        "print(sorted(m for m in sys.modules if m.startswith('hdmf_zarr') and 'v2' in m))\n"
        "hdmf_zarr.NWBZarrV2IO\n"
        "print('hdmf_zarr._legacy.index' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
