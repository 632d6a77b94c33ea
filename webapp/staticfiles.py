"""Static files storage: hashed and compressed once collected, plain before."""

from __future__ import annotations

from django.contrib.staticfiles.storage import StaticFilesStorage as PlainStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage, usable before ``collectstatic``.

    Without a manifest (a fresh checkout, ``serve`` in development) URLs are
    the plain names, which WhiteNoise serves straight from the app folders.
    After ``collectstatic`` they are content-hashed names that browsers may
    cache forever, served pre-compressed.
    """

    manifest_strict = False

    def url(self, name: str | None, force: bool = False) -> str:
        if not self.hashed_files:
            return PlainStorage.url(self, name)
        return super().url(name, force)
