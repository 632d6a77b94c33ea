"""Calls to providers over TLS: one context per process, certificates checked."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from editor.providers import http as provider_http
from editor.providers.base import ProviderConfig, ProviderError


def config(base_url: str) -> ProviderConfig:
    return ProviderConfig(
        name="router",
        kind="openai",
        base_url=base_url,
        api_key="sk-test-tls",
        connect_timeout=1,
        deadline=3,
    )


def test_every_call_shares_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Any] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        load(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    provider_http._tls_context.cache_clear()
    for _ in range(3):
        provider_http.client_for(config("https://127.0.0.1:9/v1"), 5).close()
    # The CA bundle is read once, not once per call (~30 ms each).
    assert len(loads) == 1


@pytest.fixture
def untrusted_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose certificate no authority signed."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def test_a_provider_with_an_untrusted_certificate_is_refused(untrusted_server: str) -> None:
    with pytest.raises(ProviderError) as refused:
        provider_http.call_json(
            config(untrusted_server), "POST", "/images/generations", json_body={"prompt": "x"}
        )
    assert refused.value.code == "provider_unreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert "sk-test-tls" not in str(refused.value)
