"""Provider kind name -> adapter class."""

from __future__ import annotations

from editor.providers.base import ProviderAdapter, ProviderConfig
from editor.providers.dalle2 import Dalle2Adapter
from editor.providers.imagerouter import ImageRouterAdapter
from editor.providers.nanogpt import NanoGPTAdapter
from editor.providers.offline import OfflineAdapter
from editor.providers.openai import OpenAIAdapter

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    adapter.kind: adapter
    for adapter in (
        OfflineAdapter,
        OpenAIAdapter,
        Dalle2Adapter,
        ImageRouterAdapter,
        NanoGPTAdapter,
    )
}


def adapter_class(kind: str) -> type[ProviderAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"Unknown provider kind {kind!r}.") from None


def adapter_for(config: ProviderConfig) -> ProviderAdapter:
    return adapter_class(config.kind)(config)
