"""Parsing of the model's JSON text, with only deterministic repairs."""

import json

import pytest

from ai_worker.failures import InvalidModelOutputError
from ai_worker.model_reply import parse_model_reply
from shared.plant import FailureCode
from tests.unit.test_plant_data import MONSTERA

REPLY = {"is_plant": True, "confidence": 0.93, "plant": MONSTERA}


def test_plain_json_reply_parses() -> None:
    reply = parse_model_reply(json.dumps(REPLY))

    assert reply.is_plant
    assert reply.plant is not None
    assert reply.plant.scientific_name == "Monstera deliciosa"


@pytest.mark.parametrize("tag", ["json", "JSON", ""])
def test_one_surrounding_fence_is_removed(tag: str) -> None:
    text = f"```{tag}\n{json.dumps(REPLY, indent=2)}\n```"

    assert parse_model_reply(text).confidence == 0.93


@pytest.mark.parametrize(
    "text",
    [
        "Here you go:\n```json\n{}\n```",
        "```json\n{}\n```\n```json\n{}\n```",
        "```json\n```",
    ],
)
def test_other_fenced_text_is_invalid(text: str) -> None:
    with pytest.raises(InvalidModelOutputError) as caught:
        parse_model_reply(text)

    assert caught.value.code is FailureCode.AI_OUTPUT_INVALID


def test_lower_case_enum_is_upper_cased() -> None:
    plant = {**MONSTERA, "care_level": "medium"}
    plant["environment"] = {**MONSTERA["environment"], "humidity": "high "}

    reply = parse_model_reply(json.dumps({**REPLY, "plant": plant}))

    assert reply.plant is not None
    assert reply.plant.care_level == "MEDIUM"
    assert reply.plant.environment.humidity == "HIGH"


def test_nul_and_lone_surrogate_are_removed() -> None:
    text = json.dumps(REPLY).replace(
        "A climbing aroid", "A climbing\\u0000 aroid \\ud800"
    )

    reply = parse_model_reply(text)

    assert reply.plant is not None
    assert "\x00" not in reply.plant.description
    assert reply.plant.description.startswith("A climbing aroid \ufffd")
    reply.plant.model_dump_json().encode("utf-8")


def test_truncated_json_is_invalid() -> None:
    text = json.dumps(REPLY)[:120]

    with pytest.raises(InvalidModelOutputError) as caught:
        parse_model_reply(text)

    assert "not valid JSON" in caught.value.message


def test_schema_mismatch_names_the_field() -> None:
    plant = {**MONSTERA, "soil": {"type": "loam", "ph_level": "6-7"}}

    with pytest.raises(InvalidModelOutputError) as caught:
        parse_model_reply(json.dumps({**REPLY, "plant": plant}))

    assert "plant.soil.ph_level" in caught.value.message


def test_plant_verdict_without_care_is_invalid() -> None:
    text = json.dumps({"is_plant": True, "confidence": 0.8, "plant": None})

    with pytest.raises(InvalidModelOutputError) as caught:
        parse_model_reply(text)

    assert caught.value.message == (
        "model output does not match the schema: "
        "reply: plant is null although is_plant is true"
    )
