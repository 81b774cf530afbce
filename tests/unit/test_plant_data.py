"""The AIPlantData contract and the response schema sent to Gemini."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.plant_data import (
    GEMINI_SCHEMA_KEYWORDS,
    AIPlantData,
    ModelReply,
    build_response_schema,
)

MONSTERA: dict[str, Any] = {
    "scientific_name": "Monstera deliciosa",
    "description": "A climbing aroid with large split leaves.",
    "care_level": "EASY",
    "watering": {
        "frequency_summer_days": 7,
        "frequency_winter_days": 14,
        "amount": "Until water drains from the pot",
        "notes": "Let the top 5 cm of soil dry out first.",
    },
    "light": {"type": "bright indirect light", "ideal_hours": 6},
    "environment": {
        "min_temp_celsius": 15,
        "max_temp_celsius": 30,
        "humidity": "HIGH",
        "toxicity_pets": True,
    },
    "soil": {"type": "chunky aroid mix", "ph_level": 6.0},
    "fertilizer": {"frequency_days": 30, "type": "balanced liquid 20-20-20"},
}


def walk(node: Any) -> list[dict[str, Any]]:
    """Return every schema object in the tree."""
    found = []
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key == "properties":
                for child in value.values():
                    found.extend(walk(child))
            elif isinstance(value, (dict, list)):
                found.extend(walk(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(walk(item))
    return found


def test_ai_plant_data_has_exactly_the_contract_fields() -> None:
    assert list(AIPlantData.model_fields) == [
        "scientific_name",
        "description",
        "care_level",
        "watering",
        "light",
        "environment",
        "soil",
        "fertilizer",
    ]
    assert AIPlantData.model_validate(MONSTERA).care_level == "EASY"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("care_level",), "Medium"),
        (("soil", "ph_level"), "6-7"),
        (("watering", "frequency_summer_days"), 0),
        (("environment", "min_temp_celsius"), 35),
        (("light", "ideal_hours"), 25),
        (("description",), "x" * 1001),
    ],
)
def test_ai_plant_data_rejects_out_of_contract_values(
    path: tuple[str, ...], value: Any
) -> None:
    document = {
        **MONSTERA,
        **{k: dict(v) for k, v in MONSTERA.items() if isinstance(v, dict)},
    }
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(ValidationError):
        AIPlantData.model_validate(document)


def test_ai_plant_data_rejects_extra_and_missing_keys() -> None:
    with pytest.raises(ValidationError):
        AIPlantData.model_validate({**MONSTERA, "origin": "Mexico"})
    without_soil = {key: value for key, value in MONSTERA.items() if key != "soil"}
    with pytest.raises(ValidationError):
        AIPlantData.model_validate(without_soil)


def test_response_schema_uses_only_gemini_keywords() -> None:
    schema = build_response_schema()

    for node in walk(schema):
        unsupported = set(node) - GEMINI_SCHEMA_KEYWORDS
        assert not unsupported, f"unsupported keywords {unsupported} in {node}"


def test_response_schema_objects_are_complete() -> None:
    schema = build_response_schema()

    objects = [node for node in walk(schema) if node.get("type") == "object"]
    assert len(objects) == 7  # reply, plant and its five groups
    for node in objects:
        assert node["properties"], node
        assert node["required"] == list(node["properties"])
        assert node["propertyOrdering"] == list(node["properties"])


def test_response_schema_enums_are_strings() -> None:
    schema = build_response_schema()

    enums = [node["enum"] for node in walk(schema) if "enum" in node]
    assert ["EASY", "MEDIUM", "HARD"] in enums
    assert ["LOW", "MEDIUM", "HIGH"] in enums
    for values in enums:
        assert all(isinstance(value, str) for value in values)


def test_response_schema_allows_null_plant() -> None:
    schema = build_response_schema()

    plant = schema["properties"]["plant"]
    assert {"type": "null"} in plant["anyOf"]
    assert (
        ModelReply.model_validate(
            {"is_plant": False, "confidence": 0.9, "plant": None}
        ).plant
        is None
    )
