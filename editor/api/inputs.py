"""What an image API request asks for, read from multipart or JSON.

The values are then checked by the editor's own ``JobForm`` (``job_form``),
so an API call meets the same limits and gets the same messages as the web
form: the image API adds a way in, not a second set of rules.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pybase64
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from editor.api import answers
from editor.api.errors import ApiError
from editor.forms import JobForm
from editor.models import ImageModel
from editor.parameters import PARAMETERS
from webapp import uploads

RESPONSE_FORMATS = ("b64_json", "url")
# OpenAI clients send these values whether or not a model has the parameter
# (Open WebUI always sends n and size): they ask for nothing, so a model
# without the parameter is not refused for them.
NEUTRAL_VALUES = {
    "n": {"1"},
    "size": {"auto"},
    "quality": {"auto"},
    "background": {"auto"},
    "output_format": {"png"},
    "moderation": {"auto"},
}
# Accepted for compatibility and not passed on: OpenAI's end-user id and
# moderation level, and the streaming switches Darkroom does not stream.
IGNORED_FIELDS = {"user", "moderation", "stream", "partial_images"}


@dataclass
class ImageUpload:
    name: str
    data: bytes
    # A Darkroom result the client passed back by its signed URL.
    stored_image_id: str | None = None


@dataclass
class ApiRequest:
    mode: str  # "edit" or "generate"
    prompt: str
    model: str
    parameters: dict[str, str] = field(default_factory=dict)
    images: list[ImageUpload] = field(default_factory=list)
    mask: ImageUpload | None = None
    response_format: str = "b64_json"
    respond_async: bool = False
    parent: str = ""

    def fingerprint(self) -> str:
        """A hash of everything that decides the job, to tell a retried request
        from a different one sent with the same Idempotency-Key."""
        digest = hashlib.sha256()
        head = {
            "mode": self.mode,
            "prompt": self.prompt,
            "model": self.model,
            "parameters": self.parameters,
            "parent": self.parent,
        }
        digest.update(json.dumps(head, sort_keys=True).encode())
        sent: list[ImageUpload | None] = [*self.images, self.mask]
        for image in sent:
            if image is None:
                digest.update(b"|mask:none")
                continue
            digest.update(b"|" + (image.stored_image_id or "").encode() + b":")
            digest.update(hashlib.sha256(image.data).digest())
        return digest.hexdigest()


def read_request(request: HttpRequest, *, mode: str) -> ApiRequest:
    content_type = request.content_type or ""
    if content_type == "multipart/form-data" and mode == "edit":
        return _from_multipart(request)
    if content_type == "application/json":
        return _from_json(request, mode=mode)
    expected = "multipart/form-data or application/json" if mode == "edit" else "application/json"
    raise ApiError(
        400,
        f"Send the request as {expected} (it came as {content_type or 'no content type'}).",
        code="unsupported_content_type",
    )


def _from_multipart(request: HttpRequest) -> ApiRequest:
    data, files = request.POST, request.FILES  # reading may stop at a file over the limit
    refused = uploads.refused_upload(request)
    if refused is not None:
        raise ApiError(413, str(refused), code="file_too_large", param="image")
    uploads_sent = [*files.getlist("image"), *files.getlist("image[]")]
    values = {name: data.get(name, "") for name in data}
    for name in ("image", "image[]", "mask"):
        if name in data:
            raise ApiError(400, f"“{name}” must be a file, not a text field.", param=name)
    masks = files.getlist("mask")
    if len(masks) > 1:
        raise ApiError(400, "Send at most one mask.", param="mask")
    return _api_request(
        values,
        mode="edit",
        images=[_upload(item) for item in uploads_sent],
        mask=_upload(masks[0]) if masks else None,
    )


def _upload(upload: UploadedFile) -> ImageUpload:
    # The per-file limit was enforced while reading (webapp/uploads.py).
    return ImageUpload(name=upload.name or "image", data=upload.read())


def _from_json(request: HttpRequest, *, mode: str) -> ApiRequest:
    # Read from the stream: request.body would refuse a JSON body of several
    # images as data URLs (DATA_UPLOAD_MAX_MEMORY_SIZE is for form fields);
    # the request size middleware has capped the body already.
    try:
        body = json.loads(request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    values = {
        name: _text(name, value)
        for name, value in body.items()
        if name not in ("images", "image", "mask")
    }
    images: list[ImageUpload] = []
    mask = None
    if mode == "edit":
        sent = body.get("images", body.get("image"))
        if sent is None:
            sent = []
        if not isinstance(sent, list):
            sent = [sent]
        images = [
            _from_reference(item, f"image {position + 1}") for position, item in enumerate(sent)
        ]
        if body.get("mask") is not None:
            mask = _from_reference(body["mask"], "mask")
    elif any(name in body for name in ("images", "image", "mask")):
        raise ApiError(
            400,
            "Generations take no images; send them to /v1/images/edits.",
            param="images",
        )
    return _api_request(values, mode=mode, images=images, mask=mask)


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if value is None:
        return ""
    raise ApiError(400, f"“{name}” must be a string or a number.", param=name)


def _from_reference(item: Any, what: str) -> ImageUpload:
    """An image sent as a data URL, ``{"image_url": ...}``, or a Darkroom result URL."""
    url = item.get("image_url") if isinstance(item, dict) else item
    if isinstance(url, dict):  # {"image_url": {"url": ...}} as in chat messages
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise ApiError(
            400,
            f'{what.capitalize()} must be a data URL or {{"image_url": ...}}.',
            param="images",
        )
    if url.startswith("data:"):
        return ImageUpload(name=what, data=_data_url_bytes(url, what))
    image_id = answers.image_id_from_url(url)
    if image_id is None:
        raise ApiError(
            400,
            f"{what.capitalize()}: Darkroom takes images as data URLs or as the result URLs "
            "it gave you; it does not fetch other addresses.",
            param="images",
        )
    return ImageUpload(name=what, data=b"", stored_image_id=image_id)


def _data_url_bytes(url: str, what: str) -> bytes:
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise ApiError(400, f"{what.capitalize()}: the data URL must be base64.", param="images")
    # A quick bound before decoding: base64 is 4/3 of the bytes.
    if len(payload) > settings.DARKROOM_MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise ApiError(
            413,
            f"{what.capitalize()} is larger than the most Darkroom takes for one image.",
            code="file_too_large",
            param="images",
        )
    try:
        return pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, f"{what.capitalize()}: the data URL is not valid base64.", param="images"
        ) from None


def _api_request(
    values: dict[str, str], *, mode: str, images: list[ImageUpload], mask: ImageUpload | None
) -> ApiRequest:
    response_format = values.get("response_format") or "b64_json"
    if response_format not in RESPONSE_FORMATS:
        raise ApiError(
            400,
            f"response_format must be b64_json or url, not “{response_format}”.",
            param="response_format",
        )
    parameters = {
        name: value
        for name, value in values.items()
        if name in PARAMETERS and value != "" and name not in IGNORED_FIELDS
    }
    return ApiRequest(
        mode=mode,
        prompt=values.get("prompt", ""),
        model=values.get("model", ""),
        parameters=parameters,
        images=images,
        mask=mask,
        response_format=response_format,
        respond_async=values.get("darkroom_async", "").lower() in ("true", "1", "yes"),
        parent=values.get("darkroom_parent", ""),
    )


def job_form(*, api_request: ApiRequest, image_model: ImageModel, user: Any) -> JobForm:
    """The editor's form, bound to what the API request sent."""
    data = QueryDict(mutable=True)
    data["prompt"] = api_request.prompt
    data["image_model"] = str(image_model.pk)
    if api_request.parent:
        data["parent"] = api_request.parent
    for name, value in api_request.parameters.items():
        if name not in image_model.parameters and value.lower() in NEUTRAL_VALUES.get(name, ()):
            continue
        data[name] = value
    files: MultiValueDict[str, UploadedFile] = MultiValueDict()
    order = []
    for image in api_request.images:
        if image.stored_image_id:
            data.appendlist("source_image", image.stored_image_id)
            order.append(image.stored_image_id)
        else:
            files.appendlist("images", SimpleUploadedFile(image.name, image.data))
            order.append("upload")
    data["image_order"] = ",".join(order)
    if api_request.mask is not None:
        if api_request.mask.stored_image_id:
            raise ApiError(400, "Send the mask itself, as a file or a data URL.", param="mask")
        files["mask"] = SimpleUploadedFile(api_request.mask.name, api_request.mask.data)
    # Looked up as this user already (lookup.model_lookup): not read again.
    return JobForm(data, files, user=user, image_model=image_model)


# The form's field names, as the API calls them.
API_PARAM_NAMES = {
    "images": "image",
    "source_image": "image",
    "image_order": "image",
    "image_model": "model",
    "parent": "darkroom_parent",
    "__all__": None,
}


def form_error(form: JobForm) -> ApiError:
    """The form's first problem (and any others) as one 400 in OpenAI's shape."""
    messages: list[str] = []
    param: str | None = None
    for name, errors in form.errors.items():
        if param is None and name != "__all__":
            param = API_PARAM_NAMES.get(name, name)
        messages.extend(str(message) for message in errors)
    return ApiError(400, " ".join(messages) or "The request could not be used.", param=param)
