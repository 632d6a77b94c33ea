"""What every strict fake provider shares: scripted faults, rejections, result images.

A strict fake answers like the real provider would, including its refusals:
anything it would reject raises ``Rejected``, which becomes the provider's own
error answer and is remembered in ``rejections`` so a test can tell a
rejected request from an accepted one.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from PIL import Image

from tests.fakes.server import FakeProvider, RecordedRequest, Reply

API_KEY = "sk-test-9f8e7d6c5b4a-SECRET"

Step = Reply | Callable[[RecordedRequest], Reply]


class Rejected(Exception):
    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class StrictFake(FakeProvider):
    """Subclasses implement ``serve``; tests script faults with ``then``."""

    api_key = API_KEY

    def __init__(self) -> None:
        super().__init__()
        self.script: list[Step] = []
        self.rejections: list[str] = []
        self.result_size = (32, 24)
        self.result_format = "PNG"
        # Answer an edit with the first image it received, every pixel of it
        # changed (see ``every_pixel_changed``): a model that respects no mask.
        self.change_every_pixel = False

    def then(self, *steps: Step) -> StrictFake:
        """Answer the next requests with ``steps`` (in order) before serving normally."""
        with self.lock:
            self.script.extend(steps)
        return self

    def handle(self, request: RecordedRequest) -> Reply:
        with self.lock:
            step = self.script.pop(0) if self.script else None
        if step is not None:
            return step(request) if callable(step) else step
        try:
            self.check_auth(request)
            return self.serve(request)
        except Rejected as exc:
            with self.lock:
                self.rejections.append(exc.message)
            return self.error_reply(exc)

    def check_auth(self, request: RecordedRequest) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise Rejected(
                "Incorrect API key provided: " + request.headers.get("authorization", "")[7:],
                status=401,
                code="invalid_api_key",
            )

    def serve(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def error_reply(self, exc: Rejected) -> Reply:
        return json_reply(
            {
                "error": {
                    "message": exc.message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": exc.code,
                }
            },
            status=exc.status,
        )

    def result_png(self, index: int = 0) -> bytes:
        return result_image(self.result_size, colour=(20 + index * 40, 120, 200))

    def paid_calls(self, path_suffix: str) -> list[RecordedRequest]:
        return [request for request in self.calls(path_suffix) if request.method == "POST"]


def result_image(
    size: tuple[int, int], *, colour: tuple[int, int, int] = (20, 120, 200), fmt: str = "PNG"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def every_pixel_changed(image: Image.Image, *, size: tuple[int, int] | None = None) -> bytes:
    """``image`` as an opaque PNG with every colour channel of every pixel moved
    by 128 (far past any codec noise), scaled to ``size`` if given.

    Transparent pixels (a padded square's borders) come back as opaque grey
    bars, as a real model paints over them.
    """
    red, green, blue, _ = image.convert("RGBA").split()
    moved = Image.merge(
        "RGB", [band.point(lambda value: value ^ 0x80) for band in (red, green, blue)]
    )
    if size is not None and moved.size != size:
        moved = moved.resize(size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    moved.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def json_reply(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# --- Faults -------------------------------------------------------------------


def status_reply(status: int, *, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return json_reply(
        {"error": {"message": f"busy ({status})", "type": "server_error", "code": None}},
        status=status,
        headers=headers,
    )


def html_page(status: int = 502) -> Reply:
    return Reply(
        status=status,
        body=b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        headers={"Content-Type": "text/html"},
    )


def malformed_json() -> Reply:
    return Reply(
        status=200, body=b'{"created": 1, "data": [', headers={"Content-Type": "application/json"}
    )


def empty_data() -> Reply:
    return json_reply({"created": 1, "data": []})


def not_an_image() -> Reply:
    return json_reply({"created": 1, "data": [{"b64_json": b64(b"this is not an image")}]})


def moderation_refusal() -> Reply:
    return json_reply(
        {
            "error": {
                "message": "Your request was rejected by the safety system.",
                "type": "image_generation_user_error",
                "param": None,
                "code": "moderation_blocked",
                "moderation_details": {
                    "moderation_stage": "input",
                    "categories": ["violence", "self-harm"],
                },
            }
        },
        status=400,
    )


def silent_after_request(seconds: float) -> Callable[[RecordedRequest], Reply]:
    """Read the whole request, then say nothing for ``seconds`` and hang up."""

    def writer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        handler.close_connection = True

    return lambda request: Reply(writer=writer)


def dribble(interval: float, count: int) -> Callable[[RecordedRequest], Reply]:
    """Headers at once, then one space every ``interval`` seconds: never a read timeout."""

    def writer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        try:
            for _ in range(count):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass
        handler.close_connection = True

    return lambda request: Reply(writer=writer)


def spaces_then(
    payload: Any, *, spaces: int = 3, interval: float = 0.05
) -> Callable[[RecordedRequest], Reply]:
    """ImageRouter's quirk: 200 at once, spaces while the model runs, then the body."""
    body = json.dumps(payload).encode()

    def writer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(spaces + len(body)))
        handler.end_headers()
        for _ in range(spaces):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(interval)
        handler.wfile.write(body)

    return lambda request: Reply(writer=writer)


# --- A host serving result URLs -------------------------------------------------


class ImageHost(FakeProvider):
    """Serves result images by path; faults per path are scripted in ``failures``."""

    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, bytes] = {}
        self.failures: dict[str, list[Reply]] = {}
        self.redirects: dict[str, str] = {}
        self._lock = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply:
        with self._lock:
            pending = self.failures.get(request.path)
            if pending:
                return pending.pop(0)
        if request.path in self.redirects:
            return Reply(status=302, headers={"Location": self.redirects[request.path]})
        data = self.images.get(request.path)
        if data is None:
            return Reply(status=404, body=b"gone")
        return Reply(status=200, body=data, headers={"Content-Type": "image/png"})

    def url(self, path: str) -> str:
        return self.base_url + path
