"""Encryption at rest for provider API keys.

``DARKROOM_ENCRYPTION_KEYS`` lists Fernet keys, newest first. Values encrypted
with any listed key stay readable; new values use the newest, and
``manage.py providers rotate-keys`` re-encrypts old ones. With no keys set, a
key derived from SECRET_KEY is used so a fresh install works.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UnreadableSecretError(Exception):
    """The value was encrypted with a key that is no longer configured."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        digest = hashlib.sha256(f"darkroom-api-keys:{settings.SECRET_KEY}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.DARKROOM_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecretError(
            "This API key was encrypted with a key missing from DARKROOM_ENCRYPTION_KEYS."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the newest key (a no-op for current values)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecretError("Cannot rotate a value no configured key can read.") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()
