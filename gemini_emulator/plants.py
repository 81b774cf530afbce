"""Canned care data for the house plants the emulator identifies.

Every entry is validated against `shared.plant_data.AIPlantData` at import, so
the emulator cannot hand the worker a "success" that breaks the contract. The
care values are typical figures from general horticultural guidance, rounded
to what a model would plausibly write.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from shared.plant_data import AIPlantData

# Each entry is (confidence the emulator reports, AIPlantData as JSON-ready dict).
_CANNED: list[tuple[float, dict[str, Any]]] = [
    (
        0.94,
        {
            "scientific_name": "Monstera deliciosa",
            "description": (
                "A climbing aroid from the rainforests of southern Mexico and "
                "Central America. Mature leaves grow large, glossy and split with "
                "holes, and aerial roots help it climb a moss pole."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 7,
                "frequency_winter_days": 14,
                "amount": "Water until it runs from the drainage holes.",
                "notes": (
                    "Let the top 5 cm of soil dry out between waterings; "
                    "yellowing lower leaves usually mean too much water."
                ),
            },
            "light": {"type": "bright indirect light", "ideal_hours": 6},
            "environment": {
                "min_temp_celsius": 15,
                "max_temp_celsius": 30,
                "humidity": "HIGH",
                "toxicity_pets": True,
            },
            "soil": {
                "type": "Chunky aroid mix of potting soil, orchid bark and perlite",
                "ph_level": 6.0,
            },
            "fertilizer": {
                "frequency_days": 30,
                "type": "Balanced liquid houseplant fertilizer at half strength",
            },
        },
    ),
    (
        0.91,
        {
            "scientific_name": "Epipremnum aureum",
            "description": (
                "Golden pothos is a fast trailing vine from the Solomon Islands "
                "with heart-shaped green leaves marbled in yellow. It tolerates "
                "low light and irregular watering."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 7,
                "frequency_winter_days": 14,
                "amount": "Water thoroughly and empty the saucer.",
                "notes": "Drooping leaves signal thirst and recover within hours.",
            },
            "light": {"type": "medium to bright indirect light", "ideal_hours": 6},
            "environment": {
                "min_temp_celsius": 15,
                "max_temp_celsius": 30,
                "humidity": "MEDIUM",
                "toxicity_pets": True,
            },
            "soil": {
                "type": "General potting mix with added perlite",
                "ph_level": 6.5,
            },
            "fertilizer": {
                "frequency_days": 30,
                "type": "Balanced liquid fertilizer in spring and summer",
            },
        },
    ),
    (
        0.89,
        {
            "scientific_name": "Ficus lyrata",
            "description": (
                "The fiddle-leaf fig is a West African tree with large, "
                "violin-shaped leathery leaves. It dislikes being moved and drops "
                "leaves after draughts or sudden changes in light."
            ),
            "care_level": "MEDIUM",
            "watering": {
                "frequency_summer_days": 7,
                "frequency_winter_days": 14,
                "amount": "Water until it drains, then let the top third dry out.",
                "notes": "Brown spots in the leaf centre usually mean overwatering.",
            },
            "light": {
                "type": "bright indirect light with some morning sun",
                "ideal_hours": 8,
            },
            "environment": {
                "min_temp_celsius": 16,
                "max_temp_celsius": 29,
                "humidity": "MEDIUM",
                "toxicity_pets": True,
            },
            "soil": {
                "type": "Well-draining potting mix with bark and perlite",
                "ph_level": 6.5,
            },
            "fertilizer": {
                "frequency_days": 30,
                "type": "Nitrogen-rich liquid fertilizer, for example 3-1-2",
            },
        },
    ),
    (
        0.96,
        {
            "scientific_name": "Dracaena trifasciata",
            "description": (
                "Snake plant, formerly Sansevieria trifasciata, forms upright "
                "sword-shaped leaves banded in grey-green. It stores water in its "
                "leaves and survives weeks of neglect."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 14,
                "frequency_winter_days": 30,
                "amount": "Water sparingly and keep water out of the leaf rosette.",
                "notes": "Let the soil dry out completely; root rot is the main risk.",
            },
            "light": {"type": "low to bright indirect light", "ideal_hours": 6},
            "environment": {
                "min_temp_celsius": 10,
                "max_temp_celsius": 32,
                "humidity": "LOW",
                "toxicity_pets": True,
            },
            "soil": {"type": "Cactus and succulent mix", "ph_level": 6.5},
            "fertilizer": {
                "frequency_days": 60,
                "type": "Cactus fertilizer at half strength",
            },
        },
    ),
    (
        0.92,
        {
            "scientific_name": "Spathiphyllum wallisii",
            "description": (
                "Peace lily is a clump-forming aroid from tropical America with "
                "dark glossy leaves and white spathes. It wilts visibly when dry "
                "and recovers quickly after watering."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 5,
                "frequency_winter_days": 10,
                "amount": "Keep the soil evenly moist but never waterlogged.",
                "notes": "Brown leaf tips often come from fluoride in tap water.",
            },
            "light": {"type": "medium indirect light", "ideal_hours": 5},
            "environment": {
                "min_temp_celsius": 16,
                "max_temp_celsius": 30,
                "humidity": "HIGH",
                "toxicity_pets": True,
            },
            "soil": {
                "type": "Peat-free potting mix with coir and perlite",
                "ph_level": 6.0,
            },
            "fertilizer": {
                "frequency_days": 45,
                "type": "Balanced liquid fertilizer at quarter strength",
            },
        },
    ),
    (
        0.93,
        {
            "scientific_name": "Chlorophytum comosum",
            "description": (
                "Spider plant is a South African perennial with arching striped "
                "leaves. It sends out long stems carrying plantlets that root "
                "easily in water or soil."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 7,
                "frequency_winter_days": 14,
                "amount": "Water when the top 2-3 cm of soil is dry.",
                "notes": "Tuberous roots store water, so short droughts are fine.",
            },
            "light": {"type": "bright indirect light", "ideal_hours": 6},
            "environment": {
                "min_temp_celsius": 10,
                "max_temp_celsius": 30,
                "humidity": "MEDIUM",
                "toxicity_pets": False,
            },
            "soil": {"type": "General-purpose potting mix", "ph_level": 6.5},
            "fertilizer": {
                "frequency_days": 30,
                "type": "Balanced liquid fertilizer at half strength",
            },
        },
    ),
    (
        0.95,
        {
            "scientific_name": "Zamioculcas zamiifolia",
            "description": (
                "The ZZ plant is an East African aroid with waxy, dark green "
                "pinnate leaves growing from potato-like rhizomes. It copes with "
                "low light and long dry spells."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 14,
                "frequency_winter_days": 30,
                "amount": "Water thoroughly only once the soil is fully dry.",
                "notes": "The rhizomes rot in wet soil, so err on the dry side.",
            },
            "light": {"type": "low to bright indirect light", "ideal_hours": 5},
            "environment": {
                "min_temp_celsius": 15,
                "max_temp_celsius": 30,
                "humidity": "LOW",
                "toxicity_pets": True,
            },
            "soil": {
                "type": "Free-draining mix of potting soil and succulent mix",
                "ph_level": 6.5,
            },
            "fertilizer": {
                "frequency_days": 60,
                "type": "Balanced liquid fertilizer at half strength",
            },
        },
    ),
    (
        0.97,
        {
            "scientific_name": "Aloe vera",
            "description": (
                "A stemless succulent from the Arabian Peninsula with thick, "
                "serrated grey-green leaves full of gel. It needs strong light "
                "and very little water."
            ),
            "care_level": "EASY",
            "watering": {
                "frequency_summer_days": 14,
                "frequency_winter_days": 30,
                "amount": "Soak the soil, then let it dry out completely.",
                "notes": "Soft, translucent leaves are a sign of overwatering.",
            },
            "light": {"type": "bright light with some direct sun", "ideal_hours": 8},
            "environment": {
                "min_temp_celsius": 10,
                "max_temp_celsius": 32,
                "humidity": "LOW",
                "toxicity_pets": True,
            },
            "soil": {"type": "Cactus mix with extra grit or pumice", "ph_level": 7.0},
            "fertilizer": {
                "frequency_days": 60,
                "type": "Diluted cactus fertilizer in spring and summer",
            },
        },
    ),
]

for _confidence, _plant in _CANNED:
    AIPlantData.model_validate(_plant)

PLANT_NAMES: tuple[str, ...] = tuple(p["scientific_name"] for _, p in _CANNED)
_BY_NAME = {p["scientific_name"]: (c, p) for c, p in _CANNED}


def canned_plants() -> list[dict[str, Any]]:
    """Return deep copies of every canned `AIPlantData` dict."""
    return [copy.deepcopy(plant) for _, plant in _CANNED]


def plant_name_for_image(image: bytes) -> str:
    """Pick a plant from the image's SHA-256, so a photo always gets the same one."""
    digest = hashlib.sha256(image).digest()
    return PLANT_NAMES[int.from_bytes(digest[:8], "big") % len(PLANT_NAMES)]


def model_reply(scientific_name: str) -> dict[str, Any]:
    """Build a `ModelReply` dict identifying the named canned plant.

    Raises KeyError for a name that is not in `PLANT_NAMES`.
    """
    confidence, plant = _BY_NAME[scientific_name]
    return {"is_plant": True, "confidence": confidence, "plant": copy.deepcopy(plant)}
