"""Interoperability with the reference implementation (hdmf-zarr 0.14.0) and with the test-data corpus.

1. Corpus: every Zarr v3 store the reference wrote (``zarr_v3_hdmfzarr014/`` and its ``from_v2/``
   migrations) opens with our ``NWBZarrIO`` and matches its HDF5 source object by object.
2. The reference reads what we write: mock objects of every ``pynwb.testing.mock`` type, and every
   readable HDF5 file of the corpus exported with our ``NWBZarrIO.export``. The reference and our
   package each digest the file in a subprocess (``tests/_digest.py``) and the digests must match.
3. We read what the reference writes: the reference writes the mock file in a subprocess, and the
   two digests must match again.

The reference runs in a cached side environment (see ``conftest_interop.py``); tests that need it
skip when it cannot be installed. All writing and digesting happens in one batch per test session
(shared between xdist workers), so the interpreters start only a handful of times.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hdmf_zarr
from _digest import IMPLEMENTATION_KEY
from _mockfile import write_mock
from conftest import TESTDATA
from conftest_interop import REFERENCE_VERSION, file_lock, find_reference_python, finish_script, start_script
from hdmf_zarr import NWBZarrIO
from hdmf_zarr._roundtrip import RoundTripCheck, compare_files

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

V3_DIR = "zarr_v3_hdmfzarr014"

#: files whose containers pynwb 4.2 / hdmf 6.2 cannot rebuild, so any export that rebuilds them fails in pynwb /
#: hdmf themselves, not in the backend: with ``write_args={"link_data": False}`` (which rebuilds every container)
#: NWBHDF5IO -> NWBHDF5IO fails the same way, and so does the reference hdmf-zarr 0.14.0. With default arguments
#: an unmodified file is exported from the builders as read, with no rebuild, and these export fine.
REBUILD_FAILURES = {
    "hdf5/pynapple/sub-4_ses-4_ecephys+image.nwb": (
        "pynwb 4.2 / hdmf 6.2 cannot rebuild this file for export with link_data=False "
        "(ContainerConfigurationError: Units 'units' does not have attribute 'electrodes_index'); "
        "NWBHDF5IO->NWBHDF5IO export and the reference fail identically"
    ),
    "hdf5/pynwb_back_compat/3.0.0_device_model_str_special_chars.nwb": (
        "pynwb 4.2 / hdmf 6.2 rebuild with link_data=False leaves the linked DeviceModel without a parent "
        "(OrphanContainerBuildError); NWBHDF5IO->NWBHDF5IO export and the reference fail identically"
    ),
    "hdf5/pynwb_back_compat/3.0.0_fiber_photometry_extension.nwb": (
        "pynwb 4.2 / hdmf 6.2 rebuild with link_data=False leaves the linked DeviceModel without a parent "
        "(OrphanContainerBuildError); NWBHDF5IO->NWBHDF5IO export and the reference fail identically"
    ),
}

#: the slowest cases (several seconds each: their extension namespaces are large), marked ``slow``
SLOW_CASES = {
    "hdf5/neuroconv/doric_fiber_photometry.nwb",
    f"{V3_DIR}/doric_fiber_photometry.nwb.zarr",
}


# ---------------------------------------------------------------------------- the corpus, at collection


def _manifest() -> dict[str, Any]:
    path = TESTDATA / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


MANIFEST = _manifest()


def _corpus_stores() -> dict[str, str | None]:
    """``{store: HDF5 source or None}`` for every store under zarr_v3_hdmfzarr014/ and its from_v2/."""
    folder = TESTDATA / V3_DIR
    if not folder.is_dir():
        return {}
    stores = sorted(str(p.relative_to(TESTDATA)) for p in [*folder.glob("*.zarr"), *folder.glob("from_v2/*.zarr")])
    v2_sources = {e["output"]: e["source_hdf5"] for e in MANIFEST.get("zarr_v2_hdmfzarr013", []) if e.get("output")}
    sources: dict[str, str | None] = {}
    for entry in MANIFEST.get("zarr_v3_hdmfzarr014", []) + MANIFEST.get("zarr_v3_hdmfzarr014_from_v2", []):
        if entry.get("output"):
            source = v2_sources.get(entry["source_hdf5"], entry["source_hdf5"])
            sources[entry["output"]] = source if source.startswith("hdf5/") else None
    return {store: sources.get(store) for store in stores}


CORPUS_STORES = _corpus_stores()
READABLE_HDF5 = [e["file"] for e in MANIFEST.get("hdf5", []) if e.get("pynwb_read_ok")]


def _params(values: list[str], xfails: dict[str, str] | None = None, slow: bool = False) -> list[Any]:
    """One param per corpus item (a skipped placeholder when the corpus is absent), with its marks."""
    if not values:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"the test-data corpus is not at {TESTDATA}"))]
    xfails = xfails or {}
    params = []
    for value in values:
        marks = [pytest.mark.xfail(reason=xfails[value], strict=True)] if value in xfails else []
        if slow and value in SLOW_CASES:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(value, id=value, marks=marks))
    return params


def _export_name(hdf5: str) -> str:
    return hdf5.replace("/", "__") + ".zarr"


def stored_object_ids(hdf5: Path) -> set[str]:
    """The ``object_id`` attributes stored in an HDF5 file (pynwb makes up new random ids for the others)."""
    import h5py

    ids: set[str] = set()

    def visit(_: str, obj: Any) -> None:
        value = obj.attrs.get("object_id")
        if value is not None:
            ids.add(value.decode() if isinstance(value, bytes) else str(value))

    with h5py.File(hdf5, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return ids


def export_defaults(hdf5: Path) -> Any:
    """An allowance for ``compare_files`` that accepts what pynwb itself changes when it reads or rebuilds ``hdf5``.

    - pynwb >= 2.6 gives ``Subject.age__reference`` its default "birth" when it builds a Subject read
      from an older file that has no such attribute (the reference's exports show the same);
    - objects whose id is not stored in the file (files written before object ids existed, pynwb 1.0.x; objects
      that pynwb makes up on read, such as the DeviceModel of a 3.0.0 ``Device.model`` string) get new random
      ids at every read, so the ids of the HDF5 read and of the export cannot match.
    """
    stored: list[set[str]] = []

    def allow(path: str, field: str, expected: Any, actual: Any) -> bool:
        if field == "object_id":
            if not stored:
                stored.append(stored_object_ids(hdf5))
            return expected not in stored[0]
        return field == "age__reference" and expected is None and actual == "birth"

    return allow


# ---------------------------------------------------------------------------- digests


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}/{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


def digest_diffs(expected: dict, actual: dict, ignore: tuple[str, ...] = (), limit: int = 25) -> list[str]:
    """Leaf-by-leaf differences of two digests; keys containing any ``ignore`` text are skipped."""
    if "error" in expected or "error" in actual:
        return [f"error: {expected.get('error')} | {actual.get('error')}"]
    flat_a, flat_b = _flatten(expected), _flatten(actual)
    out = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if any(part in key for part in ignore):
            continue
        a, b = flat_a.get(key, "<missing>"), flat_b.get(key, "<missing>")
        if a != b:
            out.append(f"{key}: {a[:200]} | {b[:200]}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


# ---------------------------------------------------------------------------- the session batch


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by all xdist workers of this run (the run's own base folder otherwise)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "interop"


def _export_all(root: Path) -> dict[str, dict[str, Any]]:
    from pynwb import NWBHDF5IO

    results = {}
    for hdf5 in READABLE_HDF5:
        dst = root / "exports" / _export_name(hdf5)
        try:
            with NWBHDF5IO(str(TESTDATA / hdf5), "r") as src, NWBZarrIO(str(dst), "w") as io:
                io.export(src_io=src)  # default arguments, as users and `hdmf-zarr convert` call it
            results[hdf5] = {"path": str(dst), "error": None}
        except Exception as exc:
            results[hdf5] = {"path": str(dst), "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
    return results


def _build_batch(root: Path) -> dict[str, Any]:
    """Write everything with both implementations, then digest everything with both.

    While this process exports the corpus, the reference writes its mock file and both
    implementations digest the corpus stores; the exports and mock files are digested after.
    """
    batch: dict[str, Any] = {"reference_error": None, "digest_error": None}
    ref_python, reason = find_reference_python()
    batch["reference_error"] = reason or None
    ours_path = str(Path(hdmf_zarr.__file__).resolve().parents[1])
    pythons = {"ours": (sys.executable, ours_path), "ref": (ref_python, None)}
    ref_mock = root / "mock_ref.nwb.zarr"
    corpus = [str(TESTDATA / store) for store in CORPUS_STORES]
    jobs: dict[str, Any] = {}
    if ref_python:
        jobs["mock"] = start_script(ref_python, "_mockfile.py", [str(ref_mock)], root / "ref_mock.json")
        for name, (python, path) in pythons.items():
            jobs[f"{name}-corpus"] = start_script(python, "_digest.py", corpus, root / f"{name}-corpus.json", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch["exports"] = _export_all(root)
        our_mock = root / "mock_ours.nwb.zarr"
        try:
            write_mock(str(our_mock))
            batch["mock_ours"] = {"path": str(our_mock), "error": None}
        except Exception as exc:
            batch["mock_ours"] = {"path": str(our_mock), "error": f"{type(exc).__name__}: {exc}"}
    if not ref_python:
        return batch
    try:
        try:
            made = finish_script(jobs.pop("mock"), root / "ref_mock.json")
            batch["mock_ref"] = {"path": str(ref_mock), "error": made[str(ref_mock)].get("error")}
            batch["mock_ref_implementation"] = made[IMPLEMENTATION_KEY]
        except Exception as exc:
            batch["mock_ref"] = {"path": str(ref_mock), "error": f"{type(exc).__name__}: {exc}"}
        written = [e["path"] for e in batch["exports"].values() if e["error"] is None]
        written += [m["path"] for m in (batch["mock_ours"], batch["mock_ref"]) if m["error"] is None]
        for name, (python, path) in pythons.items():
            jobs[f"{name}-written"] = start_script(python, "_digest.py", written, root / f"{name}-written.json", path)
        batch["digests"] = {"ours": {}, "ref": {}}
        for key in list(jobs):
            batch["digests"][key.split("-")[0]].update(finish_script(jobs.pop(key), root / f"{key}.json"))
    except Exception as exc:
        batch["digest_error"] = f"{type(exc).__name__}: {exc}"
    finally:
        for process, handle in jobs.values():  # only after a failure: stop what we started
            process.kill()
            process.wait()
            handle.close()
    return batch


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything both implementations wrote and read in this run, built once for all workers."""
    if not TESTDATA.is_dir():
        pytest.skip(f"the shared test-data corpus is not present at {TESTDATA}")
    root = _shared_dir(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    result = root / "batch.json"
    with file_lock(root / "batch.lock"):
        if not result.exists():
            try:
                built = _build_batch(root)
            except Exception:
                built = {"fatal": traceback.format_exc()}
            result.write_text(json.dumps(built))
    built = json.loads(result.read_text())
    if "fatal" in built:
        pytest.fail(f"building the interop batch failed:\n{built['fatal']}")
    return built


@pytest.fixture(scope="session")
def digests(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"ours": {path: digest}, "ref": {path: digest}}``; skips without the reference."""
    if batch["reference_error"]:
        pytest.skip(f"reference hdmf-zarr {REFERENCE_VERSION} is unavailable: {batch['reference_error']}")
    if batch["digest_error"]:
        pytest.fail(f"digesting failed: {batch['digest_error']}")
    return batch["digests"]


def _export_of(batch: dict[str, Any], hdf5: str) -> str:
    entry = batch["exports"][hdf5]
    if entry["error"]:
        pytest.fail(f"our export of {hdf5} failed: {entry['error']}")
    return entry["path"]


def _assert_same_digest(digests: dict[str, Any], path: str, what: str, ignore: tuple[str, ...] = ()) -> None:
    ours, ref = digests["ours"][path], digests["ref"][path]
    assert "error" not in ref, f"the reference cannot read {what}: {ref['error']}\n{ref.get('trace', '')}"
    assert "error" not in ours, f"we cannot read {what}: {ours['error']}\n{ours.get('trace', '')}"
    diffs = digest_diffs(ref, ours, ignore)
    assert not diffs, f"{what}: our read differs from the reference's (key: reference | ours):\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------- 1. reading the corpus


@pytest.mark.parametrize("store", _params([s for s, src in CORPUS_STORES.items() if src], slow=True))
def test_corpus_store_matches_hdf5_source(testdata: Path, store: str) -> None:
    """A store the reference wrote reads with our NWBZarrIO exactly like the HDF5 file it came from."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(testdata / CORPUS_STORES[store]), "r") as h5, NWBZarrIO(str(testdata / store), "r") as zio:
        diffs = compare_files(h5.read(), zio.read(), allow=export_defaults(testdata / CORPUS_STORES[store]))
    assert not diffs, f"{store} differs from {CORPUS_STORES[store]} (expected HDF5 | ours):\n" + "\n".join(diffs)


@pytest.mark.parametrize("store", _params(list(CORPUS_STORES)))
def test_corpus_store_read_like_reference(digests: dict[str, Any], store: str) -> None:
    """We read each corpus store as the reference does (the only check for stores with no HDF5 source)."""
    _assert_same_digest(digests, str(TESTDATA / store), store)


# ---------------------------------------------------------------------------- 2. the reference reads ours


def test_subprocesses_ran_the_intended_implementations(digests: dict[str, Any]) -> None:
    ours, ref = digests["ours"][IMPLEMENTATION_KEY], digests["ref"][IMPLEMENTATION_KEY]
    package = str(Path(hdmf_zarr.__file__).resolve().parent)
    assert str(Path(ours["file"]).resolve().parent) == package
    assert ref["version"] == REFERENCE_VERSION
    assert not str(Path(ref["file"]).resolve()).startswith(package)


def test_mock_file_written_by_ours_read_by_reference(batch: dict[str, Any], digests: dict[str, Any]) -> None:
    mock = batch["mock_ours"]
    assert mock["error"] is None, f"we cannot write the mock file: {mock['error']}"
    _assert_same_digest(digests, mock["path"], "the mock file we wrote")


@pytest.mark.parametrize("hdf5", _params(READABLE_HDF5))
def test_export_read_by_reference(batch: dict[str, Any], digests: dict[str, Any], hdf5: str) -> None:
    """The reference reads our export of each readable HDF5 file of the corpus as we do.

    A file with no stored object ids exports without them (as pynwb's own HDF5 export), so every read makes new
    random ones: there the ids are left out of the comparison."""
    ignore = () if stored_object_ids(TESTDATA / hdf5) else ("object_id",)
    _assert_same_digest(digests, _export_of(batch, hdf5), f"our export of {hdf5}", ignore)


def _pynwb_hdf5_export(hdf5: str, folder: Path) -> Path:
    """pynwb's own HDF5 -> HDF5 export of a corpus file (default arguments, as ours is made): the baseline
    for what pynwb changes in a file by itself when it exports it."""
    from pynwb import NWBHDF5IO

    baseline = folder / "pynwb_export.nwb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(TESTDATA / hdf5), "r") as src, NWBHDF5IO(str(baseline), "w") as dst:
            dst.export(src_io=src)
    return baseline


@pytest.mark.parametrize("hdf5", _params(READABLE_HDF5, slow=True))
def test_export_matches_hdf5_source(batch: dict[str, Any], hdf5: str, tmp_path: Path) -> None:
    """Our export of each readable HDF5 file reads back (with ours) exactly like the HDF5 file.

    Where it does not, pynwb's own HDF5 -> HDF5 export (same write_args) is the baseline instead:
    a difference that pynwb makes on export by itself is not the backend's.
    """
    from pynwb import NWBHDF5IO

    path, allow = _export_of(batch, hdf5), export_defaults(TESTDATA / hdf5)
    with NWBHDF5IO(str(TESTDATA / hdf5), "r") as h5, NWBZarrIO(path, "r") as zio:
        diffs = compare_files(h5.read(), zio.read(), allow=allow)
    if not diffs:
        return
    baseline = _pynwb_hdf5_export(hdf5, tmp_path)
    with NWBHDF5IO(str(baseline), "r") as h5, NWBZarrIO(path, "r") as zio:
        baseline_diffs = compare_files(h5.read(), zio.read(), allow=allow)
    assert not baseline_diffs, (
        f"our export of {hdf5} differs from the source (expected HDF5 | ours):\n"
        + "\n".join(diffs)
        + "\nand from pynwb's own HDF5 export of it:\n"
        + "\n".join(baseline_diffs)
    )


BACK_TO_HDF5_FAILURES = {
    **REBUILD_FAILURES,
    "hdf5/pynwb_back_compat/3.0.0_ophys_devices_extension.nwb": (
        "pynwb's export keeps the *_model devices at /general/devices, where the NWBFile spec does not claim "
        "DeviceModels, so a read of any export of this file (pynwb's own HDF5 export too) leaves them orphaned; "
        "HDF5IO then writes their links as '/' and reading that file back recurses"
    ),
}


def _integers_widened(expected: Any, actual: Any) -> bool:
    """hdmf casts in-memory integer data to the spec dtype when it writes HDF5 (h5py datasets keep theirs)."""
    try:
        a, b = np.asarray(expected), np.asarray(actual)
    except Exception:  # noqa: BLE001 - not array-like: not this case
        return False
    return a.dtype.kind in "iu" and b.dtype.kind in "iu" and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("hdf5", _params(READABLE_HDF5, BACK_TO_HDF5_FAILURES, slow=True))
def test_export_converts_back_to_hdf5(batch: dict[str, Any], hdf5: str, tmp_path: Path) -> None:
    """HDF5 -> our Zarr -> HDF5 again (NWBHDF5IO.export) loses nothing: the final file matches the source.

    As above, pynwb's own HDF5 -> HDF5 export is the baseline where pynwb changes a file by itself.
    """
    from pynwb import NWBHDF5IO

    back, pynwb_allow = tmp_path / "back.nwb", export_defaults(TESTDATA / hdf5)

    def allow(path: str, field: str, expected: Any, actual: Any) -> bool:
        return pynwb_allow(path, field, expected, actual) or _integers_widened(expected, actual)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBZarrIO(_export_of(batch, hdf5), "r") as src, NWBHDF5IO(str(back), "w") as dst:
            dst.export(src_io=src, write_args={"link_data": False})
    with NWBHDF5IO(str(TESTDATA / hdf5), "r") as original, NWBHDF5IO(str(back), "r") as copy:
        diffs = compare_files(original.read(), copy.read(), allow=allow)
    if not diffs:
        return
    baseline = _pynwb_hdf5_export(hdf5, tmp_path)
    with NWBHDF5IO(str(baseline), "r") as expected, NWBHDF5IO(str(back), "r") as copy:
        baseline_diffs = compare_files(expected.read(), copy.read(), allow=allow)
    assert not baseline_diffs, f"{hdf5} -> Zarr -> HDF5 differs from the source:\n" + "\n".join(diffs)


def _store_layout(root: Path, ignore_attributes: tuple[str, ...] = ()) -> tuple[dict[str, str], set[str]]:
    """``({node: its zarr.json without consolidated metadata}, {every stored key})`` of a local store."""
    nodes, keys, fill_chunks = {}, set(), set()
    for folder, _, files in os.walk(root):
        for name in files:
            keys.add(os.path.relpath(os.path.join(folder, name), root))
        if "zarr.json" in files:
            meta = json.loads((Path(folder) / "zarr.json").read_text())
            meta.pop("consolidated_metadata", None)
            _undo_inline_scalar(meta, os.path.relpath(folder, root), keys)
            _undo_chunk_record(meta, Path(folder), root, fill_chunks)
            for attribute in ignore_attributes:
                meta.get("attributes", {}).pop(attribute, None)
            nodes[os.path.relpath(folder, root)] = json.dumps(meta, sort_keys=True)
    return nodes, keys - fill_chunks


def _undo_chunk_record(meta: dict[str, Any], folder: Path, root: Path, fill_chunks: set[str]) -> None:
    """Describe one of our arrays with a chunk record (docs/convention.md §8) as the reference stores it: without
    the record, and without the chunks that hold only the fill value (zarr leaves those out)."""
    if meta.pop("hdmf_zarr.stored_chunks", None) is None:
        return
    import zarr

    array = zarr.open_array(zarr.storage.LocalStore(folder), mode="r")
    fill = array.metadata.fill_value
    for chunk in sorted((folder / "c").rglob("*")):
        if not chunk.is_file():
            continue
        coords = tuple(int(part) for part in chunk.relative_to(folder / "c").parts)
        region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(coords, array.chunks))
        values = array[region]
        if values.dtype.names is None and np.all(
            (values == fill) | (np.isnan(values) & np.isnan(fill) if values.dtype.kind == "f" else False)
        ):
            fill_chunks.add(os.path.relpath(chunk, root))


def _undo_inline_scalar(meta: dict[str, Any], key: str, keys: set[str]) -> None:
    """Describe one of our inline scalars (docs/convention.md §5) as the reference stores it: the type's zero
    as fill value and the value in chunk ``c``, which is left out when the value is that zero."""
    if meta.pop("hdmf_zarr.inline_scalar", None) is None:
        return
    from zarr.core.metadata.v3 import ArrayV3Metadata

    data_type = ArrayV3Metadata.from_dict(dict(meta)).data_type
    zero = data_type.to_json_scalar(data_type.default_scalar(), zarr_format=3)
    if meta["fill_value"] != zero:
        keys.add(os.path.join(key, "c"))
    meta["fill_value"] = zero


def _layout_diffs(expected: Path, actual: Path, ignore_attributes: tuple[str, ...] = ()) -> list[str]:
    (nodes_a, keys_a), (nodes_b, keys_b) = (
        _store_layout(expected, ignore_attributes),
        _store_layout(actual, ignore_attributes),
    )
    diffs = [f"only in the reference's store: {k}" for k in sorted(keys_a - keys_b)]
    diffs += [f"only in ours: {k}" for k in sorted(keys_b - keys_a)]
    diffs += [
        f"{k}/zarr.json: {nodes_a[k][:300]} | {nodes_b[k][:300]}"
        for k in sorted(nodes_a)
        if k in nodes_b and nodes_a[k] != nodes_b[k]
    ]
    return diffs[:25]


@pytest.mark.parametrize(
    "store", _params([s for s, src in CORPUS_STORES.items() if src and not s.startswith(f"{V3_DIR}/from_v2/")])
)
def test_export_has_the_reference_layout(store: str, tmp_path: Path) -> None:
    """Our export of an HDF5 file stores the same nodes, metadata and chunk keys as the reference's export.

    The reference only exports from HDF5 with ``link_data=False`` (which rebuilds every container, refreshing
    ``nwb_version`` and adding dimension labels), so ours is made the same way here."""
    from pynwb import NWBHDF5IO

    path = tmp_path / "export.nwb.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(TESTDATA / CORPUS_STORES[store]), "r") as src, NWBZarrIO(path, "w") as io:
            io.export(src_io=src, write_args={"link_data": False})
    diffs = _layout_diffs(TESTDATA / store, path)
    assert not diffs, f"our export differs from {store} (reference | ours):\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------- 3. we read the reference's


def test_mock_file_written_by_reference_read_by_ours(batch: dict[str, Any], digests: dict[str, Any]) -> None:
    mock = batch["mock_ref"]
    assert mock["error"] is None, f"the reference cannot write the mock file: {mock['error']}"
    assert batch["mock_ref_implementation"]["version"] == REFERENCE_VERSION
    _assert_same_digest(digests, mock["path"], "the mock file the reference wrote")


def test_mock_files_of_both_writers_match(batch: dict[str, Any], digests: dict[str, Any]) -> None:
    """The same mock objects written by ours and by the reference: same content, same stored layout.

    Only object ids (new in each writing process) and the file's creation date may differ.
    """
    ours, ref = batch["mock_ours"], batch["mock_ref"]
    if ours["error"] or ref["error"]:
        pytest.fail(f"a mock file is missing: ours {ours['error']}, reference {ref['error']}")
    volatile = ("object_id", "file_create_date")
    diffs = digest_diffs(digests["ref"][ref["path"]], digests["ref"][ours["path"]], ignore=volatile)
    assert not diffs, "mock files differ in content (reference's | ours):\n" + "\n".join(diffs)
    diffs = _layout_diffs(Path(ref["path"]), Path(ours["path"]), ignore_attributes=("object_id",))
    assert not diffs, "mock files differ in layout (reference's | ours):\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------- the checkers themselves


def test_checkers_see_differences(nwbfile: Any, tmp_path: Path) -> None:
    """One changed value is reported by the comparison (of two reads, and of the original with a read) and by the
    digest, so a pass above means something."""
    import shutil

    import zarr

    from _digest import digest

    original, changed = tmp_path / "original.nwb.zarr", tmp_path / "changed.nwb.zarr"
    with NWBZarrIO(str(original), "w") as io:
        io.write(nwbfile)
    shutil.copytree(original, changed)
    data = zarr.open_array(str(changed / "acquisition" / "ts" / "data"), mode="r+")
    data[1] = data[1] + 1
    with NWBZarrIO(str(original), "r") as a, NWBZarrIO(str(changed), "r") as b:
        assert compare_files(a.read(), a.read()) == []
        assert RoundTripCheck().run(nwbfile, a.read()) == []
        diffs = compare_files(a.read(), b.read())
        assert RoundTripCheck().run(nwbfile, b.read()) == diffs
    assert len(diffs) == 1 and diffs[0].startswith("/ts.data: values differ: 1 value(s), first at (1,)"), diffs
    diffs = digest_diffs(digest(str(original)), digest(str(changed)))
    assert diffs and all("/ts/" in d for d in diffs), diffs
