"""Provider kind name -> adapter class."""

from __future__ import annotations

from editor.providers.base import ProviderAdapter, ProviderConfig
from editor.providers.offline import OfflineAdapter

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    adapter.kind: adapter for adapter in (OfflineAdapter,)
}


def adapter_class(kind: str) -> type[ProviderAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"Unknown provider kind {kind!r}.") from None


def adapter_for(config: ProviderConfig) -> ProviderAdapter:
    return adapter_class(config.kind)(config)
