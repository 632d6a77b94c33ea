"""Darkroom's WSGI app, telling tests what happened inside the server.

Test servers run this instead of ``webapp.wsgi``. Each response carries how
many request body bytes the app read before it answered, in
``X-Test-Body-Bytes-Read`` (the app has done all its reading by the time it
starts the response), which process answered, in ``X-Test-Worker-Pid``, and
how many objects that process keeps away from the garbage collector, in
``X-Test-Gc-Frozen``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

from webapp.wsgi import application as darkroom


class CountingStream:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int | None = None) -> bytes:
        data: bytes = self.stream.read() if size is None or size < 0 else self.stream.read(size)
        self.count += len(data)
        return data

    def readline(self, size: int | None = None) -> bytes:
        data: bytes = self.stream.readline() if size is None else self.stream.readline(size)
        self.count += len(data)
        return data


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    counter = CountingStream(environ["wsgi.input"])
    environ["wsgi.input"] = counter

    def counted_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        extra = [
            ("X-Test-Body-Bytes-Read", str(counter.count)),
            ("X-Test-Worker-Pid", str(os.getpid())),
            ("X-Test-Gc-Frozen", str(gc.get_freeze_count())),
        ]
        return start_response(status, [*headers, *extra], *args)

    result: Iterable[bytes] = darkroom(environ, counted_start_response)
    return result
