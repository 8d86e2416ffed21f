"""Request limits for stores opened from a URL: timeouts, retries, and transport failures named.

Requests to stores opened from a URL are bounded: ``url_storage_options`` gives them the timeouts and
retries of ``REMOTE_LIMITS`` unless the caller's ``storage_options`` say otherwise (botocore's ``Config`` for
``s3://``, an aiohttp ``ClientTimeout`` and a retry middleware for ``http(s)://``), and ``URLStore`` (the
FsspecStore that ``_stores.open_store`` builds for a URL) turns a request that still fails (timed out,
connection broken, 5xx or throttling answers after the last attempt) into ``StoreUnreachableError`` naming
the store and the key. ``is_transport_failure`` tells such failures from refusals (403, 404 ...).

obstore stores are built by the user, with their own ``client_options`` (``ClientConfig``: ``timeout``,
``connect_timeout``, ``read_timeout``) and ``retry_config`` (``RetryConfig``: ``max_retries``,
``retry_timeout``, ``backoff``): hdmf_zarr changes nothing in them.

This module knows nothing of paths, modes or store kinds (``_stores.py`` does) and imports nothing of ours
but the errors.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import FsspecStore

from .errors import StoreUnreachableError

#: URL protocols of plain HTTP servers: read-only, their requests go through aiohttp
READ_ONLY_PROTOCOLS = ("http", "https")


@dataclass(frozen=True)
class RemoteLimits:
    """How long one request to a remote store may wait, and how often it is tried (see ``REMOTE_LIMITS``)."""

    connect_timeout: float  # seconds to open a connection
    read_timeout: float  # seconds without a byte from the server, while waiting for the answer or reading it
    max_attempts: int  # tries of one request (the first included), with exponential backoff and jitter between


#: Defaults for requests to stores opened from a URL (s3://, http(s)://), each overridable through
#: ``storage_options``. A server that accepts connections and never answers fails a request after at most
#: ``max_attempts * read_timeout`` seconds plus backoff (5 x 60 s: minutes, not forever), and a slow but
#: working server is never cut off: 60 s without a byte is botocore's own default and far beyond what S3
#: or an HTTP server takes to start an answer; 5 attempts (botocore's legacy mode, which s3fs used, also
#: tries 5 times; its standard mode 3) ride out throttling (503 SlowDown: backoff up to 1, 2, 4, 8 s).
REMOTE_LIMITS = RemoteLimits(connect_timeout=10.0, read_timeout=60.0, max_attempts=5)
#: HTTP statuses worth another try: throttling and server errors
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def url_protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def fsspec_url(store: FsspecStore) -> str:
    """The URL of an fsspec store (``protocol://path``)."""
    protocol = store.fs.protocol
    protocol = protocol[0] if isinstance(protocol, (list, tuple)) else protocol
    path = store.path
    if protocol in ("http", "https") or "://" in path:
        return path if "://" in path else f"{protocol}://{path}"
    return f"{protocol}://{path}"


def url_storage_options(url: str, storage_options: dict | None) -> dict[str, Any]:
    """fsspec options for ``url``: the caller's, plus our defaults wherever the caller set nothing.

    Nested dicts merge key by key, so ``config_kwargs={"region_name": ...}`` keeps our timeouts:

    - ``s3://``: ``config_kwargs`` (botocore's ``Config``) gets ``connect_timeout``, ``read_timeout`` and
      ``retries={"total_max_attempts": ..., "mode": "standard"}`` from ``REMOTE_LIMITS`` (standard mode
      retries timeouts, broken connections, 5xx and throttling answers with exponential backoff and jitter);
      a caller's ``retries`` count (``max_attempts`` or ``total_max_attempts``), or the ``AWS_MAX_ATTEMPTS`` /
      ``AWS_RETRY_MODE`` environment variables, win. Whole-object reads are made single requests
      (``max_concurrency=1``): otherwise s3fs asks for every object's size (one more request per chunk or
      document) before reading it.
    - ``http(s)://``: ``client_kwargs`` (aiohttp's ``ClientSession``) gets ``timeout=aiohttp.ClientTimeout``
      with the connect and read timeouts, and a middleware that retries 429/5xx answers and failed
      connections (``RETRY_STATUSES``).

    Any other protocol gets the caller's options as they are (gcsfs, adlfs retry on their own).
    """
    options = dict(storage_options or {})
    protocol = url_protocol(url)
    if protocol in ("s3", "s3a"):
        options.setdefault("max_concurrency", 1)
        defaults = _botocore_defaults()
        retries = (options.get("config_kwargs") or {}).get("retries")
        if isinstance(retries, dict) and "max_attempts" in retries:  # botocore: total_max_attempts would win
            defaults.get("retries", {}).pop("total_max_attempts", None)
        _merge_defaults(options, {"config_kwargs": defaults})
    elif protocol in READ_ONLY_PROTOCOLS:
        defaults = _aiohttp_defaults()
        if defaults:
            _merge_defaults(options, {"client_kwargs": defaults})
    return options


def _merge_defaults(options: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Add ``defaults`` to ``options`` in place where ``options`` has no value; dicts merge recursively."""
    for key, value in defaults.items():
        if key not in options:
            options[key] = value
        elif isinstance(options[key], dict) and isinstance(value, dict):
            options[key] = dict(options[key])
            _merge_defaults(options[key], value)


def _botocore_defaults() -> dict[str, Any]:
    retries: dict[str, Any] = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = "standard"
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["total_max_attempts"] = REMOTE_LIMITS.max_attempts
    defaults: dict[str, Any] = {
        "connect_timeout": REMOTE_LIMITS.connect_timeout,
        "read_timeout": REMOTE_LIMITS.read_timeout,
    }
    if retries:
        defaults["retries"] = retries
    return defaults


class _RetryMiddleware:
    """aiohttp client middleware: try a request up to ``attempts`` times while it fails to connect, times out
    before the answer or is answered with a status in ``RETRY_STATUSES``, with exponential backoff and jitter.
    """

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __repr__(self) -> str:  # fsspec caches file systems by the repr of their options
        return f"{type(self).__name__}(attempts={self.attempts})"

    async def __call__(self, request: Any, handler: Any) -> Any:
        import aiohttp

        for attempt in range(1, self.attempts + 1):
            try:
                response = await handler(request)
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == self.attempts:
                    raise
            else:
                if response.status not in RETRY_STATUSES or attempt == self.attempts:
                    return response
                response.release()
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")


_HTTP_RETRY = _RetryMiddleware(REMOTE_LIMITS.max_attempts)


def _aiohttp_defaults() -> dict[str, Any]:
    try:
        import aiohttp
    except ImportError:
        return {}
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=REMOTE_LIMITS.connect_timeout, sock_read=REMOTE_LIMITS.read_timeout
    )
    return {"timeout": timeout, "middlewares": (_HTTP_RETRY,)}


def _backoff(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: full jitter over 0.1 s doubling per try, at most 10 s."""
    return random.uniform(0, min(10.0, 0.1 * 2 ** (attempt - 1)))


def _status(err: BaseException) -> int | None:
    """The HTTP status of the answer an error reports (botocore's ClientError, aiohttp's ClientResponseError)."""
    status = getattr(err, "status", None)
    if isinstance(status, int):
        return status
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [TimeoutError, ConnectionError]
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        kinds += [BotoConnectionError, HTTPClientError]
    except ImportError:
        pass
    try:
        import aiohttp

        kinds += [aiohttp.ClientConnectionError, aiohttp.ClientPayloadError]
    except ImportError:
        pass
    return tuple(kinds)


def is_transport_failure(err: BaseException) -> bool:
    """True when ``err`` (or an error it was raised from) is a timeout, a broken or refused connection, or a
    throttling / server-error answer: the store did not serve the request, rather than refused it."""
    kinds = _transport_errors()
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return False
        status = _status(seen)
        if isinstance(seen, kinds) or (status is not None and status in RETRY_STATUSES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_stream_break(err: BaseException) -> bool:
    """A connection that broke while an answer's body was read: botocore does not retry those."""
    return type(err).__name__ in ("ResponseStreamingError", "ClientPayloadError", "IncompleteRead")


class URLStore(FsspecStore):
    """zarr's FsspecStore for the URLs hdmf_zarr opens: a request that the server did not serve (timed out,
    connection broken, 5xx / throttling after the last retry) raises ``StoreUnreachableError`` naming the
    store, the key and what to change; a connection broken while an answer streams is tried again (s3fs's
    own retry loops are turned off: they nest around botocore's and multiply its attempts).
    """

    def _failure(self, action: str, key: str, err: BaseException) -> BaseException:
        if isinstance(err, StoreUnreachableError) or not is_transport_failure(err):
            return err
        location = fsspec_url(self)
        if url_protocol(location) in ("s3", "s3a"):
            how = "config_kwargs={'read_timeout': ..., 'connect_timeout': ..., 'retries': {'total_max_attempts': ...}}"
        elif url_protocol(location) in READ_ONLY_PROTOCOLS:
            how = "client_kwargs={'timeout': aiohttp.ClientTimeout(sock_read=..., sock_connect=...)}"
        else:
            how = "the options of its fsspec file system"
        reason = "timed out" if _timed_out(err) else "failed"
        attempts = self._attempts()
        if attempts:
            reason += f" after {attempts} attempt{'s' if attempts > 1 else ''}"
        return StoreUnreachableError(
            f"Cannot reach the store at '{location}': {action} '{key}' {reason} ({type(err).__name__}: {err}). "
            f"Check that the server is up and answering; a slow server can be given more time or attempts "
            f"through storage_options: {how}."
        )

    def _attempts(self) -> int | None:
        """How many times each request is tried, as the file system was configured (None: unknown)."""
        retries = (getattr(self.fs, "config_kwargs", None) or {}).get("retries") or {}
        if "total_max_attempts" in retries:
            return int(retries["total_max_attempts"])
        if "max_attempts" in retries:
            return int(retries["max_attempts"]) + 1
        for middleware in (getattr(self.fs, "client_kwargs", None) or {}).get("middlewares") or ():
            if isinstance(middleware, _RetryMiddleware):
                return middleware.attempts
        return None

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        for attempt in range(1, REMOTE_LIMITS.max_attempts + 1):
            try:
                return await super().get(key, prototype, byte_range)
            except Exception as err:
                if not _is_stream_break(err) or attempt == REMOTE_LIMITS.max_attempts:
                    raise self._failure("reading", key, err) from err
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        try:
            return await super().get_partial_values(prototype, key_ranges)
        except Exception as err:
            keys = ", ".join(sorted({key for key, _ in key_ranges})[:3]) + ("..." if len(key_ranges) > 3 else "")
            raise self._failure("reading", keys, err) from err

    async def exists(self, key: str) -> bool:
        try:
            if url_protocol(fsspec_url(self)) not in READ_ONLY_PROTOCOLS:
                return await super().exists(key)
            # fsspec's HTTPFileSystem answers False for any failure (a timeout, a 503) unless strict
            path = f"{self.path.rstrip('/')}/{key}" if self.path.rstrip("/") else key
            return bool(await self.fs._exists(path, strict=True))
        except Exception as err:
            failure = self._failure("looking up", key, err)
            if failure is err and url_protocol(fsspec_url(self)) in READ_ONLY_PROTOCOLS:
                return False  # other answers (403 ...) mean "not there" to an HTTP client, as before
            raise failure from err

    async def set(self, key: str, value: Buffer, byte_range: tuple[int, int] | None = None) -> None:
        try:
            await super().set(key, value, byte_range)
        except Exception as err:
            raise self._failure("writing", key, err) from err

    async def delete(self, key: str) -> None:
        try:
            await super().delete(key)
        except Exception as err:
            raise self._failure("deleting", key, err) from err


def _timed_out(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return True
        seen = seen.__cause__
    return False
