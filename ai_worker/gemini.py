"""The Gemini adapter: one `generateContent` call per identification.

Every way the call can go wrong is translated here into the failure classes of
`ai_worker.failures`, so no other module imports the SDK.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import structlog
from google import genai
from google.genai import errors, types

from ai_worker.failures import (
    IdentificationRejectedError,
    IdentificationUnavailableError,
    InvalidModelOutputError,
)
from ai_worker.image_preparation import PreparedImage
from ai_worker.settings import WorkerSettings
from shared.plant import FailureCode
from shared.plant_data import build_response_schema

log = structlog.get_logger()

SYSTEM_INSTRUCTION = (
    "You are a botanist. Identify the plant in the photo and write care "
    "instructions for keeping it at home. If the photo does not show a plant, "
    "set is_plant to false, plant to null and confidence to your confidence "
    "that it is not a plant. Use metric units. Keep the description to two or "
    "three sentences."
)
USER_PROMPT = "Identify this plant and describe how to care for it."

# HTTP statuses worth another call later. 429 is handled separately because
# it carries its own wait and may name a daily quota.
_TRANSIENT_STATUSES = {408, 500, 502, 503, 504}
# Finish reasons that mean the model refused; the same photo will be refused again.
_BLOCKED_FINISH_REASONS = {
    "SAFETY",
    "RECITATION",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "LANGUAGE",
}
_DURATION = re.compile(r"^\s*(?P<seconds>\d+(?:\.\d+)?)s\s*$")
# A daily quota error is logged at error level once per this many seconds;
# every plant it fails is still logged at warning level.
QUOTA_ALERT_INTERVAL_S = 600.0


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    usage: dict[str, Any]


class GeminiIdentifier:
    """Sends a prepared photo to Gemini in JSON mode and returns the reply text."""

    def __init__(self, settings: WorkerSettings, *, max_connections: int) -> None:
        self.model = settings.gemini_model
        self._max_output_tokens = settings.gemini_max_output_tokens
        self._media_resolution = types.MediaResolution(settings.gemini_media_resolution)
        self._thinking_level = types.ThinkingLevel(settings.gemini_thinking_level)
        self._response_schema = build_response_schema()
        self._client = genai.Client(
            api_key=settings.gemini_api_key.get_secret_value(),
            http_options=types.HttpOptions(
                base_url=settings.gemini_base_url,
                api_version=settings.gemini_api_version,
                timeout=int(settings.gemini_timeout_s * 1000),
                # One connection per worker thread; httpx's default of 100
                # would queue calls beyond that.
                client_args={
                    "limits": httpx2.Limits(
                        max_connections=max_connections,
                        max_keepalive_connections=max_connections,
                    )
                },
            ),
        )
        self._quota_alert_lock = threading.Lock()
        self._last_quota_alert = float("-inf")

    def close(self) -> None:
        self._client.close()

    def identify(self, image: PreparedImage) -> ModelAnswer:
        """Call the model once; return its text with usage figures.

        Raises `IdentificationUnavailableError`, `InvalidModelOutputError` or
        `IdentificationRejectedError`, never an SDK or transport exception.
        """
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_json_schema=self._response_schema,
            max_output_tokens=self._max_output_tokens,
            media_resolution=self._media_resolution,
            thinking_config=types.ThinkingConfig(thinking_level=self._thinking_level),
            # No tools are declared; this also silences the SDK's per-call
            # "AFC is enabled" log line.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(
                disable=True
            ),
        )
        contents: list[Any] = [
            types.Part.from_bytes(data=image.jpeg_bytes, mime_type=image.mime_type),
            USER_PROMPT,
        ]
        started = time.perf_counter()
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        except errors.APIError as exc:
            raise self._classify_api_error(exc) from exc
        except httpx2.TimeoutException as exc:
            msg = f"model call timed out ({type(exc).__name__})"
            raise IdentificationUnavailableError(FailureCode.AI_TIMEOUT, msg) from exc
        except httpx2.TransportError as exc:
            msg = f"model endpoint unreachable: {type(exc).__name__}: {exc}"
            raise IdentificationUnavailableError(
                FailureCode.AI_UNAVAILABLE, msg
            ) from exc
        except json.JSONDecodeError as exc:
            # A 200 whose body is not JSON comes from a proxy or gateway in
            # between (a login or error page), not from the model.
            msg = f"model endpoint returned a body that is not JSON: {exc.msg}"
            raise IdentificationUnavailableError(
                FailureCode.AI_UNAVAILABLE, msg
            ) from exc

        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return ModelAnswer(
            text=self._check_response(response),
            usage=_usage(response, self.model, image, duration_ms),
        )

    def _check_response(self, response: types.GenerateContentResponse) -> str:
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            msg = f"model blocked the request: {_enum_name(feedback.block_reason)}"
            raise IdentificationRejectedError(FailureCode.AI_BLOCKED, msg)
        if not response.candidates:
            raise IdentificationUnavailableError(
                FailureCode.AI_EMPTY_OUTPUT, "model returned no candidates"
            )

        finish_reason = _enum_name(response.candidates[0].finish_reason)
        text = response.text
        if finish_reason in _BLOCKED_FINISH_REASONS:
            msg = f"model stopped with finish reason {finish_reason}"
            raise IdentificationRejectedError(FailureCode.AI_BLOCKED, msg)
        if finish_reason == "MAX_TOKENS":
            msg = (
                f"model output was cut off at {self._max_output_tokens} tokens "
                "(finish reason MAX_TOKENS)"
            )
            raise InvalidModelOutputError(FailureCode.AI_TRUNCATED, msg)
        if finish_reason not in ("STOP", "FINISH_REASON_UNSPECIFIED", "None"):
            msg = f"model stopped with unexpected finish reason {finish_reason}"
            raise InvalidModelOutputError(FailureCode.AI_OUTPUT_INVALID, msg)
        if not text:
            msg = f"model returned no text (finish reason {finish_reason})"
            raise IdentificationUnavailableError(FailureCode.AI_EMPTY_OUTPUT, msg)
        return text

    def _classify_api_error(self, exc: errors.APIError) -> Exception:
        status = exc.code
        summary = f"HTTP {status} {exc.status or ''}: {exc.message or ''}".strip()
        if status == 429:
            return self._classify_rate_limit(exc, summary)
        if status in _TRANSIENT_STATUSES or status >= 500:
            return IdentificationUnavailableError(FailureCode.AI_UNAVAILABLE, summary)
        if status == 404:
            log.error(
                "model_not_found",
                model=self.model,
                hint="set GEMINI_MODEL to a current model",
                error=summary,
            )
            return IdentificationRejectedError(
                FailureCode.AI_CONFIGURATION_ERROR, summary
            )
        if status in (401, 403) or "API_KEY_INVALID" in str(exc.details):
            log.error("model_access_denied", hint="check GEMINI_API_KEY", error=summary)
            return IdentificationRejectedError(
                FailureCode.AI_CONFIGURATION_ERROR, summary
            )
        if status == 402:
            return IdentificationRejectedError(FailureCode.AI_QUOTA_EXHAUSTED, summary)
        return IdentificationRejectedError(FailureCode.AI_REQUEST_REJECTED, summary)

    def _classify_rate_limit(self, exc: errors.APIError, summary: str) -> Exception:
        details = _error_details(exc.details)
        quota_ids = [
            violation.get("quotaId", "")
            for detail in details
            if detail.get("@type", "").endswith("google.rpc.QuotaFailure")
            for violation in detail.get("violations", [])
        ]
        if any("PerDay" in quota_id for quota_id in quota_ids):
            self._alert_daily_quota(quota_ids, summary)
            msg = (
                f"daily model quota exhausted ({', '.join(quota_ids)}); "
                "it resets at midnight Pacific time"
            )
            return IdentificationRejectedError(FailureCode.AI_QUOTA_EXHAUSTED, msg)
        return IdentificationUnavailableError(
            FailureCode.AI_RATE_LIMITED, summary, retry_after_s=_retry_delay_s(details)
        )

    def _alert_daily_quota(self, quota_ids: list[str], summary: str) -> None:
        now = time.monotonic()
        with self._quota_alert_lock:
            should_alert = now - self._last_quota_alert >= QUOTA_ALERT_INTERVAL_S
            if should_alert:
                self._last_quota_alert = now
        if should_alert:
            log.error("model_daily_quota_exhausted", quota_ids=quota_ids, error=summary)


def _error_details(body: Any) -> list[dict[str, Any]]:
    """Return `error.details` from an error body, tolerating shapes the SDK varies."""
    if isinstance(body, dict):
        body = body.get("error", body)
        details = body.get("details", [])
        return [detail for detail in details if isinstance(detail, dict)]
    return []


def _retry_delay_s(details: list[dict[str, Any]]) -> float | None:
    """Read RetryInfo.retryDelay, a protobuf Duration such as "37.5s"."""
    for detail in details:
        if detail.get("@type", "").endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match is not None:
                return float(match.group("seconds"))
    return None


def _enum_name(value: Any) -> str:
    return getattr(value, "name", None) or str(value)


def _usage(
    response: types.GenerateContentResponse,
    model: str,
    image: PreparedImage,
    duration_ms: float,
) -> dict[str, Any]:
    metadata = response.usage_metadata
    candidate = response.candidates[0] if response.candidates else None
    return {
        "model": model,
        "model_version": response.model_version,
        "finish_reason": _enum_name(candidate.finish_reason) if candidate else None,
        "prompt_tokens": metadata.prompt_token_count if metadata else None,
        "output_tokens": metadata.candidates_token_count if metadata else None,
        "thoughts_tokens": metadata.thoughts_token_count if metadata else None,
        "total_tokens": metadata.total_token_count if metadata else None,
        "image_width": image.width,
        "image_height": image.height,
        "image_bytes": len(image.jpeg_bytes),
        "duration_ms": duration_ms,
    }
