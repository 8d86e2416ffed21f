"""The same round trips on every kind of store: local folder, .zip path, ZipStore, MemoryStore,
an s3:// URL, an FsspecStore and an ObjectStore (the last three on a real S3 server on 127.0.0.1)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO
from hdmf_zarr._roundtrip import RoundTripCheck
from hdmf_zarr.utils import ZarrDataIO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _write(kind, nwbfile, mode="w"):
    path, kwargs = kind.open(mode)
    with NWBZarrIO(path, mode, **kwargs) as io:
        io.write(nwbfile)


def test_write_then_read_matches_the_original(store_kind, nwbfile):
    _write(store_kind, nwbfile)
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert RoundTripCheck().run(nwbfile, read) == []


def _add_series(kind, mode, name, data):
    path, kwargs = kind.open(mode)
    with NWBZarrIO(path, mode, **kwargs) as io:
        nwbfile = io.read()
        nwbfile.add_acquisition(mock_TimeSeries(name=name, data=data))
        io.write(nwbfile)


def _small_file():
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="first"))
    return nwbfile


def _check_append(kind, mode):
    nwbfile = _small_file()
    _write(kind, nwbfile)
    _add_series(kind, mode, "added", np.arange(7.0))
    path, kwargs = kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert set(read.acquisition) == {"first", "added"}
        np.testing.assert_array_equal(read.acquisition["added"].data[:], np.arange(7.0))
        differences = RoundTripCheck().run(nwbfile, read)
        assert differences and all("added" in text for text in differences)  # the original lacks only that series


def test_append_mode_adds_objects(store_kind):
    _check_append(store_kind, "a")


@pytest.mark.parametrize("store_kind", ["folder", "zipstore", "s3-url"], indirect=True)
def test_r_plus_mode_adds_objects(store_kind):
    _check_append(store_kind, "r+")


def test_mode_w_replaces_what_was_there(store_kind):
    _write(store_kind, _small_file())
    second = mock_NWBFile()
    second.add_acquisition(mock_TimeSeries(name="only"))
    _write(store_kind, second)
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        read = io.read()
        assert set(read.acquisition) == {"only"}
        assert read.identifier == second.identifier


class ChunkStream:
    """Watches the chunks of one array go through the chunk-streaming path (``hdmf_zarr._write.encode``): how many
    were encoded one at a time, how many stored, and the most held at once (encoded, not yet stored)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...], key: str) -> None:
        from hdmf_zarr._write import encode as _encode

        self.encoded, self.stored, self.held, self.most_held = 0, 0, 0, 0
        self.block_shapes: set[tuple[int, ...]] = set()
        lock = threading.Lock()
        encode, setter = _encode.ChunkEncoder.encode, _encode._setter

        def watched_encode(encoder, coords, block):
            result = encode(encoder, coords, block)
            if tuple(encoder.meta.shape) == shape:
                with lock:
                    self.encoded += 1
                    self.block_shapes.add(tuple(block.shape))
                    self.held += 1
                    self.most_held = max(self.most_held, self.held)
            return result

        def watched_setter(store, loop):
            store_set = setter(store, loop)

            def watched_set(chunk_key, value):
                store_set(chunk_key, value)
                if chunk_key.startswith(f"{key}/"):
                    with lock:
                        self.stored += 1
                        self.held -= 1

            return watched_set

        monkeypatch.setattr(_encode.ChunkEncoder, "encode", watched_encode)
        monkeypatch.setattr(_encode, "_setter", watched_setter)


def test_big_arrays_are_streamed_into_every_store(store_kind, monkeypatch):
    """Arrays above the in-memory batch size take the chunk-streaming path (threads writing to the store)."""
    data = np.random.default_rng(3).standard_normal((300_000, 4))  # ~9.6 MB
    nwbfile = mock_NWBFile()
    nwbfile.add_acquisition(mock_TimeSeries(name="big", data=ZarrDataIO(data, chunks=(5_000, 4))))
    stream = ChunkStream(monkeypatch, data.shape, "acquisition/big/data")
    _write(store_kind, nwbfile)
    # each of the 60 chunks encoded on its own and stored, never more than one per writer thread at once
    # (4 locally, 16 for remote stores): not the whole array in one go
    assert stream.encoded == stream.stored == 60 and stream.block_shapes == {(5_000, 4)}
    assert 1 <= stream.most_held <= 16, stream.most_held
    path, kwargs = store_kind.open("r")
    with NWBZarrIO(path, "r", **kwargs) as io:
        np.testing.assert_array_equal(io.read().acquisition["big"].data[:], data)


def test_exclusive_create_refuses_an_existing_file(store_kind):
    _write(store_kind, _small_file())
    path, kwargs = store_kind.open("w-")
    with pytest.raises(FileExistsError):
        NWBZarrIO(path, "w-", **kwargs)
