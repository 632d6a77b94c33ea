"""Provider adapters: one module per kind, one interface (``base``)."""
