"""Parsing and checking the model's JSON reply.

`response.parsed` from the SDK is never used: it silently becomes None for
truncated or invalid output. The text is parsed here, with only deterministic
repairs, and validated with pydantic.
"""

import json
import re
from typing import Any

from pydantic import ValidationError

from ai_worker.failures import InvalidModelOutputError
from shared.errors import describe_validation_error
from shared.plant import FailureCode
from shared.plant_data import ModelReply

# One fence around the whole reply, with an optional language tag.
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(?P<body>.*)\n\s*```\s*$", re.DOTALL)
# Lone UTF-16 surrogates cannot be encoded as UTF-8, so PostgreSQL rejects them.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Enum fields whose value may be upper-cased without changing its meaning.
_ENUM_PATHS = (("plant", "care_level"), ("plant", "environment", "humidity"))


def parse_model_reply(text: str) -> ModelReply:
    """Return the validated reply; raise `InvalidModelOutputError` otherwise."""
    match = _FENCE.match(text)
    if match is not None:
        text = match.group("body")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"model output is not valid JSON: {exc.msg} at character {exc.pos}"
        raise InvalidModelOutputError(FailureCode.AI_OUTPUT_INVALID, msg) from None

    document = _clean_strings(document)
    _upper_case_enums(document)
    try:
        return ModelReply.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'reply'}: "
            f"{describe_validation_error(error)}"
            for error in exc.errors()[:5]
        )
        msg = f"model output does not match the schema: {problems}"
        raise InvalidModelOutputError(FailureCode.AI_OUTPUT_INVALID, msg) from None


def _clean_strings(value: Any) -> Any:
    """Drop NUL characters and replace lone surrogates, which jsonb cannot store."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, list):
        return [_clean_strings(item) for item in value]
    if isinstance(value, dict):
        return {
            _clean_strings(key): _clean_strings(item) for key, item in value.items()
        }
    return value


def _upper_case_enums(document: Any) -> None:
    for path in _ENUM_PATHS:
        parent = document
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), str):
            parent[path[-1]] = parent[path[-1]].strip().upper()
