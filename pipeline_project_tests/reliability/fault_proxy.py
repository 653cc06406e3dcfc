"""A reverse proxy on 127.0.0.1 that fails a share of S3 requests the ways S3 and networks fail."""

from __future__ import annotations

import collections
import http.client
import random
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

FAULTS = ("slowdown_503", "internal_500", "reset", "timeout", "truncated_body")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    """Forwards to `upstream`; with probability `rate` a request gets one of `faults` instead.

    `deny` answers every request 403 AccessDenied (a permanent error). `requests` counts what
    arrived, `injected` what was failed, by kind.
    """

    def __init__(self, upstream: str, rate: float = 0.0, seed: int = 0, faults=FAULTS, delay: float = 1.5):
        self.upstream = urlparse(upstream)
        self.rate = rate
        self.faults = faults
        self.delay = delay
        self.deny = False
        self.requests = 0
        self.injected: collections.Counter = collections.Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _choose(self, method: str) -> str | None:
        with self._lock:
            self.requests += 1
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice([f for f in self.faults if f != "truncated_body" or method == "GET"])
            self.injected[fault] += 1
            return fault

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_body(handler)
        if self.deny:
            with self._lock:
                self.requests += 1
            return _error(handler, 403, "AccessDenied", "Access Denied")
        fault = self._choose(handler.command)
        if fault == "slowdown_503":
            return _error(handler, 503, "SlowDown", "Please reduce your request rate.")
        if fault == "internal_500":
            return _error(handler, 500, "InternalError", "We encountered an internal error. Please try again.")
        if fault == "reset":
            return _reset(handler)
        if fault == "timeout":
            time.sleep(self.delay)
            return _reset(handler)
        status, headers, payload = self._forward(handler, body)
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if fault == "truncated_body" and len(payload) > 1:
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            return _reset(handler)
        handler.wfile.write(payload)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes):
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or handler.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _error(handler: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
    payload = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    ).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/xml")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(payload)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close with a TCP RST, as a dropped connection looks to the client."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()
