"""Request size limits against a real gunicorn, as production runs it.

Bodies are streamed from generators over a raw socket, so the test holds no
200 MB; the client stops sending as soon as an answer arrives, counts what it
managed to send, and the server (tests/counting_wsgi.py) reports how many body
bytes the app read. Nothing may be left in the server's temporary folder or
media.
"""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.images import image_bytes
from tests.services import Gunicorn

MB = 1024 * 1024
PER_FILE_LIMIT = 1 * MB
REQUEST_LIMIT = 48 * MB
HUGE = 200 * MB
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    limits = {
        "DARKROOM_MAX_UPLOAD_BYTES": str(PER_FILE_LIMIT),
        "DARKROOM_MAX_REQUEST_BYTES": str(REQUEST_LIMIT),
    }
    with Gunicorn(tmp_path_factory.mktemp("limits"), env=limits) as server:
        yield server


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    sent: int

    @property
    def body_bytes_read(self) -> int:
        return int(self.headers["x-test-body-bytes-read"])


class Answered(Exception):
    pass


def exchange(server: Gunicorn, head: bytes, body: Iterator[bytes]) -> Answer:
    """Send ``head`` then ``body`` until the server answers; read the answer."""
    sock = socket.socket()
    # A small send buffer: what "sent" counts is close to what left the client.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.connect(("127.0.0.1", server.port))
    sock.settimeout(60)
    sock.sendall(head)
    sent = 0
    try:
        for piece in body:
            view = memoryview(piece)
            while view:
                readable, writable, _ = select.select([sock], [sock], [], 60)
                if readable:
                    raise Answered
                assert writable, "the server neither read nor answered for 60 s"
                count = sock.send(view)
                sent += count
                view = view[count:]
    except (Answered, BrokenPipeError, ConnectionResetError):
        pass  # the server answered, or hung up: stop sending
    received = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        received += data
        if complete(received):
            break
    sock.close()
    head_part, _, content = received.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    return Answer(
        status=int(lines[0].split()[1]),
        headers=headers,
        body=content.decode("utf-8", errors="replace"),
        sent=sent,
    )


def complete(received: bytes) -> bool:
    head, separator, content = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(length) and len(content) >= int(length.group(1))  # type: ignore[union-attr]


def request_head(path: str, *, content_type: str, length: int | None, cookies: str = "") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        "Content-Length: " + str(length) if length is not None else "Transfer-Encoding: chunked",
    ]
    if cookies:
        lines.append(f"Cookie: {cookies}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


BOUNDARY = "darkroom-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def field_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    )


def file_part_head(file_name: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="images"; '
        f'filename="{file_name}"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()


def multipart(
    fields: dict[str, str], *, file_name: str, file_size: int
) -> tuple[int, Iterator[bytes]]:
    """A multipart body with ``fields`` then one file of ``file_size`` bytes."""
    head = b"".join(field_part(name, value) for name, value in fields.items())
    head += file_part_head(file_name)
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def pieces() -> Iterator[bytes]:
        yield head
        block = b"\x89PNG" + bytes(CHUNK - 4)
        remaining = file_size
        while remaining > 0:
            yield block[: min(CHUNK, remaining)]
            remaining -= CHUNK
        yield tail

    return len(head) + file_size + len(tail), pieces()


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def leftovers(folder: Path) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def logged_in(server: Gunicorn) -> tuple[str, dict[str, str]]:
    """A new account's cookies and the editor form's fields (token, model)."""
    client = httpx.Client(base_url=server.url, timeout=10)
    page = client.get("/accounts/signup/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    username = f"user{time.monotonic_ns()}"
    signed_up = client.post(
        "/accounts/signup/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert signed_up.status_code == 302, signed_up.text
    editor = client.get("/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', editor.text)
    model = re.search(r'<option value="(\d+)"[^>]*>Offline demo', editor.text)
    assert token and model
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return cookies, {
        "csrfmiddlewaretoken": token.group(1),
        "prompt": "make it black and white",
        "image_model": model.group(1),
    }


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(server: Gunicorn) -> None:
    length, pieces = multipart({"prompt": "x"}, file_name="huge.png", file_size=HUGE)
    answer = exchange(server, request_head("/", content_type=MULTIPART, length=length), pieces)
    assert answer.status == 413
    assert answer.body_bytes_read == 0
    assert answer.sent < REQUEST_LIMIT  # and not 200 MB: the server hung up
    assert "Too much data" in answer.body and 'class="topbar"' in answer.body
    assert "more than 48.0\xa0MB" in answer.body
    assert leftovers(server.tmp) == [] and leftovers(server.data / "media") == []


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(server: Gunicorn) -> None:
    _, pieces = multipart({"prompt": "x"}, file_name="huge.png", file_size=HUGE)
    answer = exchange(
        server, request_head("/", content_type=MULTIPART, length=None), chunked(pieces)
    )
    assert answer.status == 413
    # Read up to the limit and one more piece, never the 200 MB.
    assert REQUEST_LIMIT < answer.body_bytes_read <= REQUEST_LIMIT + CHUNK
    assert answer.sent < HUGE / 2
    assert "Too much data" in answer.body
    assert leftovers(server.tmp) == [] and leftovers(server.data / "media") == []


def test_a_file_over_the_per_file_limit_stops_the_upload_there(server: Gunicorn) -> None:
    cookies, fields = logged_in(server)
    size = REQUEST_LIMIT - MB  # within the request limit: only the file limit applies
    length, pieces = multipart(fields, file_name="huge.png", file_size=size)
    answer = exchange(
        server, request_head("/", content_type=MULTIPART, length=length, cookies=cookies), pieces
    )
    assert answer.status == 413
    assert answer.body_bytes_read <= PER_FILE_LIMIT + 4 * CHUNK
    assert answer.sent < size / 2
    # The editor again, with the form's own message and the prompt kept.
    assert "“huge.png” is larger than 1.0\xa0MB" in answer.body
    assert 'id="job-form"' in answer.body and "make it black and white" in answer.body
    assert leftovers(server.tmp) == [] and leftovers(server.data / "media") == []


def test_a_chunked_upload_within_the_limits_makes_a_job(server: Gunicorn) -> None:
    cookies, fields = logged_in(server)
    image = image_bytes(64, 48)
    head = b"".join(field_part(name, value) for name, value in fields.items())
    head += file_part_head("photo.png")
    body = iter([head, image, f"\r\n--{BOUNDARY}--\r\n".encode()])
    answer = exchange(
        server,
        request_head("/", content_type=MULTIPART, length=None, cookies=cookies),
        chunked(body),
    )
    assert answer.status == 302, answer.body
    job = httpx.get(
        server.url + answer.headers["location"],
        headers={"Cookie": cookies, "Accept": "application/json"},
        timeout=10,
    ).json()
    assert job["kind"] == "edit" and job["prompt"] == "make it black and white"
    assert leftovers(server.tmp) == []
