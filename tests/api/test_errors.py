"""Refusals of the image API: OpenAI's error shape and status codes, with
Darkroom's own messages, as the openai SDK raises them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest
from django.contrib.auth.models import Group
from django.test import Client

from editor.api import tokens
from editor.models import GroupPolicy, ImageModel, Job, UserLimits
from tests.api.conftest import Backend, sdk
from tests.images import image_bytes

PNG = ("photo.png", image_bytes(32, 32), "image/png")


def test_a_revoked_token_is_refused_with_authentication_error(
    live_server: Any, carol_token: Any
) -> None:
    client = sdk(live_server, carol_token.secret)
    assert client.models.list().data  # works before
    tokens.token_revoke(token=carol_token.token)

    with pytest.raises(openai.AuthenticationError) as refused:
        client.models.list()

    assert refused.value.status_code == 401
    assert "not valid" in refused.value.message
    assert refused.value.body["code"] == "invalid_api_key"


def test_seventeen_images_are_refused_with_darkrooms_message(
    live_server: Any, carol_token: Any
) -> None:
    client = sdk(live_server, carol_token.secret)

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.edit(model="offline/offline-demo", image=[PNG] * 17, prompt="make it blue")

    assert "17 images chosen; at most 16 can be edited together." in refused.value.message
    assert refused.value.body["param"] == "image"
    assert not Job.objects.exists()


def test_an_unknown_model_is_not_found(live_server: Any, carol_token: Any) -> None:
    client = sdk(live_server, carol_token.secret)

    with pytest.raises(openai.NotFoundError) as refused:
        client.images.generate(model="nowhere/dall-e-9", prompt="a cat")

    assert refused.value.body["code"] == "model_not_found"
    assert "GET /v1/models" in refused.value.message


def test_an_invalid_parameter_gets_the_forms_message(live_server: Any, carol_token: Any) -> None:
    client = sdk(live_server, carol_token.secret)

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.edit(model="offline/offline-demo", image=PNG, prompt="")

    assert "This field is required." in refused.value.message
    assert refused.value.body["param"] == "prompt"


def test_a_mask_without_transparent_pixels_is_refused(live_server: Any, carol_token: Any) -> None:
    client = sdk(live_server, carol_token.secret)
    white_on_black = image_bytes(32, 32, colour=(255, 255, 255))

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.edit(
            model="offline/offline-demo",
            image=PNG,
            mask=("mask.png", white_on_black, "image/png"),
            prompt="make it blue",
        )

    assert "transparent" in refused.value.message
    assert refused.value.body["param"] == "mask"


def test_over_budget_is_permission_denied_with_the_budget_message(
    openai_backend: Backend, live_server: Any, carol_token: Any
) -> None:
    UserLimits.objects.create(user=carol_token.token.owner, monthly_limit=Decimal("0.01"))
    client = sdk(live_server, carol_token.secret)

    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.images.generate(model=openai_backend.kind.api_model, prompt="a cat")

    assert refused.value.body["code"] == "over_budget"
    assert "$0.01" in refused.value.body["message"]
    assert not Job.objects.exists()
    assert not openai_backend.fake.paid_calls("/images/generations")


@pytest.mark.worker
def test_the_rate_cap_is_rate_limit_error_with_retry_after(
    celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    UserLimits.objects.create(user=carol_token.token.owner, jobs_per_minute=1)
    client = sdk(live_server, carol_token.secret)
    client.images.generate(model="offline/offline-demo", prompt="a cat")

    with pytest.raises(openai.RateLimitError) as refused:
        client.images.generate(model="offline/offline-demo", prompt="another cat")

    assert refused.value.body["code"] == "rate_limit_exceeded"
    assert "minute" in refused.value.body["message"]
    assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 60
    assert Job.objects.count() == 1


def test_a_model_the_users_groups_do_not_allow_is_neither_listed_nor_run(
    openai_backend: Backend, live_server: Any, carol_token: Any
) -> None:
    group = Group.objects.create(name="demo only")
    GroupPolicy.objects.create(group=group).image_models.add(
        ImageModel.objects.get(provider__kind="offline")
    )
    carol_token.token.owner.groups.add(group)
    client = sdk(live_server, carol_token.secret)

    assert [model.id for model in client.models.list()] == ["offline/offline-demo"]
    with pytest.raises(openai.NotFoundError) as refused:
        client.images.generate(model=openai_backend.kind.api_model, prompt="a cat")
    assert refused.value.body["code"] == "model_not_found"
    assert not Job.objects.exists()


def test_wrong_tokens_are_throttled_per_address(
    live_server: Any, carol_token: Any, settings: Any
) -> None:
    settings.DARKROOM_API_BAD_TOKEN_RATE = "3/m"
    wrong = sdk(live_server, "drk_not-a-real-token")
    for _ in range(3):
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()

    with pytest.raises(openai.RateLimitError) as refused:
        wrong.models.list()

    assert int(refused.value.response.headers["Retry-After"]) >= 1
    assert "wrong API token" in refused.value.message
    # The token's owner, at the same address, is not locked out.
    assert sdk(live_server, carol_token.secret).models.list().data


def test_the_api_switched_off_says_so(live_server: Any, carol_token: Any, settings: Any) -> None:
    settings.DARKROOM_API_ENABLED = False

    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk(live_server, carol_token.secret).models.list()

    assert "switched off" in refused.value.message


def json_error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_refusals_under_v1_are_json_not_pages(carol_token: Any, settings: Any) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {carol_token.secret}")

    missing = client.get("/v1/nothing-here")
    wrong_method = client.get("/v1/images/generations")
    settings.DARKROOM_MAX_REQUEST_BYTES = 1000
    too_large = client.post(
        "/v1/images/generations", data=b"{" + b" " * 2000 + b"}", content_type="application/json"
    )
    not_json = client.post("/v1/images/generations", data=b"{nope", content_type="application/json")

    assert missing.status_code == 404 and json_error(missing)["message"]
    assert wrong_method.status_code == 405
    assert "POST" in json_error(wrong_method)["message"]
    assert too_large.status_code == 413
    assert "more than" in json_error(too_large)["message"]
    assert not_json.status_code == 400
    assert json_error(not_json)["code"] == "invalid_json"
    # The site's own pages are unchanged.
    assert "text/html" in Client().get("/no-such-page/")["Content-Type"]
