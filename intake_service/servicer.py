"""The `plants.v1.PlantService` servicer: maps gRPC to the service layer."""

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf.message import DecodeError

from intake_service.plant_intake import NewPlant, PlantIntake
from intake_service.plant_mapping import plant_to_proto
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.errors import (
    DeadlineExceededError,
    DomainError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    PlantNotFoundError,
    StorageUnavailableError,
)

log = structlog.get_logger()

# Domain errors and the status codes clients get for them. Anything else is
# INTERNAL with a generic detail, so no SQL or traceback leaks to callers.
_ERROR_STATUS: list[tuple[type[DomainError], grpc.StatusCode]] = [
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdempotencyKeyReusedError, grpc.StatusCode.ALREADY_EXISTS),
    (PlantNotFoundError, grpc.StatusCode.NOT_FOUND),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (StorageUnavailableError, grpc.StatusCode.UNAVAILABLE),
]

RequestT = TypeVar("RequestT")

_SERVICE_PREFIX = "/plants.v1.PlantService/"


@dataclass(frozen=True)
class MalformedRequest:
    """A placeholder for a request whose bytes did not parse as its message type."""

    error: str


class MalformedRequestInterceptor(grpc.ServerInterceptor):
    """Passes unparsable PlantService requests to the handler as `MalformedRequest`.

    Without it, gRPC ends a request that does not parse (corrupt wire
    format, invalid UTF-8 in a string field) with INTERNAL "Exception
    deserializing request!" before any handler runs, so the call gets the
    wrong code and no `rpc_finished` line.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if (
            handler is None
            or handler.unary_unary is None
            or handler.request_deserializer is None
            or not handler_call_details.method.startswith(_SERVICE_PREFIX)
        ):
            return handler
        return grpc.unary_unary_rpc_method_handler(
            handler.unary_unary,
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )


def _tolerant(
    deserializer: Callable[[bytes], Any],
) -> Callable[[bytes], Any]:
    def deserialize(request_bytes: bytes) -> Any:
        try:
            return deserializer(request_bytes)
        except DecodeError as exc:
            return MalformedRequest(str(exc))

    return deserialize


def _rpc_edge(
    method: Callable[[Any, RequestT, grpc.ServicerContext], plants_pb2.Plant],
) -> Callable[[Any, RequestT, grpc.ServicerContext], plants_pb2.Plant]:
    """Log one line per call and turn exceptions into gRPC status codes."""

    @functools.wraps(method)
    def wrapper(
        self: Any, request: RequestT, context: grpc.ServicerContext
    ) -> plants_pb2.Plant:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(rpc=method.__name__)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        self.calls_in_progress.add(threading.get_ident())
        try:
            if isinstance(request, MalformedRequest):
                msg = f"invalid request: {request.error}"
                raise InvalidRequestError(msg)
            reply = method(self, request, context)
        except DomainError as exc:
            code = _status_for(exc)
            _log_call(code, started, error=str(exc))
            context.abort(code, str(exc))
        except Exception:
            code = grpc.StatusCode.INTERNAL
            _log_call(code, started, exc_info=True)
            context.abort(code, "internal error")
        finally:
            self.calls_in_progress.discard(threading.get_ident())
        structlog.contextvars.bind_contextvars(plant_id=reply.id)
        _log_call(code, started)
        return reply

    return wrapper


def _status_for(error: DomainError) -> grpc.StatusCode:
    for error_type, code in _ERROR_STATUS:
        if isinstance(error, error_type):
            return code
    return grpc.StatusCode.INTERNAL


def _log_call(code: grpc.StatusCode, started: float, **fields: Any) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    if code is grpc.StatusCode.INTERNAL:
        level = log.error
    elif code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        level = log.warning
    else:
        level = log.info
    level("rpc_finished", code=code.name, duration_ms=duration_ms, **fields)


class PlantServicer(plants_pb2_grpc.PlantServiceServicer):
    def __init__(self, intake: PlantIntake) -> None:
        self._intake = intake
        # Threads running a call now; read at shutdown to find stuck calls.
        self.calls_in_progress: set[int] = set()

    @_rpc_edge
    def CreatePlant(
        self, request: plants_pb2.CreatePlantRequest, context: grpc.ServicerContext
    ) -> plants_pb2.Plant:
        plant = self._intake.create_plant(
            NewPlant(
                owner_id=request.owner_id,
                nickname=request.nickname,
                image_bytes=request.image,
                content_type_hint=request.image_content_type,
                idempotency_key=request.idempotency_key,
            ),
            deadline=_deadline(context),
        )
        return plant_to_proto(plant)

    @_rpc_edge
    def GetPlant(
        self, request: plants_pb2.GetPlantRequest, context: grpc.ServicerContext
    ) -> plants_pb2.Plant:
        plant = self._intake.get_plant(request.id, deadline=_deadline(context))
        return plant_to_proto(plant)


def _deadline(context: grpc.ServicerContext) -> float | None:
    """Return the caller's deadline as a `time.monotonic()` instant, if any."""
    remaining_s = context.time_remaining()
    if remaining_s is None:
        return None
    return time.monotonic() + remaining_s
