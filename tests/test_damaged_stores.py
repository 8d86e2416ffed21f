"""Damaged files: every error names the store and the object, says what to do, and is a DamagedFileError.

A small NWB file is written once, copied for each test and damaged by hand: a metadata document that does not
parse or is not metadata, a consolidated block that is malformed, a chunk whose bytes do not decode.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from zarr.storage import LocalStore

from hdmf_zarr import ZarrIO
from hdmf_zarr._read.builders import StoreIndex
from hdmf_zarr._read.documents import MAX_ATTRIBUTE_DEPTH
from hdmf_zarr.errors import DamagedFileError, MissingCodecError
from hdmf_zarr.nwb import NWBZarrIO
from hdmf_zarr.utils import ZarrDataIO

DATA = "acquisition/ts/data"
VALUES = np.arange(100.0)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NWB file whose TimeSeries data is stored in four chunks (c/0 .. c/3)."""
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    path = tmp_path_factory.mktemp("damaged") / "base.nwb.zarr"
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="ts", data=ZarrDataIO(VALUES, chunks=(25,)), rate=1.0))
    with NWBZarrIO(str(path), "w") as io:
        io.write(nwbfile)
    assert sorted(p.name for p in (path / DATA / "c").iterdir()) == ["0", "1", "2", "3"]
    return path


@pytest.fixture
def copy(written: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(written, tmp_path / "damaged.nwb.zarr")).resolve()


def read_data(path: Path, mode: str = "r") -> np.ndarray:
    with NWBZarrIO(str(path), mode) as io:
        return np.asarray(io.read().acquisition["ts"].data[:])


def check(err: pytest.ExceptionInfo, path: Path, *names: str) -> str:
    """The message of ``err``: a DamagedFileError (an OSError) naming the store and each of ``names``."""
    assert isinstance(err.value, DamagedFileError) and isinstance(err.value, OSError)
    message = str(err.value)
    for name in (str(path), *names):
        assert name in message, f"{name!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------- damaging documents


def _load(doc: Path) -> dict:
    return json.loads(doc.read_text())


def truncated(doc: Path) -> None:
    doc.write_bytes(doc.read_bytes()[: len(doc.read_bytes()) // 2])


def not_json(doc: Path) -> None:
    doc.write_bytes(b"\x00\x01 this is not JSON \xff")


def empty(doc: Path) -> None:
    doc.write_bytes(b"")


def json_list(doc: Path) -> None:
    doc.write_text("[]")


def empty_object(doc: Path) -> None:
    doc.write_text("{}")


def zarr_format_2(doc: Path) -> None:
    doc.write_text(json.dumps({**_load(doc), "zarr_format": 2}))


def bad_node_type(doc: Path) -> None:
    doc.write_text(json.dumps({**_load(doc), "node_type": "folder"}))


def invalid_metadata(doc: Path) -> None:
    """JSON of the right shape that zarr does not accept (an array without a valid shape, a group with an
    extension field it must understand)."""
    meta = _load(doc)
    if meta["node_type"] == "array":
        meta["shape"] = "many"
    else:
        meta["unknown_extension"] = {"must_understand": True}
    doc.write_text(json.dumps(meta))


def nested_10000(doc: Path) -> None:
    doc.write_text("[" * 10_000 + "]" * 10_000)


def deep_attribute(doc: Path, depth: int = MAX_ATTRIBUTE_DEPTH + 20) -> None:
    """An attribute JSON parses without trouble, nested deeper than anything the reader accepts."""
    meta = _load(doc)
    meta["attributes"]["extra"] = "@@"
    doc.write_text(json.dumps(meta).replace('"@@"', "[" * depth + "1" + "]" * depth))


DOCUMENT_DAMAGE = [truncated, not_json, empty, json_list, empty_object, zarr_format_2, bad_node_type, nested_10000]
REASONS = {
    "truncated": "is not valid JSON",
    "not_json": "is not valid JSON",
    "empty": "is empty",
    "json_list": "JSON array",
    "empty_object": "no 'zarr_format'",
    "zarr_format_2": "'zarr_format' 2, not 3",
    "bad_node_type": "'node_type' 'folder'",
    "invalid_metadata": "is not metadata zarr can read",
    "nested_10000": "nested deeper",
    "deep_attribute": f"more than {MAX_ATTRIBUTE_DEPTH} levels",
}


def without_block(path: Path) -> None:
    """Drop the consolidated block, as a file written without one (mode 'r' then reads every node document)."""
    root = path / "zarr.json"
    root.write_text(json.dumps({**_load(root), "consolidated_metadata": None}))


# ---------------------------------------------------------------------------- the root document


@pytest.mark.parametrize("damage", [*DOCUMENT_DAMAGE, invalid_metadata], ids=lambda f: f.__name__)
def test_damaged_root_document_fails_on_open(copy: Path, damage: Callable[[Path], None]) -> None:
    damage(copy / "zarr.json")
    with pytest.raises(DamagedFileError) as err:
        NWBZarrIO(str(copy), "r")
    message = check(err, copy, "'/'", "'zarr.json'", REASONS[damage.__name__], f"hdmf-zarr verify {copy}")
    assert "restore 'zarr.json' from a backup" in message
    with pytest.raises(DamagedFileError) as err:
        ZarrIO(str(copy), "r").open()
    check(err, copy, "'zarr.json'")


def test_parse_errors_are_chained(copy: Path) -> None:
    truncated(copy / "zarr.json")
    with pytest.raises(DamagedFileError) as err:
        NWBZarrIO(str(copy), "r")
    assert isinstance(err.value.__cause__, json.JSONDecodeError)
    nested_10000(copy / "zarr.json")
    with pytest.raises(DamagedFileError) as err:
        NWBZarrIO(str(copy), "r")
    assert isinstance(err.value.__cause__, RecursionError)


# ---------------------------------------------------------------------------- a node's document


NODE_DAMAGE = [*DOCUMENT_DAMAGE, invalid_metadata, deep_attribute]


@pytest.mark.parametrize("node", [DATA, "acquisition/ts"])
@pytest.mark.parametrize("damage", NODE_DAMAGE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("setup", ["mode r-", "mode r, no consolidated block"])
def test_damaged_node_document_fails_the_read(copy: Path, node: str, damage: Callable, setup: str) -> None:
    damage(copy / node / "zarr.json")
    mode = "r-" if setup == "mode r-" else "r"
    if mode == "r":
        without_block(copy)
    with pytest.raises(DamagedFileError) as err:
        read_data(copy, mode)
    message = check(err, copy, f"'/{node}'", f"'{node}/zarr.json'", REASONS[damage.__name__])
    assert f"restore '{node}/zarr.json' from a backup" in message and f"hdmf-zarr verify {copy}" in message


@pytest.mark.parametrize("damage", [truncated, not_json, empty_object], ids=lambda f: f.__name__)
def test_damaged_array_document_under_an_intact_block(copy: Path, damage: Callable) -> None:
    """Mode 'r' takes the metadata from the consolidated block; the array's own document is checked against it
    when its data is first read, so the damage still fails the read, naming the dataset and the store."""
    damage(copy / DATA / "zarr.json")
    with pytest.raises(DamagedFileError) as err:
        read_data(copy, "r")
    check(err, copy, f"'/{DATA}'")
    with pytest.raises(DamagedFileError) as err:
        read_data(copy, "r-")
    check(err, copy, f"'/{DATA}'", f"'{DATA}/zarr.json'", REASONS[damage.__name__])


def test_deeply_nested_attribute_that_python_cannot_parse(copy: Path) -> None:
    deep_attribute(copy / DATA / "zarr.json", depth=5_000)
    with pytest.raises(DamagedFileError) as err:
        read_data(copy, "r-")
    check(err, copy, f"'/{DATA}'", "nested deeper")


def test_attribute_nesting_within_the_limit_reads(copy: Path) -> None:
    deep_attribute(copy / DATA / "zarr.json", depth=MAX_ATTRIBUTE_DEPTH - 1)
    with NWBZarrIO(str(copy), "r-") as io:
        value = io.read_builder()[DATA].attributes["extra"]
    for _ in range(MAX_ATTRIBUTE_DEPTH - 2):
        (value,) = value
    assert value == [1]


# ---------------------------------------------------------------------------- the consolidated block


def _edit_block(path: Path, change: Callable[[dict], None]) -> None:
    root = _load(path / "zarr.json")
    change(root)
    (path / "zarr.json").write_text(json.dumps(root))


def _set(key: str, value: object) -> Callable[[dict], None]:
    def change(root: dict) -> None:
        root["consolidated_metadata"][key] = value

    return change


def _entry(change: Callable[[dict], object]) -> Callable[[dict], None]:
    def edit(root: dict) -> None:
        members = root["consolidated_metadata"]["metadata"]
        members[DATA] = change(members[DATA])

    return edit


def _deep(entry: dict) -> dict:
    return {**entry, "attributes": {**entry["attributes"], "extra": _nested(MAX_ATTRIBUTE_DEPTH + 5)}}


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


BLOCK_DAMAGE = {
    "block is a string": (lambda root: root.__setitem__("consolidated_metadata", "oops"), "'/'", "JSON string"),
    "block without metadata": (lambda root: root["consolidated_metadata"].pop("metadata"), "'/'", "no 'metadata'"),
    "metadata is a list": (_set("metadata", []), "'/'", "JSON array as 'metadata'"),
    "entry is a list": (_entry(lambda entry: [entry]), f"'/{DATA}'", "JSON array"),
    "entry is empty": (_entry(lambda entry: {}), f"'/{DATA}'", "no 'zarr_format'"),
    "entry wrong zarr_format": (_entry(lambda entry: {**entry, "zarr_format": 4}), f"'/{DATA}'", "'zarr_format' 4"),
    "entry invalid": (_entry(lambda entry: {**entry, "shape": "many"}), f"'/{DATA}'", "zarr can read"),
    "entry attribute too deep": (_entry(_deep), f"'/{DATA}'", "levels deep"),
}


@pytest.mark.parametrize("case", BLOCK_DAMAGE)
def test_damaged_consolidated_block(copy: Path, case: str) -> None:
    change, node, reason = BLOCK_DAMAGE[case]
    _edit_block(copy, change)
    with pytest.raises(DamagedFileError) as err:
        read_data(copy, "r")
    message = check(err, copy, node, reason, f"hdmf-zarr repair {copy}", "mode 'r-'")
    if node != "'/'":
        assert f"entry '{DATA}'" in message
    # the hint holds: mode 'r-' ignores the consolidated block and reads the node documents
    np.testing.assert_array_equal(read_data(copy, "r-"), VALUES)


def test_damaged_block_is_not_current() -> None:
    from hdmf_zarr._read.documents import block_is_current

    assert not block_is_current({"consolidated_metadata": {"metadata": {"a": []}}}, {"a": {}})
    assert not block_is_current({"consolidated_metadata": {"metadata": "x"}}, {})


# ---------------------------------------------------------------------------- chunks


def _chunk(path: Path, index: int = 1) -> Path:
    return path / DATA / "c" / str(index)


CHUNK_DAMAGE = {
    "truncated": lambda chunk: chunk.write_bytes(chunk.read_bytes()[:7]),
    "random bytes": lambda chunk: chunk.write_bytes(os.urandom(len(chunk.read_bytes()))),
    "zero-length": lambda chunk: chunk.write_bytes(b""),
}


@pytest.mark.parametrize("case", CHUNK_DAMAGE)
@pytest.mark.parametrize("how", ["slice", "numpy", "iteration", "element"])
def test_damaged_chunk(copy: Path, case: str, how: str) -> None:
    CHUNK_DAMAGE[case](_chunk(copy))
    with NWBZarrIO(str(copy), "r") as io:
        data = io.read().acquisition["ts"].data
        np.testing.assert_array_equal(data[:25], VALUES[:25])  # the other chunks read
        reads = {"slice": lambda: data[:], "numpy": lambda: np.asarray(data), "iteration": lambda: list(data)}
        reads["element"] = lambda: data[30]
        with pytest.raises(DamagedFileError) as err:
            reads[how]()
    message = check(err, copy, f"'/{DATA}'", "chunk 'c/1'", f"restore '{DATA}/c/1'", f"hdmf-zarr verify {copy}")
    assert "do not decode" in message
    assert err.value.__cause__ is not None


def test_bad_selection_on_a_damaged_array_is_still_the_callers_error(copy: Path) -> None:
    CHUNK_DAMAGE["random bytes"](_chunk(copy))
    with NWBZarrIO(str(copy), "r") as io:
        data = io.read().acquisition["ts"].data
        with pytest.raises(IndexError):
            data[1000]
        with pytest.raises((IndexError, ValueError, TypeError)) as err:
            data["no such field"]
        assert not isinstance(err.value, DamagedFileError)


def test_uncompressed_chunk_of_the_wrong_length(tmp_path: Path) -> None:
    from hdmf.build import DatasetBuilder, GroupBuilder

    path = (tmp_path / "raw.zarr").resolve()
    root = GroupBuilder("root", datasets={"d": DatasetBuilder("d", data=ZarrDataIO(VALUES, chunks=(25,)))})
    with ZarrIO(str(path), "w") as io:
        io.write_builder(root)
    meta_path = path / "d" / "zarr.json"
    meta = _load(meta_path)
    meta["codecs"] = [codec for codec in meta["codecs"] if codec["name"] == "bytes"]  # stored uncompressed
    meta_path.write_text(json.dumps(meta))
    without_block(path)
    for index in range(4):
        (path / "d" / "c" / str(index)).write_bytes(VALUES[index * 25 : (index + 1) * 25].tobytes())
    with ZarrIO(str(path), "r") as io:
        np.testing.assert_array_equal(io.read_builder()["d"].data[:], VALUES)
    (path / "d" / "c" / "2").write_bytes(VALUES[50:70].tobytes())  # five values short
    with ZarrIO(str(path), "r") as io:
        with pytest.raises(DamagedFileError) as err:
            io.read_builder()["d"].data[:]
    check(err, path, "'/d'", "chunk 'c/2'")


def test_damaged_scalar_chunk_in_the_batch_fetch(copy: Path) -> None:
    spec = next(p for p in (copy / "specifications").rglob("c") if p.is_file() and p.parent.name == "nwb.base")
    key = spec.parent.relative_to(copy).as_posix()
    spec.write_bytes(spec.read_bytes()[:9])
    index = StoreIndex.load(LocalStore(str(copy), read_only=True))
    with pytest.raises(DamagedFileError) as err:
        index.fetch_scalars([key])
    check(err, copy, f"'/{key}'", "chunk 'c'")
    with pytest.raises(DamagedFileError) as err:  # the cached specs are read when the file is opened
        NWBZarrIO(str(copy), "r")
    check(err, copy, f"'/{key}'", "chunk 'c'")


def test_codec_that_is_not_installed_is_still_a_missing_codec(copy: Path) -> None:
    for doc in (copy / DATA / "zarr.json",):
        meta = _load(doc)
        meta["codecs"][-1] = {"name": "no-such-codec"}
        doc.write_text(json.dumps(meta))
    without_block(copy)
    with pytest.raises(MissingCodecError, match="no-such-codec"):
        read_data(copy)


# ---------------------------------------------------------------------------- legacy Zarr v2 files


@pytest.fixture
def v2_copy(testdata: Path, tmp_path: Path) -> Path:
    from _v2stores import SMALL_STORE, copy_store

    return copy_store(SMALL_STORE, tmp_path / "legacy.nwb.zarr").resolve()


V2_DAMAGE = {
    ".zmetadata truncated": (".zmetadata", truncated, "'.zmetadata'"),
    ".zmetadata a list": (".zmetadata", json_list, "'.zmetadata'"),
    ".zmetadata without metadata": (".zmetadata", empty_object, "no 'metadata'"),
    "root .zattrs not JSON": (".zattrs", not_json, "'/'"),
    "node .zattrs not JSON": ("units/.zattrs", not_json, "'/units'"),
    "node .zarray a list": ("units/spike_times/.zarray", json_list, "'/units/spike_times'"),
    "node .zgroup nested": ("units/.zgroup", nested_10000, "'/units'"),
}


@pytest.mark.parametrize("case", V2_DAMAGE)
def test_damaged_v2_document(v2_copy: Path, case: str) -> None:
    key, damage, names = V2_DAMAGE[case]
    if not key.startswith("."):  # node documents are read when there is no consolidated metadata
        (v2_copy / ".zmetadata").unlink()
    damage(v2_copy / key)
    with pytest.raises(DamagedFileError) as err:
        with NWBZarrIO(str(v2_copy), "r") as io:
            io.read()
    message = check(err, v2_copy, names)
    assert f"hdmf-zarr verify {v2_copy}" in message


def test_damaged_v2_consolidated_entry(v2_copy: Path) -> None:
    meta = _load(v2_copy / ".zmetadata")
    meta["metadata"]["units/.zattrs"] = "oops"
    (v2_copy / ".zmetadata").write_text(json.dumps(meta))
    with pytest.raises(DamagedFileError) as err:
        NWBZarrIO(str(v2_copy), "r")
    check(err, v2_copy, "'.zmetadata'", "'units/.zattrs'")


def test_damaged_v2_chunk(v2_copy: Path) -> None:
    chunk = v2_copy / "acquisition" / "ElectricalSeries" / "data" / "0.0"
    chunk.write_bytes(chunk.read_bytes()[:5])
    with NWBZarrIO(str(v2_copy), "r") as io:
        data = io.read().acquisition["ElectricalSeries"].data
        with pytest.raises(DamagedFileError) as err:
            data[:]
    check(err, v2_copy, "'/acquisition/ElectricalSeries/data'", "chunk '0.0'")
