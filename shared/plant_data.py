"""The care data the model writes for a plant, and the response schema sent to it.

`AIPlantData` is what ends up in the `ai_data` column. The model returns a
`ModelReply`, which wraps it with a plant/not-a-plant verdict, so that a photo of
a cat fails honestly instead of getting invented care instructions.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CareLevel(enum.StrEnum):
    EASY = "EASY"
    MEDIUM = "MEDIUM"
    HARD = "HARD"


class Humidity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class _Strict(BaseModel):
    # Unknown keys are rejected so that a model drifting from the contract is
    # noticed instead of silently stored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Watering(_Strict):
    frequency_summer_days: int = Field(
        ge=1, le=90, description="Days between waterings in summer."
    )
    frequency_winter_days: int = Field(
        ge=1, le=180, description="Days between waterings in winter."
    )
    amount: str = Field(
        min_length=1, max_length=200, description="How much water to give."
    )
    notes: str = Field(max_length=500, description="Watering tips for this species.")


class Light(_Strict):
    type: str = Field(
        min_length=1,
        max_length=100,
        description="Light the plant needs, e.g. 'bright indirect light'.",
    )
    ideal_hours: float = Field(
        ge=0, le=24, description="Hours of light per day the plant does best with."
    )


class Environment(_Strict):
    min_temp_celsius: float = Field(
        ge=-40, le=50, description="Lowest temperature the plant tolerates, in °C."
    )
    max_temp_celsius: float = Field(
        ge=-40, le=60, description="Highest temperature the plant tolerates, in °C."
    )
    humidity: Humidity = Field(description="Air humidity the plant prefers.")
    toxicity_pets: bool = Field(description="True when toxic to cats or dogs.")

    @model_validator(mode="after")
    def _check_temperature_range(self) -> Environment:
        if self.min_temp_celsius > self.max_temp_celsius:
            msg = (
                f"min_temp_celsius {self.min_temp_celsius} is above "
                f"max_temp_celsius {self.max_temp_celsius}"
            )
            raise ValueError(msg)
        return self


class Soil(_Strict):
    type: str = Field(
        min_length=1, max_length=200, description="Soil or potting mix to use."
    )
    ph_level: float = Field(ge=3, le=10, description="Preferred soil pH.")


class Fertilizer(_Strict):
    frequency_days: int = Field(
        ge=1, le=365, description="Days between feeds in the growing season."
    )
    type: str = Field(min_length=1, max_length=200, description="Fertilizer to use.")


class AIPlantData(_Strict):
    """Identification and care profile of one plant, as stored in `ai_data`."""

    scientific_name: str = Field(
        min_length=1, max_length=200, description="Binomial name of the species."
    )
    description: str = Field(
        min_length=1,
        max_length=1000,
        description="Two or three sentences describing the plant.",
    )
    care_level: CareLevel = Field(description="How hard the plant is to keep.")
    watering: Watering
    light: Light
    environment: Environment
    soil: Soil
    fertilizer: Fertilizer


class ModelReply(_Strict):
    """The JSON object the model is asked to return."""

    is_plant: bool = Field(description="False when the photo shows no plant.")
    confidence: float = Field(
        ge=0, le=1, description="Confidence in the identification, from 0 to 1."
    )
    plant: AIPlantData | None = Field(
        description="Identification and care profile; null when is_plant is false."
    )

    @model_validator(mode="after")
    def _check_plant_present(self) -> ModelReply:
        # A plant verdict without care data cannot be stored as COMPLETED.
        if self.is_plant and self.plant is None:
            raise ValueError("plant is null although is_plant is true")
        return self


# Keywords Gemini accepts in `responseJsonSchema`, from the structured output
# guide (https://ai.google.dev/gemini-api/docs/structured-output). Length limits
# are not among them, so those are enforced only by pydantic after the call.
GEMINI_SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "enum",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "anyOf",
        "properties",
        "required",
        "propertyOrdering",
    }
)


def build_response_schema() -> dict[str, Any]:
    """Build the JSON schema sent to Gemini from `ModelReply`.

    References are inlined and every keyword Gemini does not accept is dropped,
    so a refactor of the models cannot start sending a schema the API rejects.
    """
    schema = ModelReply.model_json_schema()
    definitions = schema.pop("$defs", {})
    return _to_gemini_subset(schema, definitions)


def _to_gemini_subset(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_to_gemini_subset(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        merged = {
            **copy.deepcopy(target),
            **{k: v for k, v in node.items() if k != "$ref"},
        }
        return _to_gemini_subset(merged, definitions)

    subset: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            subset[key] = {
                name: _to_gemini_subset(child, definitions)
                for name, child in value.items()
            }
        elif key in GEMINI_SCHEMA_KEYWORDS:
            subset[key] = _to_gemini_subset(value, definitions)
    if "properties" in subset:
        subset["propertyOrdering"] = list(subset["properties"])
    return subset
