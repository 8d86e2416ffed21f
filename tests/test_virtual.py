"""Virtual NWB files (``hdmf_zarr.virtual``): Zarr files whose chunks are byte ranges of an HDF5 file.

Both kinds (one JSON reference file, an Icechunk repository) hold every HDF5 object (checked at storage
level), read to the NWBFile NWBHDF5IO reads, refuse a changed source, and read remote sources by range.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from _h5compare import compare_storage
from hdmf_zarr._convert.h5chunks import contiguous_rows, stored_chunks
from hdmf_zarr.errors import SourceChangedError
from hdmf_zarr.nwb import NWBZarrIO
from hdmf_zarr.virtual import virtualize

pytest.importorskip("icechunk")
KINDS = ["json", "icechunk"]


def _destination(tmp_path: Path, kind: str, stem: str = "virtual") -> Path:
    return tmp_path / (f"{stem}.json" if kind == "json" else f"{stem}.repo")


def _open_group(destination: Path) -> zarr.Group:
    from hdmf_zarr._stores import open_store

    return zarr.open_group(open_store(str(destination), "r"), mode="r")


def _storage_file(path: Path) -> None:
    """An HDF5 file with every storage layout and filter a virtual file must handle."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as h5:
        h5.attrs["title"] = "storage kinds"
        h5.create_dataset("gzip_shuffle", data=rng.integers(0, 100, (1000, 8), dtype="<i4"), chunks=(100, 8),
                          compression="gzip", shuffle=True)  # fmt: skip
        h5.create_dataset("fletcher", data=rng.random(5000), chunks=(640,), fletcher32=True, compression="gzip")
        h5.create_dataset("big_endian", data=rng.integers(0, 9999, 3000).astype(">i2"), chunks=(1280,))
        h5.create_dataset("contiguous", data=np.arange(7000, dtype="<f8").reshape(1000, 7))
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)  # values inside the object header: copied
        space = h5py.h5s.create_simple((4,))
        h5py.h5d.create(h5.id, b"compact", h5py.h5t.STD_I64LE, space, plist).write(
            h5py.h5s.ALL, h5py.h5s.ALL, np.arange(4, dtype="<i8")
        )
        h5.create_dataset("lzf", data=np.arange(200, dtype="<i4"), chunks=(50,), compression="lzf")
        sparse = h5.create_dataset("sparse", shape=(8000,), dtype="<f4", chunks=(2000,), fillvalue=-1.0)
        sparse[0:2000] = rng.random(2000)  # chunks 1-3 never written: the fill value
        h5.create_dataset("small", data=np.arange(100, dtype="<i8"), chunks=(50,))  # 800 bytes: copied in
        h5.create_dataset("never_written", shape=(50,), dtype="<u2")
        h5.create_dataset("booleans", data=np.array([True, False, True]))
        h5.create_dataset("empty", shape=(0, 3), dtype="<f4")
        h5.create_dataset("scalar", data=3.5)
        h5.create_dataset("text", data=np.array(["a", "bc"], dtype=h5py.string_dtype()))
        h5["group/link"] = h5py.SoftLink("/gzip_shuffle")
        h5["group"].attrs["ref"] = h5["contiguous"].ref


# ---------------------------------------------------------------------------------------- the chunk map
def test_contiguous_datasets_are_cut_into_whole_row_chunks() -> None:
    assert contiguous_rows(1000, 8) == 1000  # small: one chunk
    rows = contiguous_rows(1_000_000, 64 * 2)  # 122 MiB of int16 x 64
    assert 1_000_000 % rows == 0 and (1 << 20) <= rows * 128 <= (8 << 20)
    assert contiguous_rows(1_000_003, 64) == 1_000_003  # a prime row count: one chunk


def test_stored_chunks_of_each_layout(tmp_path: Path) -> None:
    path = tmp_path / "kinds.h5"
    _storage_file(path)
    with h5py.File(path, "r") as h5:
        found = stored_chunks(h5["gzip_shuffle"])
        assert found.chunks == (100, 8) and len(found.ranges) == 10 and found.complete
        assert [c.to_dict()["name"] for c in found.codecs[1:]] == ["numcodecs.shuffle", "numcodecs.zlib"]
        assert stored_chunks(h5["fletcher"]).codecs[-1].to_dict()["name"] == "numcodecs.fletcher32"
        assert stored_chunks(h5["big_endian"]).codecs[0].to_dict()["configuration"]["endian"] == "big"
        contiguous = stored_chunks(h5["contiguous"])
        assert contiguous.ranges == {(0, 0): (h5["contiguous"].id.get_offset(), 7000 * 8)}
        assert stored_chunks(h5["lzf"]) is None  # no zarr codec reads lzf: copied
        sparse = stored_chunks(h5["sparse"])
        assert list(sparse.ranges) == [(0,)] and not sparse.complete
        assert stored_chunks(h5["never_written"]).ranges == {}
        assert stored_chunks(h5["text"]) is None and stored_chunks(h5["scalar"]) is None
        assert stored_chunks(h5["compact"]) is None
        assert len(stored_chunks(h5["small"]).ranges) == 2  # referenceable, but copied in: see below


# ---------------------------------------------------------------------------------------- storage level
@pytest.mark.parametrize("kind", KINDS)
def test_every_object_is_in_the_virtual_file(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "kinds.h5"
    _storage_file(source)
    destination = _destination(tmp_path, kind)
    made = virtualize(str(source), str(destination))
    assert made.kind == kind and made.referenced_chunks == 10 + 8 + 3 + 1 + 1  # never written, booleans, small: none
    with h5py.File(source, "r") as h5:
        assert compare_storage(h5, _open_group(destination)) == []
    if kind == "json":
        document = json.loads(destination.read_text())
        assert document["version"] == 1 and document["templates"] == {"s0": f"file://{source}"}
        assert document["refs"]["gzip_shuffle/c/0/0"][0] == "{{s0}}"
        assert document["hdmf_zarr"]["sources"][0]["size"] == source.stat().st_size
        assert "lzf/c/0" in document["refs"]  # copied: stored in the file itself
        assert document["refs"]["small/c/0"].startswith("base64:")  # 800 bytes: copied, read without a request


@pytest.mark.parametrize("kind", KINDS)
def test_a_virtual_file_reads_to_the_nwbfile_of_its_source(nwbfile, tmp_path: Path, kind: str) -> None:
    from pynwb import NWBHDF5IO

    from hdmf_zarr._roundtrip import compare_files

    source = tmp_path / "mock.nwb"
    with NWBHDF5IO(str(source), "w") as io:
        io.write(nwbfile)
    destination = _destination(tmp_path, kind)
    virtualize(source, destination)
    with NWBHDF5IO(str(source), "r") as h5io, NWBZarrIO(str(destination), "r") as zio:
        assert compare_files(h5io.read(), zio.read()) == []


# ---------------------------------------------------------------------------------------- changed sources
def _with_big_series(nwbfile, tmp_path: Path) -> Path:
    """``nwbfile`` written as HDF5 with a series large enough to be referenced (small datasets are copied in)."""
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries

    nwbfile.add_acquisition(mock_TimeSeries(name="big", data=np.arange(20000.0)))
    source = tmp_path / "mock.nwb"
    with NWBHDF5IO(str(source), "w") as io:
        io.write(nwbfile)
    return source


def _read_all(destination: Path) -> None:
    with NWBZarrIO(str(destination), "r") as io:
        io.read()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", ["appended", "same size, rewritten", "deleted"])
def test_a_changed_source_is_refused_never_read(nwbfile, tmp_path: Path, kind: str, change: str) -> None:

    source = _with_big_series(nwbfile, tmp_path)
    destination = _destination(tmp_path, kind)
    virtualize(source, destination)
    _read_all(destination)
    time.sleep(0.01)
    if change == "appended":
        with open(source, "ab") as handle:
            handle.write(b"more")
    elif change == "same size, rewritten":
        data = source.read_bytes()
        source.write_bytes(data)  # same bytes and size, a new modification time
    else:
        source.unlink()
    with pytest.raises(SourceChangedError, match="changed since the virtual file was made") as caught:
        _read_all(destination)
    assert "hdmf-zarr convert --virtual" in str(caught.value)


def test_icechunk_itself_refuses_chunks_of_a_source_changed_after_opening(nwbfile, tmp_path: Path) -> None:

    source = _with_big_series(nwbfile, tmp_path)
    destination = _destination(tmp_path, "icechunk")
    virtualize(source, destination)
    with NWBZarrIO(str(destination), "r") as io:  # opened while the source is as recorded
        series = io.read().acquisition["big"]
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))
        with pytest.raises(SourceChangedError, match="dataset ./acquisition/big/data..*changed since"):
            series.data[:]


# ---------------------------------------------------------------------------------------- options and errors
@pytest.mark.parametrize("kind", KINDS)
def test_an_existing_destination_needs_overwrite(tmp_path: Path, kind: str) -> None:
    from hdmf_zarr.errors import ConversionError

    source = tmp_path / "kinds.h5"
    _storage_file(source)
    destination = _destination(tmp_path, kind)
    virtualize(source, destination)
    with pytest.raises(ConversionError, match="overwrite"):
        virtualize(source, destination)
    virtualize(source, destination, overwrite=True)
    with h5py.File(source, "r") as h5:
        assert compare_storage(h5, _open_group(destination)) == []


def test_a_json_reference_file_is_read_only(tmp_path: Path) -> None:
    source = tmp_path / "kinds.h5"
    _storage_file(source)
    destination = _destination(tmp_path, "json")
    virtualize(source, destination)
    with pytest.raises(ValueError, match="read-only"):
        NWBZarrIO(str(destination), "a")


def test_a_json_file_that_is_not_a_reference_file_is_named(tmp_path: Path) -> None:
    from hdmf_zarr.errors import DamagedFileError

    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(DamagedFileError, match="not a JSON reference file"):
        NWBZarrIO(str(path), "r")


def test_the_cli_writes_both_kinds(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hdmf_zarr.cli import cli

    source = tmp_path / "kinds.h5"
    _storage_file(source)
    runner = CliRunner()
    for kind in KINDS:
        destination = _destination(tmp_path, kind)
        done = runner.invoke(cli, ["convert", "--virtual", str(source), str(destination)])
        assert done.exit_code == 0, done.output
        assert "chunks referenced" in done.output
        with h5py.File(source, "r") as h5:
            assert compare_storage(h5, _open_group(destination)) == []
    done = runner.invoke(cli, ["convert", "--virtual", "--compressor", "zstd", str(source), str(tmp_path / "x.json")])
    assert done.exit_code == 2 and "--virtual" in done.output


def test_external_links_lead_into_references_to_the_linked_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw.h5"
    with h5py.File(raw, "w") as h5:
        h5.create_dataset("data", data=np.arange(10000, dtype="<i4"), chunks=(1000,))
    main = tmp_path / "main.h5"
    with h5py.File(main, "w") as h5:
        h5["linked"] = h5py.ExternalLink("raw.h5", "/data")
    destination = _destination(tmp_path, "json")
    virtualize(main, destination)
    document = json.loads(destination.read_text())
    assert sorted(document["templates"].values()) == [f"file://{raw}"]
    assert np.array_equal(_open_group(destination)["linked"][:], np.arange(10000))
    shutil.copy(raw, tmp_path / "raw2.h5")
    with open(raw, "ab") as handle:
        handle.write(b"changed")
    with pytest.raises(SourceChangedError, match="raw.h5"):
        _open_group(destination)


# ---------------------------------------------------------------------------------------- remote sources
def _ephys_file(path: Path) -> np.ndarray:
    """An NWB file whose ElectricalSeries (40,000 x 64 int16, gzip, 500-row chunks) is most of its bytes (the
    rest is mostly the cached specifications, about 200 kB, which a virtual file stores itself)."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries, mock_ElectrodeTable
    from pynwb.testing.mock.file import mock_NWBFile

    data = np.random.default_rng(1).integers(-2000, 2000, (40000, 64), dtype="int16")
    nwbfile = mock_NWBFile()
    mock_ElectrodeTable(n_rows=64, nwbfile=nwbfile)
    region = nwbfile.create_electrode_table_region(list(range(64)), "all")
    mock_ElectricalSeries(
        name="es", data=H5DataIO(data, chunks=(500, 64), compression="gzip"), electrodes=region, nwbfile=nwbfile
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_a_source_on_s3_is_virtualized_without_its_data_and_read_by_range(
    s3_server, s3_bucket, tmp_path: Path, kind: str
) -> None:
    import s3fs

    local = tmp_path / "raw.nwb"
    data = _ephys_file(local)
    options = s3_server.storage_options()
    fs = s3fs.S3FileSystem(**options)
    fs.put(str(local), f"{s3_bucket}/raw.nwb")
    size = local.stat().st_size
    source = f"s3://{s3_bucket}/raw.nwb"
    destination = f"s3://{s3_bucket}/raw.json" if kind == "json" else f"s3://{s3_bucket}/raw.repo"
    log = s3_server.requests
    log.reset()
    made = virtualize(source, destination, storage_options=options)
    fetched = log.bytes_sent(f"/{s3_bucket}/raw.nwb")
    assert made.referenced_bytes > 0.9 * size  # the series' chunks stay where they are
    assert fetched < 0.1 * size, f"virtualizing read {fetched} of {size} bytes of the source"

    log.reset()
    with NWBZarrIO(destination, "r", storage_options=options) as io:
        series = io.read().acquisition["es"]
        opened = log.bytes_sent(f"/{s3_bucket}/raw.nwb")
        block = series.data[1000:1500, 0:8]  # one chunk: (500, 64)
    assert np.array_equal(block, data[1000:1500, 0:8])
    assert opened < 20_000  # opening reads no chunk of the series (small arrays only)
    touched = log.bytes_sent(f"/{s3_bucket}/raw.nwb") - opened
    one_chunk = max(length for _, length in _series_ranges(local))
    assert 0 < touched <= one_chunk, f"reading one chunk fetched {touched} bytes"


def _series_ranges(path: Path) -> list[tuple[int, int]]:
    with h5py.File(path, "r") as h5:
        return list(stored_chunks(h5["acquisition/es/data"]).ranges.values())


def test_convert_copies_an_hdf5_file_from_s3(s3_server, s3_bucket, tmp_path: Path) -> None:
    """The walker reads a remote HDF5 file through fsspec for a copy too (``hdmf-zarr convert s3://... local``)."""
    import s3fs
    from click.testing import CliRunner

    from hdmf_zarr.cli import cli

    local = tmp_path / "kinds.h5"
    _storage_file(local)
    options = s3_server.storage_options()
    s3fs.S3FileSystem(**options).put(str(local), f"{s3_bucket}/kinds.h5")
    destination = tmp_path / "copy.nwb.zarr"
    arguments = ["convert", f"s3://{s3_bucket}/kinds.h5", str(destination), "--storage-options", json.dumps(options)]
    done = CliRunner().invoke(cli, arguments)
    assert done.exit_code == 0, done.output
    with h5py.File(local, "r") as h5:
        assert compare_storage(h5, zarr.open_group(str(destination), mode="r")) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_source_by_https_url_is_referenced_by_that_url(tmp_path: Path, kind: str) -> None:
    """Sources named by an http(s) URL (DANDI's, say) work too: HTTP ranges, an http virtual chunk container."""
    from hdmf_zarr.testing.httpserver import LocalHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    local = served / "kinds.h5"
    _storage_file(local)
    with LocalHTTPServer(served) as server:
        url = server.url("kinds.h5")
        destination = _destination(tmp_path, kind)
        virtualize(url, destination)
        if kind == "json":
            document = json.loads(destination.read_text())
            assert document["templates"] == {"s0": url} and document["hdmf_zarr"]["sources"][0]["etag"]
        with h5py.File(local, "r") as h5:
            assert compare_storage(h5, _open_group(destination)) == []
        with open(local, "ab") as handle:
            handle.write(b"changed")
        with pytest.raises(SourceChangedError, match="kinds.h5"):
            _open_group(destination)
