"""Conversion from stored plants to the public protobuf messages."""

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from protos.plants.v1 import plants_pb2
from shared.plant import PlantRecord, ProcessingStatus
from shared.plant_data import AIPlantData

_STATUS_TO_PROTO = {
    ProcessingStatus.PENDING: plants_pb2.PROCESSING_STATUS_PENDING,
    ProcessingStatus.PROCESSING: plants_pb2.PROCESSING_STATUS_PROCESSING,
    ProcessingStatus.COMPLETED: plants_pb2.PROCESSING_STATUS_COMPLETED,
    ProcessingStatus.FAILED: plants_pb2.PROCESSING_STATUS_FAILED,
}


def plant_to_proto(plant: PlantRecord) -> plants_pb2.Plant:
    """Build the `Plant` message; `care` is set only for completed plants."""
    message = plants_pb2.Plant(
        id=str(plant.id),
        owner_id=plant.owner_id,
        nickname=plant.nickname,
        status=_STATUS_TO_PROTO[plant.status],
        scientific_name=plant.scientific_name or "",
        description=plant.description or "",
        failure_code=plant.failure_code or "",
        failure_message=plant.failure_message or "",
        created_at=_timestamp(plant.created_at),
        updated_at=_timestamp(plant.updated_at),
    )
    if plant.status is ProcessingStatus.COMPLETED and plant.ai_data is not None:
        message.care.CopyFrom(
            care_profile_to_proto(AIPlantData.model_validate(plant.ai_data))
        )
    return message


def care_profile_to_proto(plant_data: AIPlantData) -> plants_pb2.CareProfile:
    return plants_pb2.CareProfile(
        care_level=plants_pb2.CareLevel.Value(f"CARE_LEVEL_{plant_data.care_level}"),
        watering=plants_pb2.Watering(
            frequency_summer_days=plant_data.watering.frequency_summer_days,
            frequency_winter_days=plant_data.watering.frequency_winter_days,
            amount=plant_data.watering.amount,
            notes=plant_data.watering.notes,
        ),
        light=plants_pb2.Light(
            type=plant_data.light.type, ideal_hours=plant_data.light.ideal_hours
        ),
        environment=plants_pb2.Environment(
            min_temp_celsius=plant_data.environment.min_temp_celsius,
            max_temp_celsius=plant_data.environment.max_temp_celsius,
            humidity=plants_pb2.Humidity.Value(
                f"HUMIDITY_{plant_data.environment.humidity}"
            ),
            toxicity_pets=plant_data.environment.toxicity_pets,
        ),
        soil=plants_pb2.Soil(
            type=plant_data.soil.type, ph_level=plant_data.soil.ph_level
        ),
        fertilizer=plants_pb2.Fertilizer(
            frequency_days=plant_data.fertilizer.frequency_days,
            type=plant_data.fertilizer.type,
        ),
    )


def _timestamp(moment: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(moment)
    return timestamp
