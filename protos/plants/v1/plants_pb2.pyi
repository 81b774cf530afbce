import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProcessingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROCESSING_STATUS_UNSPECIFIED: _ClassVar[ProcessingStatus]
    PROCESSING_STATUS_PENDING: _ClassVar[ProcessingStatus]
    PROCESSING_STATUS_PROCESSING: _ClassVar[ProcessingStatus]
    PROCESSING_STATUS_COMPLETED: _ClassVar[ProcessingStatus]
    PROCESSING_STATUS_FAILED: _ClassVar[ProcessingStatus]

class CareLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CARE_LEVEL_UNSPECIFIED: _ClassVar[CareLevel]
    CARE_LEVEL_EASY: _ClassVar[CareLevel]
    CARE_LEVEL_MEDIUM: _ClassVar[CareLevel]
    CARE_LEVEL_HARD: _ClassVar[CareLevel]

class Humidity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HUMIDITY_UNSPECIFIED: _ClassVar[Humidity]
    HUMIDITY_LOW: _ClassVar[Humidity]
    HUMIDITY_MEDIUM: _ClassVar[Humidity]
    HUMIDITY_HIGH: _ClassVar[Humidity]
PROCESSING_STATUS_UNSPECIFIED: ProcessingStatus
PROCESSING_STATUS_PENDING: ProcessingStatus
PROCESSING_STATUS_PROCESSING: ProcessingStatus
PROCESSING_STATUS_COMPLETED: ProcessingStatus
PROCESSING_STATUS_FAILED: ProcessingStatus
CARE_LEVEL_UNSPECIFIED: CareLevel
CARE_LEVEL_EASY: CareLevel
CARE_LEVEL_MEDIUM: CareLevel
CARE_LEVEL_HARD: CareLevel
HUMIDITY_UNSPECIFIED: Humidity
HUMIDITY_LOW: Humidity
HUMIDITY_MEDIUM: Humidity
HUMIDITY_HIGH: Humidity

class CreatePlantRequest(_message.Message):
    __slots__ = ("owner_id", "nickname", "image", "image_content_type", "idempotency_key")
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    nickname: str
    image: bytes
    image_content_type: str
    idempotency_key: str
    def __init__(self, owner_id: _Optional[str] = ..., nickname: _Optional[str] = ..., image: _Optional[bytes] = ..., image_content_type: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetPlantRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Watering(_message.Message):
    __slots__ = ("frequency_summer_days", "frequency_winter_days", "amount", "notes")
    FREQUENCY_SUMMER_DAYS_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_WINTER_DAYS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    frequency_summer_days: int
    frequency_winter_days: int
    amount: str
    notes: str
    def __init__(self, frequency_summer_days: _Optional[int] = ..., frequency_winter_days: _Optional[int] = ..., amount: _Optional[str] = ..., notes: _Optional[str] = ...) -> None: ...

class Light(_message.Message):
    __slots__ = ("type", "ideal_hours")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IDEAL_HOURS_FIELD_NUMBER: _ClassVar[int]
    type: str
    ideal_hours: float
    def __init__(self, type: _Optional[str] = ..., ideal_hours: _Optional[float] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("min_temp_celsius", "max_temp_celsius", "humidity", "toxicity_pets")
    MIN_TEMP_CELSIUS_FIELD_NUMBER: _ClassVar[int]
    MAX_TEMP_CELSIUS_FIELD_NUMBER: _ClassVar[int]
    HUMIDITY_FIELD_NUMBER: _ClassVar[int]
    TOXICITY_PETS_FIELD_NUMBER: _ClassVar[int]
    min_temp_celsius: float
    max_temp_celsius: float
    humidity: Humidity
    toxicity_pets: bool
    def __init__(self, min_temp_celsius: _Optional[float] = ..., max_temp_celsius: _Optional[float] = ..., humidity: _Optional[_Union[Humidity, str]] = ..., toxicity_pets: _Optional[bool] = ...) -> None: ...

class Soil(_message.Message):
    __slots__ = ("type", "ph_level")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PH_LEVEL_FIELD_NUMBER: _ClassVar[int]
    type: str
    ph_level: float
    def __init__(self, type: _Optional[str] = ..., ph_level: _Optional[float] = ...) -> None: ...

class Fertilizer(_message.Message):
    __slots__ = ("frequency_days", "type")
    FREQUENCY_DAYS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    frequency_days: int
    type: str
    def __init__(self, frequency_days: _Optional[int] = ..., type: _Optional[str] = ...) -> None: ...

class CareProfile(_message.Message):
    __slots__ = ("care_level", "watering", "light", "environment", "soil", "fertilizer")
    CARE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WATERING_FIELD_NUMBER: _ClassVar[int]
    LIGHT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    SOIL_FIELD_NUMBER: _ClassVar[int]
    FERTILIZER_FIELD_NUMBER: _ClassVar[int]
    care_level: CareLevel
    watering: Watering
    light: Light
    environment: Environment
    soil: Soil
    fertilizer: Fertilizer
    def __init__(self, care_level: _Optional[_Union[CareLevel, str]] = ..., watering: _Optional[_Union[Watering, _Mapping]] = ..., light: _Optional[_Union[Light, _Mapping]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., soil: _Optional[_Union[Soil, _Mapping]] = ..., fertilizer: _Optional[_Union[Fertilizer, _Mapping]] = ...) -> None: ...

class Plant(_message.Message):
    __slots__ = ("id", "owner_id", "nickname", "status", "scientific_name", "description", "care", "failure_code", "failure_message", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCIENTIFIC_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CARE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner_id: str
    nickname: str
    status: ProcessingStatus
    scientific_name: str
    description: str
    care: CareProfile
    failure_code: str
    failure_message: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., owner_id: _Optional[str] = ..., nickname: _Optional[str] = ..., status: _Optional[_Union[ProcessingStatus, str]] = ..., scientific_name: _Optional[str] = ..., description: _Optional[str] = ..., care: _Optional[_Union[CareProfile, _Mapping]] = ..., failure_code: _Optional[str] = ..., failure_message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
