"""An HTTP proxy on 127.0.0.1 that forwards to a server (say ``LocalS3Server``) and injects faults by rule.

Stdlib only. Every request is either forwarded or, as the ``Faults`` rule draws, answered with an S3-style
error status (500 InternalError, 503 SlowDown, 429), cut off (the connection is reset without an answer),
left unanswered (silence: the request is read, then nothing is sent until ``silence_limit`` seconds pass
or the proxy stops), or, for paths that match ``missing``, answered 404 NoSuchKey although the object exists.
The proxy is bounded: its threads are daemons, ``stop()`` (the context manager's exit) closes every open
connection and wakes every silent handler, and it stops by itself after ``deadline`` seconds.

    with LocalS3Server() as s3, FaultProxy(s3.endpoint, Faults(error_rate=0.3, seed=1)) as proxy:
        options = {**s3.storage_options(), "client_kwargs": {"endpoint_url": proxy.endpoint, ...}}
        ...; proxy.counts["error"]
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: S3 error codes for the statuses the proxy answers with (botocore retries these as throttling / transient)
_ERROR_CODES = {
    404: ("NoSuchKey", "The specified key does not exist."),
    429: ("TooManyRequestsException", "Too many requests."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    502: ("BadGateway", "Bad gateway."),
    503: ("SlowDown", "Please reduce your request rate."),
    504: ("GatewayTimeout", "Gateway timeout."),
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "expect", "te"}


@dataclass(frozen=True)
class Faults:
    """What the proxy does to each request: the rates are fractions of the requests the rule applies to.

    ``missing`` is a regex searched in the path of GET and HEAD requests: those answer 404 (always).
    ``methods`` and ``paths`` (a regex searched in the path) limit the random faults to the requests they match
    (None: all). ``in_a_row`` caps the random faults one method and path get in a row before a request of
    theirs is forwarded (None: no cap), so a client that retries often enough always gets through. ``seed``
    makes the draws repeatable.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503, 500)
    reset_rate: float = 0.0
    silence_rate: float = 0.0
    silence_limit: float = 60.0
    missing: str | None = None
    methods: tuple[str, ...] | None = None
    paths: str | None = None
    in_a_row: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if min(self.error_rate, self.reset_rate, self.silence_rate) < 0 or self.total_rate > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")

    @property
    def total_rate(self) -> float:
        return self.error_rate + self.reset_rate + self.silence_rate


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, a connection closed by stop(): nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends its thread after this long
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, True)
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        self.server.proxy._track(self.connection, False)
        if self._upstream is not None:
            self._upstream.close()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        fault = proxy._draw(self.command, urlsplit(self.path).path)
        proxy._count(fault)
        if fault == "reset":
            # an RST rather than a FIN: the client sees "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "silence":
            proxy._stopping.wait(proxy.faults.silence_limit)
            self.close_connection = True
        elif fault == "forward":
            self._forward(body)
        else:
            self._answer_error(404 if fault == "missing" else proxy._error_status())

    def _answer_error(self, status: int) -> None:
        code, message = _ERROR_CODES.get(status, ("Error", "Injected error."))
        xml = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        payload = b"" if self.command == "HEAD" else xml.encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed by the server
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(*self.server.proxy._upstream_address, timeout=30)
            try:
                self._upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = self._upstream.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of ``upstream`` (``http://host:port``) that injects ``faults``.

    ``counts`` tallies what was done to each request: ``forward``, ``error``, ``reset``, ``silence``, ``missing``.
    """

    def __init__(self, upstream: str, faults: Faults | None = None, deadline: float = 300.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self._upstream_address = (parts.hostname, parts.port)
        self.faults = faults or Faults()
        self.deadline = deadline
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self._streaks: Counter[tuple[str, str]] = Counter()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set_faults(self, faults: Faults) -> None:
        """Change the rule for the requests that arrive from now on."""
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)
            self._streaks.clear()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FaultProxy:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.deadline, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake silent handlers and close every open connection (idempotent)."""
        self._stopping.set()
        server, self._server = self._server, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ used by the handler threads
    def _track(self, connection: socket.socket, is_open: bool) -> None:
        with self._lock:
            (self._connections.add if is_open else self._connections.discard)(connection)

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _draw(self, method: str, path: str) -> str:
        with self._lock:
            faults = self.faults
            if faults.missing and method in ("GET", "HEAD") and re.search(faults.missing, path):
                return "missing"
            if faults.methods is not None and method not in faults.methods:
                return "forward"
            if faults.paths is not None and not re.search(faults.paths, path):
                return "forward"
            fault = self._pick(self._random.random(), faults)
            if fault == "forward" or (faults.in_a_row is not None and self._streaks[method, path] >= faults.in_a_row):
                self._streaks.pop((method, path), None)
                return "forward"
            self._streaks[method, path] += 1
            return fault

    @staticmethod
    def _pick(draw: float, faults: Faults) -> str:
        for fault, rate in (("error", faults.error_rate), ("reset", faults.reset_rate)):
            if draw < rate:
                return fault
            draw -= rate
        return "silence" if draw < faults.silence_rate else "forward"

    def _error_status(self) -> int:
        with self._lock:
            return self._random.choice(self.faults.error_statuses)
