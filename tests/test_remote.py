"""Remote stores on a real S3 server (moto's, on 127.0.0.1): few requests, links across stores, URLs.

Every request the client makes reaches the server's counter, so the tests can say how many requests
opening and reading a file costs, and that this does not grow with the number of objects.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import zarr
from hdmf.spec import NamespaceCatalog
from pynwb import TimeSeries
from pynwb.spec import NWBDatasetSpec, NWBGroupSpec, NWBNamespace
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr.errors import UnsafeLinkError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _many_series(count: int):
    nwbfile = mock_NWBFile()
    for i in range(count):
        series = TimeSeries(name=f"ts{i:03d}", data=np.arange(10.0) + i, unit="a.u.", rate=10.0, starting_time=1.5)
        nwbfile.add_acquisition(series)
    return nwbfile


def _write(url, server, nwbfile, mode="w"):
    with NWBZarrIO(url, mode, storage_options=server.storage_options()) as io:
        io.write(nwbfile)


def _open_and_read(url, server, **kwargs):
    server.requests.reset()
    io = NWBZarrIO(url, "r", storage_options=server.storage_options(), **kwargs)
    nwbfile = io.read()
    return io, nwbfile, server.requests.snapshot()


def test_opening_a_file_costs_the_same_few_requests_whatever_its_size(s3_server, s3_bucket):
    counts = {}
    for size in (5, 60):
        url = s3_server.url(s3_bucket, f"n{size}.nwb.zarr")
        _write(url, s3_server, _many_series(size))
        io, nwbfile, requests = _open_and_read(url, s3_server)
        assert len(nwbfile.acquisition) == size
        assert nwbfile.acquisition["ts003"].starting_time == 1.5  # scalars come from the metadata
        io.close()
        counts[size] = requests
    assert counts[5] == counts[60]  # one metadata load + the cached specs, however many objects
    assert sum(counts[60].values()) <= 30
    assert set(counts[60]) <= {"GET", "HEAD"}


def test_data_is_read_only_when_asked_for(s3_server, s3_bucket):
    url = s3_server.url(s3_bucket, "f.nwb.zarr")
    _write(url, s3_server, _many_series(3))
    io, nwbfile, _ = _open_and_read(url, s3_server)
    s3_server.requests.reset()
    values = nwbfile.acquisition["ts002"].data[:]
    data = f"GET /{s3_bucket}/f.nwb.zarr/acquisition/ts002/data"
    # the array's own document once (checked against the consolidated metadata), then its chunk
    assert s3_server.requests.lines == [f"{data}/zarr.json", f"{data}/c/0"]
    s3_server.requests.reset()
    nwbfile.acquisition["ts002"].data[:]
    assert s3_server.requests.lines == [f"{data}/c/0"]
    np.testing.assert_array_equal(values, np.arange(10.0) + 2)
    io.close()


def test_writing_batches_metadata_and_needs_no_reads(s3_server, s3_bucket):
    url = s3_server.url(s3_bucket, "f.nwb.zarr")
    s3_server.requests.reset()
    _write(url, s3_server, _many_series(40))
    requests = s3_server.requests.snapshot()
    assert requests.get("GET", 0) + requests.get("HEAD", 0) <= 8  # existence checks only, not per object
    store = zarr.storage.FsspecStore.from_url(url, storage_options=s3_server.storage_options(), read_only=True)
    keys = zarr.core.sync.sync(_all_keys(store))
    # every object once; the root three times: empty at open, with its attributes, with consolidated metadata
    assert requests["PUT"] == len(keys) + 2


async def _all_keys(store):
    return [key async for key in store.list()]


def test_append_on_s3_refreshes_the_consolidated_metadata(s3_server, s3_bucket):
    url = s3_server.url(s3_bucket, "f.nwb.zarr")
    _write(url, s3_server, _many_series(2))
    with NWBZarrIO(url, "a", storage_options=s3_server.storage_options()) as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name="added", data=np.arange(3.0)))
        io.write(nwbfile)
    io, nwbfile, _ = _open_and_read(url, s3_server)  # mode r opens from the consolidated block
    assert set(nwbfile.acquisition) == {"ts000", "ts001", "added"}
    io.close()


def test_links_between_files_in_one_bucket_are_relative_and_resolve_there(s3_server, s3_bucket):
    source_url = s3_server.url(s3_bucket, "raw/source.nwb.zarr")
    linked_url = s3_server.url(s3_bucket, "derived/linked.nwb.zarr")
    _write(source_url, s3_server, _many_series(2))
    with NWBZarrIO(source_url, "r", storage_options=s3_server.storage_options()) as source_io:
        source = source_io.read()
        linked = mock_NWBFile()
        for name in ("ts000", "ts001"):
            data = source.acquisition[name].data
            linked.add_acquisition(TimeSeries(name=f"linked_{name}", data=data, unit="a.u.", rate=10.0))
        _write(linked_url, s3_server, linked)
    root = zarr.open_group(linked_url, mode="r", storage_options=s3_server.storage_options())
    (entry,) = root["acquisition/linked_ts000"].attrs["_LINKS"]
    assert entry == {"name": "data", "source": "../../raw/source.nwb.zarr", "path": "/acquisition/ts000/data"}
    with pytest.raises(UnsafeLinkError, match="external_link_policy"):  # another prefix: refused by default
        _open_and_read(linked_url, s3_server)[0].read()
    io, nwbfile, _ = _open_and_read(linked_url, s3_server, external_link_policy=[f"s3://{s3_bucket}"])
    # both links resolved with one opening of the source file
    assert s3_server.requests.lines.count(f"GET /{s3_bucket}/raw/source.nwb.zarr/zarr.json") == 1
    for name, offset in (("ts000", 0), ("ts001", 1)):
        np.testing.assert_array_equal(nwbfile.acquisition[f"linked_{name}"].data[:], np.arange(10.0) + offset)
    io.close()


def test_http_urls_read_and_refuse_writing(s3_server, s3_bucket):
    pytest.importorskip("aiohttp")
    _write(s3_server.url(s3_bucket, "f.nwb.zarr"), s3_server, _many_series(2))
    s3_server.make_public(s3_bucket)
    url = f"{s3_server.endpoint}/{s3_bucket}/f.nwb.zarr"  # plain HTTP GETs of the same objects
    with NWBZarrIO(url, "r") as io:
        nwbfile = io.read()
        np.testing.assert_array_equal(nwbfile.acquisition["ts001"].data[:], np.arange(10.0) + 1)
    with pytest.raises(ValueError, match="read-only"):
        NWBZarrIO(url, "w")


def test_an_obstore_store_object_is_accepted_as_it_is(s3_server, s3_bucket):
    pytest.importorskip("obstore")
    nwbfile = _many_series(2)
    with NWBZarrIO(s3_server.obstore(s3_bucket, "o.nwb.zarr"), "w") as io:
        io.write(nwbfile)
    with NWBZarrIO(s3_server.obstore(s3_bucket, "o.nwb.zarr"), "r") as io:
        assert io.source == f"s3://{s3_bucket}/o.nwb.zarr"
        assert io.is_remote()
        assert set(io.read().acquisition) == {"ts000", "ts001"}


def test_load_namespaces_takes_storage_options(s3_server, s3_bucket):
    url = s3_server.url(s3_bucket, "f.nwb.zarr")
    _write(url, s3_server, _many_series(1))
    catalog = NamespaceCatalog(NWBGroupSpec, NWBDatasetSpec, NWBNamespace)
    loaded = NWBZarrIO.load_namespaces(catalog, path=url, storage_options=s3_server.storage_options())
    assert "core" in loaded and "hdmf-common" in loaded


def test_missing_fsspec_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"hdmf-zarr\[remote\]"):
        NWBZarrIO("s3://bucket/f.nwb.zarr", "r")


def test_missing_protocol_package_names_it():
    pytest.importorskip("fsspec")
    try:
        import gcsfs  # noqa: F401

        pytest.skip("gcsfs is installed")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="gcsfs"):
        NWBZarrIO("gs://bucket/f.nwb.zarr", "r")
