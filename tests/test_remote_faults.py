"""Remote stores that misbehave: every request is bounded in time and attempts, and a failure names the store.

A ``FaultProxy`` (``hdmf_zarr.testing.faultproxy``) sits between the client and the loopback S3 server and
answers some requests with 5xx / throttling statuses, resets connections, stays silent, or claims that chunks
which exist are missing. Files are written through the server's own endpoint, then read through the proxy.
Every read runs under ``_within``: a hang fails the test instead of stalling the run.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import pytest
import zarr
from pynwb import TimeSeries
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_zarr import NWBZarrIO, ZarrDataIO
from hdmf_zarr._stores import REMOTE_LIMITS, open_store, url_storage_options
from hdmf_zarr.errors import MissingChunkError, StoreUnreachableError
from hdmf_zarr.testing.faultproxy import FaultProxy, Faults

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

DATA = np.arange(400.0)
#: short limits for the tests that wait for a silent server
SHORT = {"connect_timeout": 1, "read_timeout": 1, "retries": {"total_max_attempts": 2}}
#: the chunk keys of the dataset ``acquisition/ts/data``
CHUNKS = r"/acquisition/ts/data/c/"


def _within(seconds: float, call: Any) -> Any:
    """``call()`` in a daemon thread: its result or its exception, or a failure when it runs past ``seconds``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a remote fault made the client hang"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture(scope="module")
def remote_file(s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small NWB file (one dataset of 4 chunks) written locally, then put in a public bucket: its URL.

    The tests only read it (each through its own proxy), so one copy serves the module.
    """
    import s3fs

    nwbfile = mock_NWBFile()
    data = ZarrDataIO(data=DATA, chunks=(100,))
    nwbfile.add_acquisition(TimeSeries(name="ts", data=data, unit="a.u.", rate=10.0))
    local = tmp_path_factory.mktemp("faults") / "f.nwb.zarr"
    with NWBZarrIO(str(local), "w") as io:
        io.write(nwbfile)
    bucket = f"faults-{os.getpid()}"
    s3_server.create_bucket(bucket)
    s3_server.make_public(bucket)  # for the http:// tests
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    fs.put(str(local), f"{bucket}/f.nwb.zarr", recursive=True)
    return s3_server.url(bucket, "f.nwb.zarr")


def _http_url(proxy: FaultProxy, url: str) -> str:
    """The plain-HTTP address of the object store URL ``url``, through ``proxy``."""
    return f"{proxy.endpoint}/{url.removeprefix('s3://')}"


@pytest.fixture
def proxy(s3_server: Any) -> Any:
    with FaultProxy(s3_server.endpoint, deadline=120) as proxy:
        yield proxy


def _through(proxy: FaultProxy, server: Any, **config: Any) -> dict[str, Any]:
    """Storage options that reach ``server`` through ``proxy``; ``config`` goes to botocore's Config."""
    options = server.storage_options()
    options["client_kwargs"] = {**options["client_kwargs"], "endpoint_url": proxy.endpoint}
    if config:
        options["config_kwargs"] = config
    return options


def _read_all(url: str, options: dict[str, Any] | None) -> np.ndarray:
    with NWBZarrIO(url, "r", storage_options=options) as io:
        nwbfile = io.read()
        assert nwbfile.session_description
        return nwbfile.acquisition["ts"].data[:]


# ---------------------------------------------------------------------------------------------- defaults


def test_urls_get_bounded_timeouts_and_retries_and_callers_win(monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    config = url_storage_options("s3://bucket/f.nwb.zarr", None)["config_kwargs"]
    assert config == {
        "connect_timeout": REMOTE_LIMITS.connect_timeout,
        "read_timeout": REMOTE_LIMITS.read_timeout,
        "retries": {"mode": "standard", "total_max_attempts": REMOTE_LIMITS.max_attempts},
    }
    assert 0 < REMOTE_LIMITS.read_timeout <= 120 and 1 < REMOTE_LIMITS.max_attempts <= 10
    # nested dicts merge: a region keeps our timeouts; the caller's own values win
    given = {"config_kwargs": {"region_name": "eu-west-1", "read_timeout": 5, "retries": {"max_attempts": 1}}}
    config = url_storage_options("s3://bucket/f.nwb.zarr", given)["config_kwargs"]
    assert config["region_name"] == "eu-west-1" and config["read_timeout"] == 5
    assert config["connect_timeout"] == REMOTE_LIMITS.connect_timeout
    assert config["retries"] == {"max_attempts": 1, "mode": "standard"}  # not overridden by total_max_attempts
    assert given["config_kwargs"]["retries"] == {"max_attempts": 1}  # the caller's dicts are not changed
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    assert url_storage_options("s3://b/f", None)["config_kwargs"]["retries"] == {"mode": "standard"}
    # http(s): aiohttp's timeouts and a retrying middleware
    aiohttp = pytest.importorskip("aiohttp")
    client = url_storage_options("https://host/f.nwb.zarr", {"client_kwargs": {"headers": {"x": "1"}}})["client_kwargs"]
    assert client["headers"] == {"x": "1"}
    assert client["timeout"].sock_read == REMOTE_LIMITS.read_timeout and client["timeout"].total is None
    assert client["middlewares"][0].attempts == REMOTE_LIMITS.max_attempts
    mine = aiohttp.ClientTimeout(total=3)
    assert url_storage_options("http://h/f", {"client_kwargs": {"timeout": mine}})["client_kwargs"]["timeout"] is mine


@pytest.mark.parametrize("mode", ["r", "w"])
def test_stores_opened_from_s3_urls_carry_the_limits(s3_server, s3_bucket, mode):
    store = open_store(s3_server.url(s3_bucket, "f.nwb.zarr"), mode, s3_server.storage_options())
    assert store.fs.config_kwargs["read_timeout"] == REMOTE_LIMITS.read_timeout
    assert store.fs.config_kwargs["retries"]["total_max_attempts"] == REMOTE_LIMITS.max_attempts
    assert store.fs.retries == 1  # s3fs's own loops would multiply botocore's attempts


# ---------------------------------------------------------------------------------------------- transient faults


def test_reads_succeed_through_503s_and_resets(remote_file, s3_server, proxy):
    proxy.set_faults(Faults(error_rate=0.15, error_statuses=(503,), reset_rate=0.15, in_a_row=2, seed=3))
    values = _within(30, lambda: _read_all(remote_file, _through(proxy, s3_server)))
    np.testing.assert_array_equal(values, DATA)
    assert proxy.counts["error"] and proxy.counts["reset"]


def test_http_reads_succeed_through_throttling_5xx_and_resets(remote_file, proxy):
    pytest.importorskip("aiohttp")
    proxy.set_faults(Faults(error_rate=0.2, error_statuses=(429, 500, 503), reset_rate=0.1, in_a_row=2, seed=4))
    values = _within(30, lambda: _read_all(_http_url(proxy, remote_file), None))
    np.testing.assert_array_equal(values, DATA)
    assert proxy.counts["error"] and proxy.counts["reset"]


def test_writes_succeed_through_503s_and_resets(s3_server, s3_bucket, proxy):
    url = s3_server.url(s3_bucket, "w.zarr")
    proxy.set_faults(Faults(error_rate=0.15, error_statuses=(503, 500), reset_rate=0.15, in_a_row=2, seed=5))

    def write() -> None:
        store = open_store(url, "w", _through(proxy, s3_server))
        zarr.create_array(store, name="x", data=DATA, chunks=(50,))

    _within(30, write)
    assert proxy.counts["error"] and proxy.counts["reset"]
    stored = zarr.open_array(url, path="x", mode="r", storage_options=s3_server.storage_options())
    np.testing.assert_array_equal(stored[:], DATA)


# ---------------------------------------------------------------------------------------------- persistent faults


def test_a_silent_server_fails_the_open_in_bounded_time_naming_the_store(remote_file, s3_server, proxy):
    proxy.set_faults(Faults(silence_rate=1.0, silence_limit=60))
    start = time.monotonic()
    with pytest.raises(StoreUnreachableError, match="timed out after 2 attempts") as caught:
        _within(30, lambda: _read_all(remote_file, _through(proxy, s3_server, **SHORT)))
    assert time.monotonic() - start < 20
    message = str(caught.value)
    assert remote_file in message and "zarr.json" in message and "read_timeout" in message
    assert isinstance(caught.value, ConnectionError) and proxy.counts["silence"] == 2


def test_a_server_that_falls_silent_fails_the_data_read_naming_the_chunk(remote_file, s3_server, proxy):
    with NWBZarrIO(remote_file, "r", storage_options=_through(proxy, s3_server, **SHORT)) as io:
        series = io.read().acquisition["ts"]
        proxy.set_faults(Faults(silence_rate=1.0, silence_limit=60, paths=CHUNKS))
        with pytest.raises(StoreUnreachableError) as caught:
            _within(30, lambda: series.data[:])
    message = str(caught.value)
    assert remote_file in message and "acquisition/ts/data/c/" in message and "timed out" in message


def test_a_silent_http_server_fails_in_bounded_time(remote_file, proxy):
    aiohttp = pytest.importorskip("aiohttp")
    url = _http_url(proxy, remote_file)
    options = {"client_kwargs": {"timeout": aiohttp.ClientTimeout(sock_connect=1, sock_read=0.5)}}
    proxy.set_faults(Faults(silence_rate=1.0, silence_limit=60))
    with pytest.raises(OSError, match="f.nwb.zarr") as caught:
        _within(30, lambda: _read_all(url, options))
    assert isinstance(caught.value, StoreUnreachableError)
    assert proxy.counts["silence"] == REMOTE_LIMITS.max_attempts


def test_persistent_500s_fail_after_the_bounded_retries_naming_the_store(remote_file, s3_server, proxy):
    proxy.set_faults(Faults(error_rate=1.0, error_statuses=(500,)))
    options = _through(proxy, s3_server, retries={"total_max_attempts": 3})  # the default 5: ~8 s of backoff
    with pytest.raises(StoreUnreachableError, match="failed after 3 attempts") as caught:
        _within(30, lambda: _read_all(remote_file, options))
    assert remote_file in str(caught.value) and "internal" in str(caught.value).lower()  # the server's reason
    assert proxy.counts["error"] == 3  # one request, tried exactly that often: s3fs's loops do not multiply it


def test_persistent_503s_on_data_fail_naming_the_chunk(remote_file, s3_server, proxy):
    options = _through(proxy, s3_server, retries={"total_max_attempts": 3})
    with NWBZarrIO(remote_file, "r", storage_options=options) as io:
        series = io.read().acquisition["ts"]
        proxy.set_faults(Faults(error_rate=1.0, error_statuses=(503,), paths=CHUNKS))
        with pytest.raises(StoreUnreachableError, match="acquisition/ts/data/c/.* failed after 3 attempts"):
            _within(60, lambda: series.data[:])


def test_a_false_404_for_a_stored_chunk_is_a_missing_chunk_not_fill_values(remote_file, s3_server, proxy):
    proxy.set_faults(Faults(missing=CHUNKS))
    with pytest.raises(MissingChunkError, match="acquisition/ts/data"):
        _within(30, lambda: _read_all(remote_file, _through(proxy, s3_server)))
    assert proxy.counts["missing"]
