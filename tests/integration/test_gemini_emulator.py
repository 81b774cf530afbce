"""Integration tests of the Gemini emulator, driven through the real google-genai SDK.

Every call goes over HTTP to an emulator on 127.0.0.1 with a free port, so the
tests check what google-genai returns or raises to a worker: exception classes,
`.code`, `.text`, finish and block reasons, usage metadata and timeouts.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image
from pydantic import ValidationError

from gemini_emulator import (
    PLANT_NAMES,
    EmulatorControl,
    EmulatorControlError,
    EmulatorHandle,
    ScriptError,
    canned_plants,
    start_emulator,
)
from gemini_emulator.catalog import CURRENT_MODELS
from gemini_emulator.plants import plant_name_for_image
from shared.plant_data import AIPlantData, ModelReply, build_response_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "gemini-3.5-flash-lite"
PROMPT = "Identify the plant in this photo and return its care profile as JSON."
API_KEY = "test-key"
TIMEOUT_MS = 10_000


def make_jpeg(color: tuple[int, int, int] = (40, 140, 60)) -> bytes:
    """Encode a small real JPEG with a gradient, so it is not a trivial image."""
    image = Image.new("RGB", (64, 48), color)
    for x in range(64):
        image.putpixel((x, x % 48), (x * 4, 200, 255 - x * 4))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


JPEG = make_jpeg()


def json_mode_config(**overrides: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_mime_type="application/json",
        response_json_schema=build_response_schema(),
        **overrides,
    )


def make_client(
    emulator: EmulatorHandle,
    *,
    api_key: str = API_KEY,
    api_version: str = "v1beta",
    timeout_ms: int = TIMEOUT_MS,
) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=emulator.base_url, api_version=api_version, timeout=timeout_ms
        ),
    )


def generate(
    client: genai.Client,
    *,
    model: str = MODEL,
    contents: list[Any] | None = None,
    config: types.GenerateContentConfig | None = None,
) -> types.GenerateContentResponse:
    if contents is None:
        contents = [types.Part.from_bytes(data=JPEG, mime_type="image/jpeg"), PROMPT]
    return client.models.generate_content(
        model=model,
        contents=contents,
        config=config if config is not None else json_mode_config(),
    )


def raw_request_body(image_data: str, **config_overrides: Any) -> dict[str, Any]:
    """Build a camelCase generateContent body with the given base64 image data."""
    return {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "image/jpeg", "data": image_data}},
                    {"text": PROMPT},
                ],
            }
        ],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": build_response_schema(),
            **config_overrides,
        },
    }


def post_json(
    emulator: EmulatorHandle,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body with http.client and return (status, decoded JSON body)."""
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[EmulatorHandle]:
    handle = start_emulator("127.0.0.1", 0)
    yield handle
    handle.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorHandle) -> EmulatorHandle:
    emulator_server.reset()
    return emulator_server


@pytest.fixture(scope="module")
def client(emulator_server: EmulatorHandle) -> genai.Client:
    return make_client(emulator_server)


# Success responses


def test_success_reply_validates(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    response = generate(client)

    reply = ModelReply.model_validate_json(response.text)
    assert reply.is_plant is True
    assert reply.plant is not None
    assert reply.plant.scientific_name == plant_name_for_image(JPEG)
    assert 0.5 < reply.confidence <= 1
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.candidates[0].index == 0
    assert response.candidates[0].safety_ratings
    assert response.model_version == MODEL
    assert response.response_id


def test_success_usage_metadata(emulator: EmulatorHandle, client: genai.Client) -> None:
    response = generate(client)

    usage = response.usage_metadata
    assert usage is not None
    by_modality = {d.modality: d.token_count for d in usage.prompt_tokens_details}
    # Gemini 3 bills an image at its default HIGH media resolution.
    assert by_modality[types.MediaModality.IMAGE] == 1120
    assert by_modality[types.MediaModality.TEXT] == -(-len(PROMPT) // 4)
    assert usage.prompt_token_count == 1120 + by_modality[types.MediaModality.TEXT]
    assert usage.candidates_token_count == -(-len(response.text) // 4)
    assert usage.thoughts_token_count is None
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count
    )


def test_usage_follows_resolution_and_thinking(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    config = json_mode_config(
        media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW,
        thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW),
    )
    response = generate(client, config=config)

    usage = response.usage_metadata
    by_modality = {d.modality: d.token_count for d in usage.prompt_tokens_details}
    assert by_modality[types.MediaModality.IMAGE] == 280
    assert usage.thoughts_token_count is not None
    assert usage.thoughts_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count
        + usage.candidates_token_count
        + usage.thoughts_token_count
    )


def test_usage_gemini_25_image_tokens(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    response = generate(client, model="gemini-2.5-flash-lite")

    by_modality = {
        d.modality: d.token_count for d in response.usage_metadata.prompt_tokens_details
    }
    assert by_modality[types.MediaModality.IMAGE] == 258


def test_plant_choice_is_deterministic(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    chosen = set()
    for color in [(10, 200, 30), (200, 10, 30), (30, 30, 200), (90, 90, 90)]:
        image = make_jpeg(color)
        contents = [types.Part.from_bytes(data=image, mime_type="image/jpeg"), PROMPT]
        first = ModelReply.model_validate_json(generate(client, contents=contents).text)
        second = ModelReply.model_validate_json(
            generate(client, contents=contents).text
        )
        assert first.plant.scientific_name == plant_name_for_image(image)
        assert second.plant.scientific_name == first.plant.scientific_name
        chosen.add(first.plant.scientific_name)
    assert chosen <= set(PLANT_NAMES)


@pytest.mark.parametrize("plant", canned_plants(), ids=lambda p: p["scientific_name"])
def test_canned_plant_validates(plant: dict[str, Any]) -> None:
    AIPlantData.model_validate(plant)


def test_canned_plants_are_distinct() -> None:
    names = [plant["scientific_name"] for plant in canned_plants()]
    assert len(names) >= 8
    assert len(set(names)) == len(names)


def test_ok_with_forced_plant(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script({"kind": "ok", "plant": "Aloe vera", "confidence": 0.55})

    reply = ModelReply.model_validate_json(generate(client).text)

    assert reply.plant.scientific_name == "Aloe vera"
    assert reply.confidence == 0.55


def test_not_a_plant(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script("not_a_plant")

    reply = ModelReply.model_validate_json(generate(client).text)

    assert reply.is_plant is False
    assert reply.plant is None
    assert reply.confidence < 0.2


@pytest.mark.parametrize(
    "model",
    sorted(CURRENT_MODELS | {"gemini-flash-latest", "gemini-flash-lite-latest"}),
)
def test_current_model_accepted(
    emulator: EmulatorHandle, client: genai.Client, model: str
) -> None:
    response = generate(client, model=model)

    ModelReply.model_validate_json(response.text)
    assert response.model_version in CURRENT_MODELS


def test_models_prefix_accepted(emulator: EmulatorHandle, client: genai.Client) -> None:
    response = generate(client, model="models/gemini-3.6-flash")

    assert response.model_version == "gemini-3.6-flash"
    assert emulator.requests()[-1].model == "gemini-3.6-flash"


# Scripted HTTP errors


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        (400, "INVALID_ARGUMENT", errors.ClientError),
        (401, "UNAUTHENTICATED", errors.ClientError),
        (403, "PERMISSION_DENIED", errors.ClientError),
        (404, "NOT_FOUND", errors.ClientError),
        (500, "INTERNAL", errors.ServerError),
        (502, "UNAVAILABLE", errors.ServerError),
        (503, "UNAVAILABLE", errors.ServerError),
        (504, "DEADLINE_EXCEEDED", errors.ServerError),
    ],
)
def test_http_error_raises_sdk_error(
    emulator: EmulatorHandle,
    client: genai.Client,
    code: int,
    status: str,
    error_class: type[errors.APIError],
) -> None:
    emulator.script({"kind": "http_error", "code": code})

    with pytest.raises(error_class) as caught:
        generate(client)

    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.message


def test_http_error_custom_message(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script(
        {"kind": "http_error", "code": 500, "status": "INTERNAL", "message": "boom"}
    )

    with pytest.raises(errors.ServerError) as caught:
        generate(client)

    assert caught.value.message == "boom"


def _details_by_type(error: errors.APIError) -> dict[str, dict[str, Any]]:
    # google-genai puts the whole error body in `.details`.
    details = error.details["error"]["details"]
    return {detail["@type"].rsplit(".", 1)[-1]: detail for detail in details}


@pytest.mark.parametrize("retry_delay", ["37.5s", "0.8s", "45.837906927s"])
def test_rate_limited_carries_retry_info(
    emulator: EmulatorHandle, client: genai.Client, retry_delay: str
) -> None:
    emulator.script({"kind": "rate_limited", "retry_delay": retry_delay})

    with pytest.raises(errors.ClientError) as caught:
        generate(client)

    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    details = _details_by_type(caught.value)
    assert details["RetryInfo"]["retryDelay"] == retry_delay
    violation = details["QuotaFailure"]["violations"][0]
    assert (
        violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    )
    assert violation["quotaDimensions"]["model"] == MODEL
    assert violation["quotaValue"] == "10"
    assert details["Help"]["links"]


def test_daily_quota_names_per_day(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script({"kind": "daily_quota", "quota_value": "0"})

    with pytest.raises(errors.ClientError) as caught:
        generate(client)

    assert caught.value.code == 429
    details = _details_by_type(caught.value)
    violation = details["QuotaFailure"]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    assert violation["quotaValue"] == "0"
    assert details["RetryInfo"]["retryDelay"].endswith("s")


# Scripted bad output


def test_fenced_json_needs_unwrapping(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("fenced_json")

    text = generate(client).text

    assert text.startswith("```json\n")
    assert text.endswith("\n```")
    with pytest.raises(ValidationError):
        ModelReply.model_validate_json(text)
    inner = text.removeprefix("```json\n").removesuffix("\n```")
    ModelReply.model_validate_json(inner)


def test_truncated_reports_max_tokens(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("truncated")

    response = generate(client, config=json_mode_config(max_output_tokens=64))

    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert '"description": "' in response.text
    assert response.usage_metadata.candidates_token_count == 64
    with pytest.raises(ValidationError):
        ModelReply.model_validate_json(response.text)
    with pytest.raises(json.JSONDecodeError, match="Unterminated string"):
        json.loads(response.text)


def test_invalid_json_fails_parsing(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("invalid_json")

    response = generate(client)

    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("lowercase_enum", lambda plant: plant["care_level"].islower()),
        ("missing_soil", lambda plant: "soil" not in plant),
        ("ph_level_string", lambda plant: plant["soil"]["ph_level"] == "6-7"),
        (
            "min_above_max",
            lambda plant: (
                plant["environment"]["min_temp_celsius"]
                > plant["environment"]["max_temp_celsius"]
            ),
        ),
        ("extra_key", lambda plant: set(plant) - set(AIPlantData.model_fields)),
        (
            "zero_watering_days",
            lambda plant: plant["watering"]["frequency_summer_days"] == 0,
        ),
    ],
)
def test_schema_violation_variants(
    emulator: EmulatorHandle, client: genai.Client, variant: str, check: Any
) -> None:
    emulator.script({"kind": "schema_violation", "variant": variant})

    text = generate(client).text

    parsed = json.loads(text)
    assert check(parsed["plant"])
    with pytest.raises(ValidationError):
        ModelReply.model_validate_json(text)


def test_nul_in_description(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script("nul_in_text")

    text = generate(client).text

    assert "\\u0000" in text
    assert "\x00" in json.loads(text)["plant"]["description"]


def test_lone_surrogate_in_description(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("lone_surrogate")

    text = generate(client).text

    assert "\\ud800" in text
    assert "\ud800" in json.loads(text)["plant"]["description"]


def test_text_entry_returns_exact_text(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script({"kind": "text", "text": "Here you go:\n```\n{}\n```"})

    assert generate(client).text == "Here you go:\n```\n{}\n```"


# Scripted missing output


@pytest.mark.parametrize("block_reason", ["SAFETY", "PROHIBITED_CONTENT", "OTHER"])
def test_blocked_prompt_has_no_text(
    emulator: EmulatorHandle, client: genai.Client, block_reason: str
) -> None:
    emulator.script({"kind": "blocked_prompt", "block_reason": block_reason})

    response = generate(client)

    assert response.text is None
    assert response.candidates is None
    assert response.prompt_feedback.block_reason == types.BlockedReason(block_reason)
    assert response.usage_metadata.prompt_token_count > 0


@pytest.mark.parametrize(
    "finish_reason", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "OTHER"]
)
def test_finish_reason_without_content(
    emulator: EmulatorHandle, client: genai.Client, finish_reason: str
) -> None:
    emulator.script({"kind": "finish_reason", "finish_reason": finish_reason})

    response = generate(client)

    assert response.text is None
    assert response.candidates[0].finish_reason == types.FinishReason(finish_reason)
    assert response.candidates[0].content is None
    assert response.prompt_feedback is None


def test_empty_candidates(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script("empty_candidates")

    response = generate(client)

    assert response.text is None
    assert response.candidates == []
    assert response.prompt_feedback is None


def test_stop_with_no_parts(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script("stop_empty")

    response = generate(client)

    assert response.text is None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.candidates[0].content.parts is None


def test_stop_with_empty_text(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script("stop_empty_text")

    response = generate(client)

    # google-genai 3.6.1 returns "" here, not None as for a missing part.
    assert response.text == ""
    assert response.candidates[0].finish_reason == types.FinishReason.STOP


def test_raw_entry_json_body(emulator: EmulatorHandle, client: genai.Client) -> None:
    body = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "raw text"}]},
                "finishReason": "LANGUAGE",
                "index": 0,
            }
        ]
    }
    emulator.script({"kind": "raw", "status": 200, "body": body})

    response = generate(client)

    assert response.text == "raw text"
    assert response.candidates[0].finish_reason == types.FinishReason.LANGUAGE


def test_raw_entry_html_error(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.script(
        {"kind": "raw", "status": 502, "body": "<html><body>Bad Gateway</body></html>"}
    )

    with pytest.raises(errors.ServerError) as caught:
        generate(client)

    assert caught.value.code == 502


# Transport faults


def test_default_delay_slows_response(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.set_delay(0.3)

    started = time.monotonic()
    generate(client)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    record = emulator.requests()[-1]
    assert record.responded_monotonic - record.received_monotonic >= 0.3


def test_entry_delay_overrides_default(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.set_delay(30)
    emulator.script({"kind": "ok", "delay_s": 0})

    started = time.monotonic()
    generate(client)

    assert time.monotonic() - started < 10


def test_hang_hits_client_timeout(emulator: EmulatorHandle) -> None:
    emulator.script({"kind": "hang", "delay_s": 60})
    impatient = make_client(emulator, timeout_ms=300)

    started = time.monotonic()
    with pytest.raises(httpx2.TimeoutException):
        generate(impatient)

    assert time.monotonic() - started < 10
    assert emulator.requests()[-1].status is None


def test_disconnect_raises_transport_error(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("disconnect")

    with pytest.raises(httpx2.TransportError):
        generate(client)

    assert emulator.requests()[-1].fault == "disconnect"
    # The next call on the same client gets a normal response.
    ModelReply.model_validate_json(generate(client).text)


# Request checks


def test_missing_api_key_is_403(emulator: EmulatorHandle) -> None:
    status, body = post_json(
        emulator, f"/v1beta/models/{MODEL}:generateContent", raw_request_body("AA")
    )

    assert status == 403
    assert body["error"]["code"] == 403
    assert body["error"]["status"] == "PERMISSION_DENIED"
    assert emulator.requests()[-1].fault == "missing_api_key"


def test_key_query_parameter_accepted(emulator: EmulatorHandle) -> None:
    data = base64.b64encode(JPEG).decode()
    status, body = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent?key={API_KEY}",
        raw_request_body(data),
    )

    assert status == 200
    ModelReply.model_validate_json(body["candidates"][0]["content"]["parts"][0]["text"])


def test_wrong_api_key_is_400(emulator: EmulatorHandle, client: genai.Client) -> None:
    emulator.set_api_key("the-right-key")

    with pytest.raises(errors.ClientError) as caught:
        generate(client)

    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    assert _details_by_type(caught.value)["ErrorInfo"]["reason"] == "API_KEY_INVALID"
    right = make_client(emulator, api_key="the-right-key")
    ModelReply.model_validate_json(generate(right).text)


@pytest.mark.parametrize(
    "model",
    [
        "gemini-1.5-flash",
        "gemini-1.5-pro-002",
        "gemini-2.0-flash",
        "gemini-2.0-flash-lite-001",
        "gemini-2.5-flash",
        "gemini-9-ultra",
    ],
)
def test_retired_or_unknown_model_is_404(
    emulator: EmulatorHandle, client: genai.Client, model: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        generate(client, model=model)

    assert caught.value.code == 404
    assert caught.value.status == "NOT_FOUND"
    assert f"models/{model} is not found for API version v1beta" in caught.value.message


def test_latest_alias_is_404_on_v1(emulator: EmulatorHandle) -> None:
    v1_client = make_client(emulator, api_version="v1")

    with pytest.raises(errors.ClientError) as caught:
        generate(v1_client, model="gemini-flash-latest")

    assert caught.value.code == 404
    assert "API version v1," in caught.value.message
    assert generate(v1_client, model=MODEL).text


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (types.GenerateContentConfig(), "responseMimeType"),
        (types.GenerateContentConfig(response_mime_type="text/plain"), "JSON mode"),
        (
            types.GenerateContentConfig(response_mime_type="application/json"),
            "response schema",
        ),
    ],
    ids=["no-config", "text-mime", "no-schema"],
)
def test_json_mode_required(
    emulator: EmulatorHandle,
    client: genai.Client,
    config: types.GenerateContentConfig,
    expected: str,
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        generate(client, config=config)

    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert expected in caught.value.message


def test_response_schema_also_accepted(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=build_response_schema()
    )

    ModelReply.model_validate_json(generate(client, config=config).text)


@pytest.mark.parametrize(
    ("contents", "expected"),
    [
        ([PROMPT], "found 0"),
        (
            [
                types.Part.from_bytes(data=JPEG, mime_type="image/jpeg"),
                types.Part.from_bytes(data=JPEG, mime_type="image/jpeg"),
                PROMPT,
            ],
            "found 2",
        ),
        ([types.Part.from_bytes(data=JPEG, mime_type="image/jpeg")], "text part"),
        (
            [types.Part.from_bytes(data=b"GIF89a", mime_type="image/gif"), PROMPT],
            "Unsupported MIME type: 'image/gif'",
        ),
        (
            [types.Part.from_bytes(data=b"", mime_type="image/jpeg"), PROMPT],
            "image data is empty",
        ),
    ],
    ids=["no-image", "two-images", "no-prompt", "gif", "empty-image"],
)
def test_bad_contents_are_400(
    emulator: EmulatorHandle, client: genai.Client, contents: list[Any], expected: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        generate(client, contents=contents)

    assert caught.value.code == 400
    assert expected in caught.value.message


@pytest.mark.parametrize(
    "encode",
    [
        lambda data: base64.b64encode(data).decode(),
        lambda data: base64.b64encode(data).decode().rstrip("="),
        lambda data: base64.urlsafe_b64encode(data).decode(),
        lambda data: base64.urlsafe_b64encode(data).decode().rstrip("="),
    ],
    ids=["standard", "standard-unpadded", "urlsafe", "urlsafe-unpadded"],
)
def test_base64_alphabets_accepted(emulator: EmulatorHandle, encode: Any) -> None:
    # Bytes that encode to '+' and '/' in standard base64, and '-' and '_'
    # in the URL-safe alphabet, so each alphabet is exercised.
    image = JPEG + b"\xfb\xff\xbf"
    status, body = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent",
        raw_request_body(encode(image)),
        {"x-goog-api-key": API_KEY},
    )

    assert status == 200, body
    assert emulator.requests()[-1].image_bytes == len(image)


def test_invalid_base64_is_400(emulator: EmulatorHandle) -> None:
    status, body = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent",
        raw_request_body("not*base64!"),
        {"x-goog-api-key": API_KEY},
    )

    assert status == 400
    assert "Base64 decoding failed" in body["error"]["message"]


def test_snake_case_body_accepted(emulator: EmulatorHandle) -> None:
    body = {
        "contents": [
            {
                "parts": [
                    {
                        "inline_data": {
                            "mime_type": "image/png",
                            "data": base64.b64encode(JPEG).decode(),
                        }
                    },
                    {"text": PROMPT},
                ]
            }
        ],
        "generation_config": {
            "response_mime_type": "application/json",
            "response_schema": {
                "type": "OBJECT",
                "properties": {"x": {"type": "STRING"}},
            },
            "media_resolution": "MEDIA_RESOLUTION_MEDIUM",
        },
    }
    status, answer = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent",
        body,
        {"x-goog-api-key": API_KEY},
    )

    assert status == 200, answer
    image_tokens = answer["usageMetadata"]["promptTokensDetails"][1]
    assert image_tokens == {"modality": "IMAGE", "tokenCount": 560}
    assert emulator.requests()[-1].mime_type == "image/png"


def test_both_schemas_are_400(emulator: EmulatorHandle) -> None:
    body = raw_request_body(
        base64.b64encode(JPEG).decode(), responseSchema={"type": "OBJECT"}
    )
    status, answer = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent",
        body,
        {"x-goog-api-key": API_KEY},
    )

    assert status == 400
    assert "cannot both be set" in answer["error"]["message"]


def test_response_schema_rejects_unknown_keyword(emulator: EmulatorHandle) -> None:
    body = raw_request_body(base64.b64encode(JPEG).decode())
    del body["generationConfig"]["responseJsonSchema"]
    body["generationConfig"]["responseSchema"] = {
        "type": "OBJECT",
        "properties": {"x": {"type": "STRING"}},
        "additionalProperties": False,
    }
    status, answer = post_json(
        emulator,
        f"/v1beta/models/{MODEL}:generateContent",
        body,
        {"x-goog-api-key": API_KEY},
    )

    assert status == 400
    assert '"additionalProperties"' in answer["error"]["message"]


def test_unknown_path_is_404(emulator: EmulatorHandle) -> None:
    status, body = post_json(emulator, "/v1beta/files", {})

    assert status == 404
    assert body["error"]["status"] == "NOT_FOUND"


# Script and records


def test_script_is_fifo_with_times(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script({"kind": "http_error", "code": 503, "times": 2}, "not_a_plant")
    assert emulator.pending_script()[0]["times"] == 2

    for _ in range(2):
        with pytest.raises(errors.ServerError):
            generate(client)
    not_plant = ModelReply.model_validate_json(generate(client).text)
    default = ModelReply.model_validate_json(generate(client).text)

    assert not_plant.is_plant is False
    assert default.is_plant is True
    assert [r.fault for r in emulator.requests()] == [
        "http_error",
        "http_error",
        "not_a_plant",
        "ok",
    ]
    assert emulator.pending_script() == []


def test_rejected_call_does_not_consume_script(
    emulator: EmulatorHandle, client: genai.Client
) -> None:
    emulator.script("not_a_plant")

    with pytest.raises(errors.ClientError):
        generate(client, model="gemini-2.5-flash")
    reply = ModelReply.model_validate_json(generate(client).text)

    assert reply.is_plant is False


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"kind": "explode"}, "unknown script entry kind 'explode'"),
        ({"kind": "http_error", "code": 200}, "code from 400 to 599"),
        ({"kind": "rate_limited", "retry_delay": "37.5"}, "protobuf Duration"),
        ({"kind": "ok", "plant": "Rosa canina"}, "not a canned plant"),
        ({"kind": "ok", "retry_delay": "1s"}, "unknown field(s) ['retry_delay']"),
        ({"kind": "ok", "times": 0}, "times must be an integer >= 1"),
        ({"kind": "ok", "delay_s": -1}, "delay_s must be"),
        ({"kind": "schema_violation", "variant": "bad"}, "variant 'bad' is unknown"),
        ({"kind": "finish_reason", "finish_reason": "DONE"}, "'DONE' is unknown"),
    ],
)
def test_invalid_script_entry_rejected(
    emulator: EmulatorHandle, entry: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        emulator.script("ok", entry)

    assert expected in str(caught.value)
    assert emulator.pending_script() == []


def test_requests_are_recorded(emulator: EmulatorHandle, client: genai.Client) -> None:
    before_wall = time.time()
    generate(client, config=json_mode_config(max_output_tokens=512))
    with pytest.raises(errors.ClientError):
        generate(client, contents=[PROMPT])

    ok_record, rejected_record = emulator.requests()
    assert ok_record.model == MODEL
    assert ok_record.api_version == "v1beta"
    assert ok_record.api_key_present is True
    assert ok_record.has_image is True
    assert ok_record.mime_type == "image/jpeg"
    assert ok_record.image_bytes == len(JPEG)
    assert ok_record.generation_config["responseMimeType"] == "application/json"
    assert ok_record.generation_config["maxOutputTokens"] == 512
    assert ok_record.status == 200
    assert ok_record.fault == "ok"
    assert before_wall - 1 <= ok_record.received_wall <= time.time()
    assert ok_record.responded_monotonic >= ok_record.received_monotonic
    assert rejected_record.seq == ok_record.seq + 1
    assert rejected_record.has_image is False
    assert rejected_record.status == 400
    assert rejected_record.fault == "image_count"


def test_many_concurrent_slow_requests(emulator: EmulatorHandle) -> None:
    emulator.set_delay(0.5)
    body = raw_request_body(base64.b64encode(JPEG).decode())
    path = f"/v1beta/models/{MODEL}:generateContent"

    def call(_: int) -> int:
        return post_json(emulator, path, body, {"x-goog-api-key": API_KEY})[0]

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=220) as pool:
        statuses = list(pool.map(call, range(220)))
    elapsed = time.monotonic() - started

    assert statuses == [200] * 220
    # Served one at a time this would take 110 s.
    assert elapsed < 10


# Separate process, scripted over the control API


def _read_line(stream: Any, timeout_s: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, f"no line on the emulator's stdout within {timeout_s} s"
    return stream.readline()


def test_subprocess_controlled_over_http() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gemini_emulator", "--port", "0", "--api-key", "pk"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process.stdout, 15)
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.split()[-1]
        control = EmulatorControl(base_url)
        assert control.health()["emulator"] is True

        assert control.script({"kind": "http_error", "code": 503, "times": 2}) == 2
        with pytest.raises(EmulatorControlError, match="unknown script entry kind"):
            control.script({"kind": "nope"})
        sdk = genai.Client(
            api_key="pk",
            http_options=types.HttpOptions(
                base_url=base_url, api_version="v1beta", timeout=TIMEOUT_MS
            ),
        )
        for _ in range(2):
            with pytest.raises(errors.ServerError) as caught:
                generate(sdk)
            assert caught.value.code == 503
        ModelReply.model_validate_json(generate(sdk).text)

        records = control.requests()
        assert [r.status for r in records] == [503, 503, 200]
        assert records[0].image_bytes == len(JPEG)

        control.set_api_key("other")
        with pytest.raises(errors.ClientError) as caught:
            generate(sdk)
        assert caught.value.code == 400

        control.reset()
        assert control.requests() == []
        control.set_delay(0.2)
        started = time.monotonic()
        generate(sdk)
        assert time.monotonic() - started >= 0.2
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "EMULATOR (not the real Gemini API)" in stderr
    assert "status=503 fault=http_error" in stderr
    assert "stopped" in stderr
