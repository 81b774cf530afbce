"""Scripted responses: the faults a test or demo can make the emulator return.

A script is a FIFO queue of entries. Each generateContent call that passes the
request checks consumes one entry; when the queue is empty the call gets the
default `ok` response. Requests the real API would reject (missing key, retired
model, missing JSON mode) get that error and consume nothing.

An entry is a JSON object, or just the kind as a string (`"ok"`). Every entry
accepts these common fields:

- `kind` (required): one of the kinds below.
- `delay_s` (float >= 0): seconds to wait before responding. It replaces the
  emulator's default delay for this call.
- `times` (int >= 1, default 1): how many consecutive calls the entry serves.

Kinds and their own fields:

- `ok`: success. `plant` (a scientific name from `plants.PLANT_NAMES`) forces
  the plant, otherwise the SHA-256 of the image picks it; `confidence` (0..1).
- `not_a_plant`: success with `is_plant` false, `plant` null and a low
  `confidence` (default 0.07).
- `http_error`: Google error body. `code` (400-599, required), `status` and
  `message` (defaults: the canonical status and a realistic message for 400,
  401, 403, 404, 500, 502, 503, 504).
- `rate_limited`: 429 RESOURCE_EXHAUSTED with `google.rpc.QuotaFailure` for the
  per-minute free-tier quota, `google.rpc.Help` and `google.rpc.RetryInfo`.
  `retry_delay` is a protobuf Duration string such as "37.5s" or "0.8s"
  (default "37.5s"); `quota_value` (default "10").
- `daily_quota`: as `rate_limited`, with quotaId
  `GenerateRequestsPerDayPerProjectPerModel-FreeTier` (defaults "60s", "20").
- `fenced_json`: the ModelReply JSON inside a json-tagged Markdown fence.
- `truncated`: finishReason MAX_TOKENS, text cut inside the `description` string.
- `invalid_json`: finishReason STOP, text with a trailing comma (not JSON).
- `schema_violation`: valid JSON that breaks the ModelReply contract. `variant`
  (default `lowercase_enum`): `lowercase_enum` (care_level "medium"),
  `missing_soil`, `ph_level_string` (ph_level "6-7"), `min_above_max`
  (min_temp_celsius above max_temp_celsius), `extra_key` (an unknown key in
  `plant`), `zero_watering_days` (frequency_summer_days 0).
- `nul_in_text`: valid reply whose `description` contains a `\\u0000` escape.
- `lone_surrogate`: valid reply whose `description` contains a `\\ud800` escape.
- `text`: 200 with exactly `text` as the candidate text; `finish_reason`
  (default STOP).
- `blocked_prompt`: 200, no candidates, `promptFeedback.blockReason` =
  `block_reason` (default SAFETY).
- `finish_reason`: one candidate with `finishReason` = `finish_reason`
  (default SAFETY) and no content.
- `empty_candidates`: 200 with `candidates: []` and no promptFeedback.
- `stop_empty`: finishReason STOP with a content that has no parts.
- `stop_empty_text`: finishReason STOP with one part whose text is "".
- `hang`: wait `delay_s` (default 300) and then respond as `ok`, to outlast
  the client timeout.
- `disconnect`: close the connection without a response, after `delay_s`.
- `drip`: respond as `ok`, but write the body in `chunks` pieces (default 10)
  with `interval_s` seconds (default 0.5) between them. Each read finishes
  well within a per-read client timeout while the whole call takes long.
- `raw`: respond with `status` (100-599) with `body` as given. A dict or list body is
  sent as JSON; a string body is sent verbatim with `content_type` (default
  "text/html; charset=UTF-8"), for example a proxy's HTML error page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gemini_emulator import plants, wire

DEFAULT_HANG_S = 300.0

_COMMON_FIELDS = frozenset({"kind", "delay_s", "times"})

KIND_FIELDS: dict[str, frozenset[str]] = {
    "ok": frozenset({"plant", "confidence"}),
    "not_a_plant": frozenset({"confidence"}),
    "http_error": frozenset({"code", "status", "message"}),
    "rate_limited": frozenset({"retry_delay", "quota_value"}),
    "daily_quota": frozenset({"retry_delay", "quota_value"}),
    "fenced_json": frozenset(),
    "truncated": frozenset(),
    "invalid_json": frozenset(),
    "schema_violation": frozenset({"variant"}),
    "nul_in_text": frozenset(),
    "lone_surrogate": frozenset(),
    "text": frozenset({"text", "finish_reason"}),
    "blocked_prompt": frozenset({"block_reason"}),
    "finish_reason": frozenset({"finish_reason"}),
    "empty_candidates": frozenset(),
    "stop_empty": frozenset(),
    "stop_empty_text": frozenset(),
    "hang": frozenset(),
    "disconnect": frozenset(),
    "drip": frozenset({"chunks", "interval_s"}),
    "raw": frozenset({"status", "body", "content_type"}),
}

SCHEMA_VIOLATIONS = (
    "lowercase_enum",
    "missing_soil",
    "ph_level_string",
    "min_above_max",
    "extra_key",
    "zero_watering_days",
)

# Values from the `FinishReason` and `BlockedReason` enums of google-genai 3.6.1.
FINISH_REASONS = frozenset(
    {
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "OTHER",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "MALFORMED_FUNCTION_CALL",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_OTHER",
        "NO_IMAGE",
        "IMAGE_RECITATION",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "MISSING_THOUGHT_SIGNATURE",
        "MALFORMED_RESPONSE",
    }
)
BLOCK_REASONS = frozenset(
    {
        "SAFETY",
        "OTHER",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "IMAGE_SAFETY",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)

# Canonical status and a message worded like Google's for each scripted code.
HTTP_ERROR_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    # NOTE: Google's front end usually sends 502 as an HTML page. The emulator
    # sends a JSON body so that clients get the same error shape (use `raw`
    # with a string body for the HTML variant).
    502: ("UNAVAILABLE", "Bad Gateway. The server received an invalid response."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}

_DURATION = re.compile(r"^\d+(\.\d{1,9})?s$")

_QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_PER_MINUTE_QUOTA_ID = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
_PER_DAY_QUOTA_ID = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"


class ScriptError(ValueError):
    """A script entry with an unknown kind or an invalid field."""


@dataclass(frozen=True)
class ScriptEntry:
    """One scripted response, validated when it is queued."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    delay_s: float | None = None
    times: int = 1

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, **self.params, "times": self.times}
        if self.delay_s is not None:
            entry["delay_s"] = self.delay_s
        return entry


DEFAULT_ENTRY = ScriptEntry("ok")


@dataclass(frozen=True)
class Reply:
    """An HTTP response: status code and a JSON body, or text with its content type."""

    status: int
    body: Any
    content_type: str = "application/json; charset=UTF-8"
    # (chunks, interval_s) to write the body slowly, or None for one write.
    drip: tuple[int, float] | None = None


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without sending any response."""


def parse_entry(raw: Any) -> ScriptEntry:
    """Validate one script entry given as a kind string, a dict or a ScriptEntry.

    Raises ScriptError naming the field and the expected values.
    """
    if isinstance(raw, ScriptEntry):
        raw = raw.to_json()
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, Mapping):
        raise ScriptError(
            f"script entry must be a kind string or an object, got {raw!r}"
        )
    kind = raw.get("kind")
    if kind not in KIND_FIELDS:
        raise ScriptError(
            f"unknown script entry kind {kind!r}; expected one of "
            f"{', '.join(sorted(KIND_FIELDS))}"
        )
    unknown = set(raw) - _COMMON_FIELDS - KIND_FIELDS[kind]
    if unknown:
        raise ScriptError(
            f"unknown field(s) {sorted(unknown)} for kind {kind!r}; expected "
            f"{sorted(KIND_FIELDS[kind] | _COMMON_FIELDS)}"
        )
    params = {key: value for key, value in raw.items() if key in KIND_FIELDS[kind]}
    _check_params(kind, params)
    return ScriptEntry(
        kind=kind,
        params=params,
        delay_s=_check_delay(raw.get("delay_s")),
        times=_check_times(raw.get("times", 1)),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_delay(value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or value < 0:
        raise ScriptError(f"delay_s must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_times(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ScriptError(f"times must be an integer >= 1, got {value!r}")
    return value


def _check_params(kind: str, params: dict[str, Any]) -> None:
    if "plant" in params and params["plant"] not in plants.PLANT_NAMES:
        raise ScriptError(
            f"plant {params['plant']!r} is not a canned plant; expected one of "
            f"{', '.join(plants.PLANT_NAMES)}"
        )
    if "confidence" in params and not (
        _is_number(params["confidence"]) and 0 <= params["confidence"] <= 1
    ):
        raise ScriptError(
            f"confidence must be a number from 0 to 1, got {params['confidence']!r}"
        )
    if kind == "http_error":
        code = params.get("code")
        if (
            not isinstance(code, int)
            or isinstance(code, bool)
            or not 400 <= code <= 599
        ):
            raise ScriptError(f"http_error needs code from 400 to 599, got {code!r}")
    if "retry_delay" in params and not (
        isinstance(params["retry_delay"], str)
        and _DURATION.match(params["retry_delay"])
    ):
        raise ScriptError(
            "retry_delay must be a protobuf Duration string such as '37.5s', got "
            f"{params['retry_delay']!r}"
        )
    if "quota_value" in params and not isinstance(params["quota_value"], str):
        raise ScriptError(
            f"quota_value must be a string such as '10', got {params['quota_value']!r}"
        )
    variant = params.get("variant", SCHEMA_VIOLATIONS[0])
    if kind == "schema_violation" and variant not in SCHEMA_VIOLATIONS:
        raise ScriptError(
            f"schema_violation variant {variant!r} is unknown; expected one of "
            f"{', '.join(SCHEMA_VIOLATIONS)}"
        )
    if "finish_reason" in params and params["finish_reason"] not in FINISH_REASONS:
        raise ScriptError(
            f"finish_reason {params['finish_reason']!r} is unknown; expected one of "
            f"{', '.join(sorted(FINISH_REASONS))}"
        )
    if "block_reason" in params and params["block_reason"] not in BLOCK_REASONS:
        raise ScriptError(
            f"block_reason {params['block_reason']!r} is unknown; expected one of "
            f"{', '.join(sorted(BLOCK_REASONS))}"
        )
    if kind == "text" and not isinstance(params.get("text"), str):
        raise ScriptError(f"text entry needs a string text, got {params.get('text')!r}")
    if "chunks" in params and not (
        isinstance(params["chunks"], int)
        and not isinstance(params["chunks"], bool)
        and 1 <= params["chunks"] <= 1000
    ):
        raise ScriptError(
            f"chunks must be an integer from 1 to 1000, got {params['chunks']!r}"
        )
    if "interval_s" in params and not (
        _is_number(params["interval_s"]) and 0 <= params["interval_s"] <= 600
    ):
        raise ScriptError(
            f"interval_s must be a number of seconds from 0 to 600, "
            f"got {params['interval_s']!r}"
        )
    if kind == "raw":
        status = params.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise ScriptError(f"raw entry needs an integer status, got {status!r}")
        if not 100 <= status <= 599:
            raise ScriptError(f"raw status must be from 100 to 599, got {status}")
        if "content_type" in params and not isinstance(params["content_type"], str):
            raise ScriptError(
                f"raw content_type must be a string, got {params['content_type']!r}"
            )
        try:
            json.dumps(params.get("body"))
        except (TypeError, ValueError) as error:
            raise ScriptError(f"raw body must be JSON-serializable: {error}") from None


def delay_for(entry: ScriptEntry, default_delay_s: float) -> float:
    """Return the seconds to wait before responding to this entry."""
    if entry.delay_s is not None:
        return entry.delay_s
    if entry.kind == "hang":
        return DEFAULT_HANG_S
    return default_delay_s


def build_reply(
    entry: ScriptEntry, request: wire.InspectedRequest, model_version: str
) -> Reply | Disconnect:
    """Build the response for a request that passed the checks."""
    kind = entry.kind
    params = entry.params
    if kind == "disconnect":
        return Disconnect()

    # Error responses and raw bodies carry no generated content.
    if kind == "raw":
        if isinstance(params.get("body"), str):
            content_type = params.get("content_type", "text/html; charset=UTF-8")
            return Reply(params["status"], params["body"], content_type)
        return Reply(params["status"], params.get("body"))
    if kind == "http_error":
        return _http_error(params, model_version)
    if kind in ("rate_limited", "daily_quota"):
        return Reply(429, _quota_error(kind, params, model_version))

    # HTTP 200 responses without usable text.
    builder = _GenerationBuilder(request, model_version)
    if kind == "blocked_prompt":
        return Reply(200, builder.blocked(params.get("block_reason", "SAFETY")))
    if kind == "finish_reason":
        return Reply(200, builder.no_content(params.get("finish_reason", "SAFETY")))
    if kind == "empty_candidates":
        return Reply(200, builder.empty_candidates())
    if kind == "stop_empty":
        return Reply(200, builder.candidate(None, "STOP"))
    if kind == "stop_empty_text":
        return Reply(200, builder.candidate("", "STOP"))

    # HTTP 200 responses with candidate text.
    if kind == "text":
        return Reply(
            200, builder.candidate(params["text"], params.get("finish_reason", "STOP"))
        )
    text, finish_reason = _reply_text(entry, request)
    if kind == "drip":
        drip = (params.get("chunks", 10), float(params.get("interval_s", 0.5)))
        return Reply(200, builder.candidate(text, finish_reason), drip=drip)
    return Reply(200, builder.candidate(text, finish_reason))


def _reply_text(entry: ScriptEntry, request: wire.InspectedRequest) -> tuple[str, str]:
    """Return the candidate text and finishReason for the text-bearing kinds."""
    kind = entry.kind
    params = entry.params
    image = request.image or b""
    if kind == "not_a_plant":
        reply = {
            "is_plant": False,
            "confidence": params.get("confidence", 0.07),
            "plant": None,
        }
        return json.dumps(reply), "STOP"

    reply = plants.model_reply(
        params.get("plant") or plants.plant_name_for_image(image)
    )
    if "confidence" in params:
        reply["confidence"] = params["confidence"]
    if kind in ("ok", "hang", "drip"):
        return json.dumps(reply, ensure_ascii=False), "STOP"
    if kind == "fenced_json":
        return f"```json\n{json.dumps(reply, indent=2)}\n```", "STOP"
    if kind == "truncated":
        text = json.dumps(reply)
        cut = text.index('"description": "') + len('"description": "') + 40
        return text[:cut], "MAX_TOKENS"
    if kind == "invalid_json":
        return json.dumps(reply)[:-1] + ",}", "STOP"
    if kind == "nul_in_text":
        reply["plant"]["description"] += " Grown\x00 indoors worldwide."
        # ensure_ascii writes the NUL as the six-character escape \u0000.
        return json.dumps(reply, ensure_ascii=True), "STOP"
    if kind == "lone_surrogate":
        reply["plant"]["description"] += " Popular \ud800 houseplant."
        return json.dumps(reply, ensure_ascii=True), "STOP"
    if kind == "schema_violation":
        _break_contract(reply["plant"], params.get("variant", SCHEMA_VIOLATIONS[0]))
        return json.dumps(reply), "STOP"
    raise AssertionError(f"no text builder for kind {kind!r}")


def _break_contract(plant: dict[str, Any], variant: str) -> None:
    if variant == "lowercase_enum":
        plant["care_level"] = plant["care_level"].lower()
    elif variant == "missing_soil":
        del plant["soil"]
    elif variant == "ph_level_string":
        plant["soil"]["ph_level"] = "6-7"
    elif variant == "min_above_max":
        plant["environment"]["min_temp_celsius"] = 30
        plant["environment"]["max_temp_celsius"] = 18
    elif variant == "extra_key":
        plant["native_region"] = "Tropical rainforest"
    elif variant == "zero_watering_days":
        plant["watering"]["frequency_summer_days"] = 0


def _http_error(params: Mapping[str, Any], model_version: str) -> Reply:
    code = params["code"]
    default_status, default_message = HTTP_ERROR_DEFAULTS.get(
        code, ("UNKNOWN", f"The emulator returned HTTP {code} for {model_version}.")
    )
    status = params.get("status", default_status)
    message = params.get("message", default_message)
    return Reply(code, wire.google_error(code, status, message))


def _quota_error(
    kind: str, params: Mapping[str, Any], model_version: str
) -> dict[str, Any]:
    per_day = kind == "daily_quota"
    retry_delay = params.get("retry_delay", "60s" if per_day else "37.5s")
    quota_value = params.get("quota_value", "20" if per_day else "10")
    quota_id = _PER_DAY_QUOTA_ID if per_day else _PER_MINUTE_QUOTA_ID
    message = (
        "You exceeded your current quota, please check your plan and billing "
        "details. For more information on this error, head to: "
        "https://ai.google.dev/gemini-api/docs/rate-limits.\n"
        f"* Quota exceeded for metric: {_QUOTA_METRIC}, limit: {quota_value}, "
        f"model: {model_version}\nPlease retry in {retry_delay}."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": _QUOTA_METRIC,
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model_version},
                    "quotaValue": quota_value,
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay,
        },
    ]
    return wire.google_error(429, "RESOURCE_EXHAUSTED", message, details)


class _GenerationBuilder:
    """Builds 200 generateContent bodies for one request."""

    def __init__(self, request: wire.InspectedRequest, model_version: str) -> None:
        self.request = request
        self.model_version = model_version

    def _envelope(self, usage: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return {
            **fields,
            "usageMetadata": usage,
            "modelVersion": self.model_version,
            "responseId": wire.new_response_id(),
        }

    def candidate(self, text: str | None, finish_reason: str) -> dict[str, Any]:
        content: dict[str, Any] = {"role": "model"}
        if text is not None:
            content["parts"] = [{"text": text}]
        output_tokens = wire.count_output_tokens(text or "")
        if finish_reason == "MAX_TOKENS":
            # A MAX_TOKENS stop spends exactly the output cap when one was sent.
            cap = wire.get_field(
                self.request.generation_config, "maxOutputTokens", "max_output_tokens"
            )
            if isinstance(cap, int) and cap > 0:
                output_tokens = cap
        usage = wire.usage_metadata(
            self.request,
            self.model_version,
            candidates_tokens=output_tokens,
            thoughts=True,
        )
        candidate = {
            "content": content,
            "finishReason": finish_reason,
            "index": 0,
            "safetyRatings": wire.safety_ratings(),
        }
        return self._envelope(usage, candidates=[candidate])

    def no_content(self, finish_reason: str) -> dict[str, Any]:
        blocked = (
            "HARM_CATEGORY_DANGEROUS_CONTENT" if finish_reason == "SAFETY" else None
        )
        candidate = {
            "finishReason": finish_reason,
            "index": 0,
            "safetyRatings": wire.safety_ratings(blocked),
        }
        usage = wire.usage_metadata(
            self.request, self.model_version, candidates_tokens=0, thoughts=True
        )
        return self._envelope(usage, candidates=[candidate])

    def blocked(self, block_reason: str) -> dict[str, Any]:
        blocked = (
            "HARM_CATEGORY_DANGEROUS_CONTENT" if block_reason == "SAFETY" else None
        )
        feedback = {
            "blockReason": block_reason,
            "safetyRatings": wire.safety_ratings(blocked),
        }
        usage = wire.usage_metadata(
            self.request, self.model_version, candidates_tokens=None, thoughts=False
        )
        return self._envelope(usage, promptFeedback=feedback)

    def empty_candidates(self) -> dict[str, Any]:
        usage = wire.usage_metadata(
            self.request, self.model_version, candidates_tokens=None, thoughts=False
        )
        return self._envelope(usage, candidates=[])
