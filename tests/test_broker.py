"""The embedded broker's transport (webapp/broker.py): atomic writes, and
unreadable messages set aside instead of stopping the worker."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from tests.services import FILESYSTEM_TRANSPORT, filesystem_broker_options
from webapp import broker

QUEUE = "darkroom"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "queue"
    (folder / "messages").mkdir(parents=True)
    return folder


def open_channel(folder: Path) -> Any:
    connection = Connection(
        "filesystem://",
        transport=FILESYSTEM_TRANSPORT,
        transport_options=filesystem_broker_options(folder),
    )
    return connection.channel()


@pytest.fixture
def channel(folder: Path) -> Iterator[Any]:
    channel = open_channel(folder)
    yield channel
    channel.connection.client.release()


def publish(channel: Any, body: Any) -> None:
    channel.basic_publish(channel.prepare_message(json.dumps(body)), "", QUEUE)


def body_of(channel: Any, payload: dict[str, Any]) -> Any:
    return json.loads(channel.Message(payload, channel=channel).body)


def test_the_filesystem_url_gets_this_transport_when_the_settings_name_it() -> None:
    # The settings keep `filesystem://` and name our class; kombu prefers an
    # explicit transport to the URL's scheme.
    connection = Connection("filesystem://", transport=FILESYSTEM_TRANSPORT)
    assert isinstance(connection.transport, broker.Transport)


def test_a_message_is_invisible_to_readers_until_it_is_whole(
    channel: Any, folder: Path, monkeypatch: Any
) -> None:
    reader = open_channel(folder)
    sizes_before_rename: list[int] = []
    real_replace = os.replace

    def replace(source: Any, target: Any) -> None:
        # The message is fully written under its temporary name by now.
        json.loads(Path(source).read_bytes())
        sizes_before_rename.append(reader._size(QUEUE))
        with pytest.raises(Empty):
            reader._get(QUEUE)
        real_replace(source, target)

    monkeypatch.setattr(broker.os, "replace", replace)
    publish(channel, {"n": 1})
    assert sizes_before_rename == [0]
    assert reader._size(QUEUE) == 1
    assert body_of(reader, reader._get(QUEUE)) == {"n": 1}
    assert list((folder / "messages").iterdir()) == []


def test_a_reader_polling_while_large_messages_are_written_never_reads_a_partial_one(
    channel: Any, folder: Path
) -> None:
    """A reader that takes any file under a message's name, as kombu's does,
    must only ever find whole JSON there."""
    messages = folder / "messages"
    count, size = 20, 2_000_000
    done = threading.Event()

    def write() -> None:
        try:
            for index in range(count):
                publish(channel, {"n": index, "padding": "x" * size})
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    read: list[int] = []
    partial: list[str] = []
    while not done.is_set() or any(messages.glob(f"*.{QUEUE}.msg")):
        for path in sorted(messages.iterdir()):
            if path.name.partition(".")[2] != f"{QUEUE}.msg":
                continue
            try:
                payload = json.loads(path.read_bytes())
            except ValueError:
                partial.append(path.name)
                continue
            read.append(body_of(channel, payload)["n"])
            path.unlink()
    writer.join()
    assert partial == []
    assert read == list(range(count))


def good_message(channel: Any, folder: Path, body: Any) -> bytes:
    """The bytes of a real message, published and taken back out."""
    publish(channel, body)
    (path,) = (folder / "messages").iterdir()
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("truncated", lambda whole: whole[: len(whole) // 2]),
        ("not JSON", lambda whole: b"\x00\xffnot json at all"),
        ("empty", lambda whole: b""),
        ("JSON but not a message", lambda whole: b'["a", "list"]'),
        ("no properties", lambda whole: b'{"body": "e30="}'),
        (
            "a body that cannot be decoded",
            lambda whole: re.sub(rb'"body": "[^"]*"', b'"body": "a"', whole),
        ),
    ],
)
def test_an_unreadable_message_is_set_aside_and_the_next_one_is_read(
    channel: Any, folder: Path, caplog: Any, kind: str, make: Any
) -> None:
    whole = good_message(channel, folder, {"n": 0})
    # Named to sort first, as an older message would.
    bad = folder / "messages" / f"0_bad.{QUEUE}.msg"
    bad.write_bytes(make(whole))
    publish(channel, {"n": 1})
    with caplog.at_level(logging.ERROR, logger="webapp.broker"):
        payload = channel._get(QUEUE)
    assert body_of(channel, payload) == {"n": 1}
    assert (folder / "rejected" / bad.name).read_bytes() == make(whole)
    assert list((folder / "messages").iterdir()) == []
    (record,) = [r for r in caplog.records if r.name == "webapp.broker"]
    assert bad.name in record.getMessage()
    assert "Set aside the unreadable queue message" in record.getMessage()
    with pytest.raises(Empty):
        channel._get(QUEUE)


def test_two_readers_of_one_folder_take_each_message_once(channel: Any, folder: Path) -> None:
    total = 300
    for index in range(total):
        publish(channel, {"n": index})
    taken: list[list[int]] = [[], []]

    def take(reader: Any, into: list[int]) -> None:
        while True:
            try:
                into.append(body_of(reader, reader._get(QUEUE))["n"])
            except Empty:
                return

    readers = [threading.Thread(target=take, args=(open_channel(folder), into)) for into in taken]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert sorted(taken[0] + taken[1]) == list(range(total))


def test_the_queue_size_counts_whole_waiting_messages_only(channel: Any, folder: Path) -> None:
    for index in range(3):
        publish(channel, {"n": index})
    (folder / "messages" / f".9_x.{QUEUE}.msg.partial").write_bytes(b'{"half')
    (folder / "rejected").mkdir()
    (folder / "rejected" / f"8_y.{QUEUE}.msg").write_bytes(b"{")
    assert channel.queue_declare(queue=QUEUE).message_count == 3
