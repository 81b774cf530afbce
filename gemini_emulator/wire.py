"""The generateContent wire format: request checks, error bodies and usage counts.

Requests use proto3 JSON, so every key is accepted in camelCase and in
snake_case (google-genai 3.x mixes both, for example `inlineData.mime_type`).
Image data may be standard or URL-safe base64, with or without padding.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from gemini_emulator import catalog

ALLOWED_IMAGE_MIME_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
)

# Keywords of Google's OpenAPI subset for `responseSchema`. Anything else is
# rejected like the real API does, for example `additionalProperties` or `$ref`.
RESPONSE_SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "property_ordering",
        "default",
        "items",
        "minimum",
        "maximum",
        "max_items",
        "min_items",
        "any_of",
        "min_length",
        "max_length",
    }
)

# Tokens billed per image. Gemini 3 bills by media resolution: LOW 280,
# MEDIUM 560 and HIGH 1120, which is the default for images. Earlier models
# bill a flat 258, or 64 at LOW.
# NOTE: the figures come from Google's media resolution guide and a third-party
# summary. The emulator ignores per-part `mediaResolution`.
_GEMINI_3_IMAGE_TOKENS = {
    "MEDIA_RESOLUTION_LOW": 280,
    "MEDIA_RESOLUTION_MEDIUM": 560,
    "MEDIA_RESOLUTION_HIGH": 1120,
    "MEDIA_RESOLUTION_ULTRA_HIGH": 2240,
}
_GEMINI_3_DEFAULT_IMAGE_TOKENS = 1120
_LEGACY_IMAGE_TOKENS = {"MEDIA_RESOLUTION_LOW": 64}
_LEGACY_DEFAULT_IMAGE_TOKENS = 258

# Emulated thinking cost per `thinkingLevel`. It is an estimate, since real counts vary.
_THOUGHT_TOKENS = {
    "MINIMAL": 24,
    "LOW": 180,
    "MEDIUM": 620,
    "HIGH": 1480,
    "XHIGH": 2600,
}
_DEFAULT_THOUGHT_TOKENS = 180

_SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)


class RequestRejectedError(Exception):
    """A request the real API would reject, with the Google error it would send."""

    def __init__(
        self,
        code: int,
        status: str,
        message: str,
        *,
        reason: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        # Short label for the request log and the request record.
        self.reason = reason
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return google_error(self.code, self.status, self.message, self.details)


def invalid_argument(message: str, reason: str) -> RequestRejectedError:
    return RequestRejectedError(400, "INVALID_ARGUMENT", message, reason=reason)


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Build Google's error body `{"error": {code, message, status, details}}`."""
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": list(details or []),
        }
    }


def get_field(obj: Any, camel: str, snake: str) -> Any:
    """Return `obj[camel]`, else `obj[snake]`, else None, for proto3 JSON objects."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    return obj.get(snake)


@dataclass
class InspectedRequest:
    """Contents of a generateContent body, collected before any check fails.

    The emulator records these fields even for a request it rejects, so a test
    can see what the client sent.
    """

    image: bytes | None = None
    mime_type: str | None = None
    image_part_count: int = 0
    prompt_text: str = ""
    system_text: str = ""
    generation_config: dict[str, Any] = field(default_factory=dict)
    problems: list[RequestRejectedError] = field(default_factory=list)

    def reject(self, message: str, reason: str) -> None:
        self.problems.append(invalid_argument(message, reason))


def inspect_request(raw_body: bytes) -> InspectedRequest:
    """Parse a generateContent body and list every problem a real call would hit.

    Raises RequestRejectedError only when the body is not a JSON object at all.
    The product needs exactly one inline image and a text prompt per call,
    so the emulator also rejects requests that break that contract.
    """
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid_argument(
            f"Invalid JSON payload received. {error}", "invalid_json_body"
        ) from None
    if not isinstance(body, dict):
        raise invalid_argument(
            "Invalid JSON payload received. Expected a JSON object, got "
            f"{type(body).__name__}.",
            "invalid_json_body",
        )

    inspected = InspectedRequest()
    config = get_field(body, "generationConfig", "generation_config")
    if isinstance(config, dict):
        inspected.generation_config = config
    elif config is not None:
        inspected.reject("generationConfig must be a JSON object.", "bad_config")

    system = get_field(body, "systemInstruction", "system_instruction")
    inspected.system_text = _collect_text(
        system.get("parts") if isinstance(system, dict) else None
    )

    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        inspected.reject(
            "* GenerateContentRequest.contents: contents is not specified",
            "missing_contents",
        )
    else:
        _inspect_contents(contents, inspected)
    _inspect_generation_config(inspected)
    return inspected


def _collect_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    texts = [
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    ]
    return "\n".join(texts)


def _inspect_contents(contents: list[Any], inspected: InspectedRequest) -> None:
    texts: list[str] = []
    for content_index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            inspected.reject(
                f"* GenerateContentRequest.contents[{content_index}].parts: "
                "contents.parts must not be empty.",
                "empty_parts",
            )
            continue
        for part_index, part in enumerate(parts):
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            inline = get_field(part, "inlineData", "inline_data")
            if inline is not None:
                where = f"contents[{content_index}].parts[{part_index}].inline_data"
                _inspect_inline_data(inline, where, inspected)
            elif get_field(part, "fileData", "file_data") is not None:
                inspected.reject(
                    "The emulator supports inline image data only; fileData parts "
                    "are not emulated. Send the photo as inlineData.",
                    "file_data_part",
                )

    inspected.prompt_text = "\n".join(texts)
    if inspected.image_part_count != 1:
        inspected.reject(
            "Expected exactly one inlineData image part in contents, found "
            f"{inspected.image_part_count}.",
            "image_count",
        )
    if not inspected.prompt_text.strip():
        inspected.reject(
            "Expected a non-empty text part with the prompt in contents, found none.",
            "missing_prompt",
        )


def _inspect_inline_data(inline: Any, where: str, inspected: InspectedRequest) -> None:
    inspected.image_part_count += 1
    if not isinstance(inline, dict):
        inspected.reject(
            f"Invalid value at '{where}': expected an object.", "bad_image"
        )
        return
    mime_type = get_field(inline, "mimeType", "mime_type")
    data = inline.get("data")
    inspected.mime_type = mime_type if isinstance(mime_type, str) else None
    if mime_type not in ALLOWED_IMAGE_MIME_TYPES:
        inspected.reject(
            f"Unsupported MIME type: {mime_type!r} at '{where}.mime_type'. Expected "
            f"one of {', '.join(sorted(ALLOWED_IMAGE_MIME_TYPES))}.",
            "unsupported_mime_type",
        )
    if not isinstance(data, str):
        inspected.reject(
            f"Invalid value at '{where}.data' (TYPE_BYTES): expected a base64 string.",
            "bad_image_data",
        )
        return
    image = decode_base64(data)
    if image is None:
        inspected.reject(
            f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed "
            f"for {data[:40]!r}.",
            "bad_image_data",
        )
        return
    if not image:
        inspected.reject(
            f"Invalid value at '{where}.data': image data is empty.", "empty_image"
        )
    inspected.image = image


def decode_base64(data: str) -> bytes | None:
    """Decode standard or URL-safe base64, padded or not, or return None if invalid."""
    normalized = data.strip().replace("-", "+").replace("_", "/").rstrip("=")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        return None


def _inspect_generation_config(inspected: InspectedRequest) -> None:
    config = inspected.generation_config
    mime_type = get_field(config, "responseMimeType", "response_mime_type")
    json_schema = get_field(config, "responseJsonSchema", "response_json_schema")
    openapi_schema = get_field(config, "responseSchema", "response_schema")

    if mime_type != "application/json":
        inspected.reject(
            "generationConfig.responseMimeType must be 'application/json' for this "
            f"product (JSON mode), got {mime_type!r}.",
            "json_mode_off",
        )
    if json_schema is not None and openapi_schema is not None:
        inspected.reject(
            "generationConfig.responseJsonSchema and generationConfig.responseSchema "
            "cannot both be set. Send only one of them.",
            "both_schemas",
        )
    elif json_schema is None and openapi_schema is None:
        inspected.reject(
            "generationConfig needs a response schema: set responseJsonSchema or "
            "responseSchema along with responseMimeType 'application/json'.",
            "missing_schema",
        )
    elif openapi_schema is not None:
        unknown = _unknown_schema_keyword(
            openapi_schema, "generation_config.response_schema"
        )
        if unknown is not None:
            keyword, where = unknown
            inspected.reject(
                f'Invalid JSON payload received. Unknown name "{keyword}" at '
                f"'{where}': Cannot find field.",
                "bad_response_schema",
            )


def _unknown_schema_keyword(schema: Any, where: str) -> tuple[str, str] | None:
    if not isinstance(schema, dict):
        return None
    for keyword, value in schema.items():
        if keyword not in RESPONSE_SCHEMA_KEYWORDS:
            return keyword, where
        if keyword == "properties" and isinstance(value, dict):
            for name, child in value.items():
                found = _unknown_schema_keyword(
                    child, f"{where}.properties[{name!r}].value"
                )
                if found:
                    return found
        elif keyword == "items":
            found = _unknown_schema_keyword(value, f"{where}.items")
            if found:
                return found
        elif keyword in ("anyOf", "any_of") and isinstance(value, list):
            for index, child in enumerate(value):
                found = _unknown_schema_keyword(child, f"{where}.any_of[{index}]")
                if found:
                    return found
    return None


def _text_tokens(text: str) -> int:
    # Roughly four characters per token, the rule of thumb Google documents.
    return math.ceil(len(text) / 4) if text else 0


def image_tokens(model_version: str, generation_config: dict[str, Any]) -> int:
    """Estimate the tokens billed for one image under the request's media resolution."""
    resolution = get_field(generation_config, "mediaResolution", "media_resolution")
    if catalog.is_gemini_3(model_version):
        return _GEMINI_3_IMAGE_TOKENS.get(resolution, _GEMINI_3_DEFAULT_IMAGE_TOKENS)
    return _LEGACY_IMAGE_TOKENS.get(resolution, _LEGACY_DEFAULT_IMAGE_TOKENS)


def thought_tokens(generation_config: dict[str, Any]) -> int:
    """Estimate thinking tokens, which are zero unless a thinkingConfig is sent."""
    thinking = get_field(generation_config, "thinkingConfig", "thinking_config")
    if not isinstance(thinking, dict):
        return 0
    budget = get_field(thinking, "thinkingBudget", "thinking_budget")
    if isinstance(budget, int) and budget >= 0:
        return min(budget, 400)
    level = get_field(thinking, "thinkingLevel", "thinking_level")
    return _THOUGHT_TOKENS.get(level, _DEFAULT_THOUGHT_TOKENS)


def usage_metadata(
    request: InspectedRequest,
    model_version: str,
    *,
    candidates_tokens: int | None,
    thoughts: bool,
) -> dict[str, Any]:
    """Build `usageMetadata`. `candidates_tokens` None means no candidate exists."""
    text_tokens = _text_tokens(request.prompt_text) + _text_tokens(request.system_text)
    picture_tokens = image_tokens(model_version, request.generation_config)
    prompt_tokens = text_tokens + picture_tokens
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "totalTokenCount": prompt_tokens,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": text_tokens},
            {"modality": "IMAGE", "tokenCount": picture_tokens},
        ],
    }
    if candidates_tokens is None:
        return usage
    usage["candidatesTokenCount"] = candidates_tokens
    usage["totalTokenCount"] += candidates_tokens
    if thoughts:
        thinking = thought_tokens(request.generation_config)
        if thinking:
            usage["thoughtsTokenCount"] = thinking
            usage["totalTokenCount"] += thinking
    return usage


def count_output_tokens(text: str) -> int:
    return _text_tokens(text)


def safety_ratings(blocked_category: str | None = None) -> list[dict[str, Any]]:
    """Build safetyRatings with every category NEGLIGIBLE except the blocked one."""
    ratings = []
    for category in _SAFETY_CATEGORIES:
        rating: dict[str, Any] = {"category": category, "probability": "NEGLIGIBLE"}
        if category == blocked_category:
            rating = {"category": category, "probability": "HIGH", "blocked": True}
        ratings.append(rating)
    return ratings


def new_response_id() -> str:
    """Return an opaque id shaped like a real `responseId`: 22 URL-safe characters."""
    return secrets.token_urlsafe(16)[:22]
