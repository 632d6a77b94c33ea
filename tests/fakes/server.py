"""A real HTTP server on a free loopback port for fake providers.

A fake subclasses ``FakeProvider`` and implements ``handle(request)``; every
request it receives is recorded (method, path, headers, body) so tests can
assert on exactly what Darkroom sent.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def multipart(self) -> dict[str, list[tuple[str | None, bytes]]]:
        """Multipart fields: name -> [(filename, bytes), ...] in order."""
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.content_type.encode() + b"\r\n\r\n" + self.body
        )
        fields: dict[str, list[tuple[str | None, bytes]]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            fields.setdefault(str(name), []).append((part.get_filename(), payload))
        return fields


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Optional slow or chunked writer for quirks (leading spaces, dribbling).
    writer: Callable[[BaseHTTPRequestHandler], None] | None = None


class FakeProvider:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def calls(self, path_suffix: str = "") -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    @contextmanager
    def running(self, host: str = "127.0.0.1") -> Iterator[FakeProvider]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                fake.record(request)
                reply = fake.handle(request)
                if reply.writer is not None:
                    reply.writer(self)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = _QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    # Hundreds of workers may connect at once (the scale tests); socketserver's
    # default backlog of 5 would make them wait seconds for a SYN retry.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up on purpose (a deadline, a byte cap) is part of
        # the test, not a failure of the fake.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
