"""Building and running the intake gRPC server."""

import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from intake_service.plant_intake import PlantIntake
from intake_service.servicer import PlantServicer
from intake_service.settings import IntakeSettings
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.db import create_pool
from shared.image_store import ImageStore
from shared.messaging import create_broker

log = structlog.get_logger()

SERVICE_NAME = plants_pb2.DESCRIPTOR.services_by_name["PlantService"].full_name
# Room for the other request fields and protobuf framing around the photo.
MESSAGE_OVERHEAD_BYTES = 64 * 1024


@dataclass
class IntakeServer:
    server: grpc.Server
    health: health.HealthServicer
    intake: PlantIntake
    port: int

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", SERVICE_NAME):
            self.health.set(service, status)

    def stop(self, grace_s: float) -> None:
        """Report NOT_SERVING, let in-flight calls finish, then release resources."""
        self.set_serving(False)
        self.server.stop(grace_s).wait()
        self.intake.pool.close()
        self.intake.broker.close()


def build_server(settings: IntakeSettings) -> IntakeServer:
    """Build and start the server on the configured address; open its resources."""
    pool = create_pool(
        settings.database_url.get_secret_value(),
        name="intake",
        max_size=settings.db_pool_max_size,
    )
    pool.open(wait=False)
    broker = create_broker(settings.broker_url, namespace=settings.queue_namespace)
    image_store_dir = Path(settings.image_store_dir)
    image_store_dir.mkdir(parents=True, exist_ok=True)
    intake = PlantIntake(
        pool=pool,
        broker=broker,
        image_store=ImageStore(image_store_dir),
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
    )

    message_limit = settings.max_image_bytes + MESSAGE_OVERHEAD_BYTES
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=settings.intake_grpc_threads, thread_name_prefix="rpc"
        ),
        options=[
            ("grpc.max_receive_message_length", message_limit),
            ("grpc.max_send_message_length", message_limit),
        ],
    )
    plants_pb2_grpc.add_PlantServiceServicer_to_server(PlantServicer(intake), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{settings.intake_grpc_host}:{settings.intake_grpc_port}"
    port = server.add_insecure_port(address)
    server.start()

    intake_server = IntakeServer(server, health_servicer, intake, port)
    intake_server.set_serving(True)
    log.info("intake_started", address=address, port=port)
    return intake_server


def serve(settings: IntakeSettings) -> None:
    """Run until SIGTERM or SIGINT, then drain in-flight calls and exit."""
    intake_server = build_server(settings)
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("intake_stopping", signal=signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stop_requested.wait()
    intake_server.stop(settings.shutdown_grace_s)
    log.info("intake_stopped")
