"""Which model an API request names, among those the user may use.

Darkroom's ids are ``provider/model`` (``openai/gpt-image-1``). A plain model
id (``gpt-image-1``) is taken when exactly one provider serves it. Router ids
carry slashes of their own (``openai/gpt-image-1`` at ImageRouter), so a name
is first read as provider + model, then as a plain id.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from editor import pricing, selectors
from editor.api.errors import ApiError
from editor.models import ImageModel


def models_for(user: Any) -> QuerySet[ImageModel]:
    """The models this user may run."""
    return ImageModel.objects.available_to(user).order_by("provider__name", "model_id")


def api_model_id(model: ImageModel) -> str:
    return f"{model.provider.name}/{model.model_id}"


def model_lookup(*, user: Any, name: str, mode: str) -> ImageModel:
    models = models_for(user)
    if not name:
        capable = [m for m in models if (m.can_edit if mode == "edit" else m.can_generate)]
        default = selectors.default_model(user=user, models=capable)
        if default is None:
            raise ApiError(404, "No model is available to you for this.", code="model_not_found")
        return default
    if not name.isprintable():
        # No model id holds control characters, and PostgreSQL refuses a NUL
        # in a query before it could say so.
        raise _not_found(name)
    provider, _, model_id = name.partition("/")
    if model_id:
        found = models.filter(provider__name=provider, model_id=model_id).first()
        if found is not None:
            return found
    plain = list(models.filter(model_id=name)[:10])
    if len(plain) == 1:
        return plain[0]
    if plain:
        choices = ", ".join(api_model_id(model) for model in plain)
        raise ApiError(
            400,
            f"Several providers serve “{name}”: name one of {choices}.",
            code="model_ambiguous",
            param="model",
        )
    raise _not_found(name)


def _not_found(name: str) -> ApiError:
    shown = name if name.isprintable() else name.encode("unicode_escape").decode()
    return ApiError(
        404,
        f"The model “{shown}” does not exist or is not available to you. "
        "GET /v1/models lists the models you may use.",
        code="model_not_found",
        param="model",
    )


def model_entry(model: ImageModel) -> dict[str, Any]:
    """One model as OpenAI lists it, with what it can do under ``darkroom``."""
    return {
        "id": api_model_id(model),
        "object": "model",
        "created": int(model.provider.created.timestamp()),
        "owned_by": model.provider.name,
        "darkroom": {
            "label": model.label,
            "provider": model.provider.name,
            "model_id": model.model_id,
            "can_edit": model.can_edit,
            "can_generate": model.can_generate,
            "supports_mask": model.supports_mask,
            "max_images": model.max_images,
            "max_prompt_length": model.max_prompt_length,
            "parameters": model.parameters,
            "price": pricing.price_summary(model.pricing),
        },
    }
