"""Model fields Django does not have."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.db import models


class JSONTextField(models.TextField):  # type: ignore[type-arg]
    """JSON kept as plain text, for large values the database never looks into.

    Provider answers are megabytes of base64 images. As ``jsonb`` PostgreSQL
    parses each one character by character when it is saved (~40 ms for a
    4 MB answer, on the path between a paid answer arriving and its result
    being stored); as text it only copies it (~15 ms). Nothing queries
    inside these values, so ``jsonb`` bought nothing. Only whole values
    compare equal, as text.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else json.loads(value)

    def to_python(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            # orjson: 3 ms for a 4 MB answer where json.dumps takes 13.
            return orjson.dumps(value).decode()
        except TypeError:
            # What orjson does not write (keys that are not strings, say).
            return json.dumps(value, separators=(",", ":"))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))
