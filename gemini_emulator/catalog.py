"""Model names the emulator serves, retires or rejects, per API version.

The lists follow Google's deprecations page as of December 2026: the 1.5 and
2.0 families and `gemini-2.5-flash` are shut down, while the 3.x flash models
and `gemini-2.5-flash-lite` are served. The `*-latest` aliases exist only on
v1beta.
"""

from __future__ import annotations

API_VERSIONS = frozenset({"v1", "v1beta"})

CURRENT_MODELS = frozenset(
    {
        "gemini-3.8-flash",
        "gemini-3.7-flash",
        "gemini-3.6-flash",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-flash-lite",
        "gemini-3-flash-preview",
        "gemini-2.5-flash-lite",
    }
)

# Alias -> model that serves it, reported back as `modelVersion`.
# NOTE: Google moves aliases over time. These targets are the newest GA models
# in the list above, not a documented mapping.
V1BETA_ALIASES = {
    "gemini-flash-latest": "gemini-3.8-flash",
    "gemini-flash-lite-latest": "gemini-3.5-flash-lite",
}

RETIRED_PREFIXES = ("gemini-1.5-", "gemini-2.0-")
RETIRED_EXACT = frozenset({"gemini-1.5", "gemini-2.0", "gemini-2.5-flash"})


def is_retired(model: str) -> bool:
    """Return True for a model that Google has shut down."""
    return model in RETIRED_EXACT or model.startswith(RETIRED_PREFIXES)


def resolve_model(model: str, api_version: str) -> str | None:
    """Return the model version serving `model` on `api_version`, or None.

    None means the real API would return 404 NOT_FOUND, which covers retired
    models, unknown names and `*-latest` aliases on v1.
    """
    if model in CURRENT_MODELS:
        return model
    if api_version == "v1beta":
        return V1BETA_ALIASES.get(model)
    return None


def is_gemini_3(model_version: str) -> bool:
    """Return True for Gemini 3 models, which bill images by media resolution."""
    return model_version.startswith("gemini-3")
