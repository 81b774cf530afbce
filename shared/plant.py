"""The plant record as stored in PostgreSQL, and its processing vocabulary."""

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ProcessingStatus(enum.StrEnum):
    """Values of `plants.ai_processing_status`; COMPLETED and FAILED are final."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class FailureCode(enum.StrEnum):
    """Machine-readable reasons stored in `plants.failure_code`."""

    NOT_A_PLANT = "NOT_A_PLANT"
    IMAGE_MISSING = "IMAGE_MISSING"
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE"
    AI_BLOCKED = "AI_BLOCKED"
    AI_OUTPUT_INVALID = "AI_OUTPUT_INVALID"
    AI_TRUNCATED = "AI_TRUNCATED"
    AI_REQUEST_REJECTED = "AI_REQUEST_REJECTED"
    AI_CONFIGURATION_ERROR = "AI_CONFIGURATION_ERROR"
    AI_QUOTA_EXHAUSTED = "AI_QUOTA_EXHAUSTED"
    AI_RATE_LIMITED = "AI_RATE_LIMITED"
    AI_TIMEOUT = "AI_TIMEOUT"
    AI_EMPTY_OUTPUT = "AI_EMPTY_OUTPUT"
    AI_UNAVAILABLE = "AI_UNAVAILABLE"
    MAX_ATTEMPTS_EXCEEDED = "MAX_ATTEMPTS_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class PlantRecord(BaseModel):
    """One row of the `plants` table, as clients may see it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    owner_id: str
    nickname: str
    original_image_path: str
    image_content_type: str
    status: ProcessingStatus
    scientific_name: str | None
    description: str | None
    ai_data: dict[str, Any] | None
    failure_code: str | None
    failure_message: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


# Column list matching PlantRecord; the status column predates the domain
# word, so it is renamed here.
PLANT_RECORD_COLUMNS = """
    id, owner_id, nickname, original_image_path, image_content_type,
    ai_processing_status AS status, scientific_name, description, ai_data,
    failure_code, failure_message, attempts, created_at, updated_at
"""
