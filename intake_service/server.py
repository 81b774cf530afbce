"""Building and running the intake gRPC server."""

import os
import signal
import ssl
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from dramatiq.brokers.redis import RedisBroker
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from intake_service.authentication import BearerTokenInterceptor
from intake_service.database_health import DatabaseHealthMonitor
from intake_service.plant_intake import PlantIntake
from intake_service.resend_loop import ResendLoop
from intake_service.servicer import MalformedRequestInterceptor, PlantServicer
from intake_service.settings import IntakeSettings
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.db import create_pool
from shared.image_store import ImageStore
from shared.messaging import create_broker, with_socket_timeouts

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
    database_health: DatabaseHealthMonitor
    resend_loop: ResendLoop
    servicer: PlantServicer

    def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for the whole server and PlantService.

        After `stop` began, the health service ignores this and stays
        NOT_SERVING.
        """
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", SERVICE_NAME):
            self.health.set(service, status)

    def on_database_change(self, is_reachable: bool) -> None:
        """Follow the database in the health status; refill the pool on recovery.

        After an outage the pool retries its lost connections with a growing
        backoff, so calls could wait seconds for one after the database came
        back. Checking the pool replaces dead connections at once.
        """
        if is_reachable:
            self.intake.pool.check()
        self.set_serving(is_reachable)

    def stop(self, grace_s: float) -> None:
        """Report NOT_SERVING, let in-flight calls finish, then release resources.

        New calls are rejected at once; calls still running after `grace_s`
        are cancelled.
        """
        self.health.enter_graceful_shutdown()
        self.database_health.request_stop()
        self.resend_loop.request_stop()
        self.server.stop(grace_s).wait()
        self.resend_loop.stop()
        self.database_health.stop()
        self.intake.pool.close()
        self.intake.broker.close()
        if isinstance(self.intake.broker, RedisBroker):
            # RedisBroker.close (Dramatiq 2.2) leaves its sockets open.
            self.intake.broker.client.connection_pool.disconnect()


class IntakeStartupError(Exception):
    """Raised when the server cannot start with the configured settings."""


def build_server(settings: IntakeSettings) -> IntakeServer:
    """Build and start the server on the configured address; open its resources.

    Raises `IntakeStartupError` when the image store directory is unusable,
    the TLS certificate and key are not a usable pair, or the address cannot
    be bound.
    """
    image_store_dir = Path(settings.image_store_dir)
    try:
        image_store_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"IMAGE_STORE_DIR {str(image_store_dir)!r} is not a usable directory: {exc}"
        )
        raise IntakeStartupError(msg) from exc
    credentials = _load_tls_credentials(settings)
    server = _build_grpc_server(settings)
    address = f"{settings.intake_grpc_host}:{settings.intake_grpc_port}"
    try:
        port = _add_port(server, address, credentials)
    except RuntimeError as exc:
        msg = (
            f"cannot listen on {address}: the port is in use or the host is "
            "invalid; check INTAKE_GRPC_HOST and INTAKE_GRPC_PORT"
        )
        raise IntakeStartupError(msg) from exc

    database_url = settings.database_url.get_secret_value()
    pool = create_pool(database_url, name="intake", max_size=settings.db_pool_max_size)
    pool.open(wait=False)
    broker = create_broker(
        with_socket_timeouts(settings.broker_url, settings.redis_timeout_s),
        namespace=settings.queue_namespace,
        heartbeat_timeout_ms=settings.queue_heartbeat_timeout_ms,
        maintenance_chance=settings.queue_maintenance_chance,
    )
    intake = PlantIntake(
        pool=pool,
        broker=broker,
        image_store=ImageStore(image_store_dir),
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
        pool_timeout_s=settings.db_pool_timeout_s,
    )

    servicer = PlantServicer(intake)
    plants_pb2_grpc.add_PlantServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    server.start()

    intake_server = IntakeServer(
        server,
        health_servicer,
        intake,
        port,
        database_health=DatabaseHealthMonitor(
            database_url,
            on_change=lambda is_up: intake_server.on_database_change(is_up),
            interval_s=settings.health_check_interval_s,
        ),
        resend_loop=ResendLoop(
            pool,
            broker,
            interval_s=settings.resend_interval_s,
            lease_s=settings.processing_lease_s,
            batch_size=settings.resend_batch_size,
        ),
        servicer=servicer,
    )
    intake_server.database_health.start()
    intake_server.resend_loop.start()
    log.info(
        "intake_started",
        address=address,
        port=port,
        tls=settings.intake_tls_cert_file is not None,
        authentication=bool(settings.auth_tokens()),
    )
    return intake_server


def _build_grpc_server(settings: IntakeSettings) -> grpc.Server:
    # A request larger than this gets RESOURCE_EXHAUSTED from gRPC itself,
    # before the handler could name the image limit.
    message_limit = settings.max_image_bytes + MESSAGE_OVERHEAD_BYTES
    tokens = settings.auth_tokens()
    interceptors: list[grpc.ServerInterceptor] = []
    if tokens:
        interceptors.append(BearerTokenInterceptor(tokens))
    interceptors.append(MalformedRequestInterceptor())
    return grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=settings.intake_grpc_threads,
            thread_name_prefix="rpc",
        ),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", message_limit),
            ("grpc.max_send_message_length", message_limit),
            # gRPC enables SO_REUSEPORT by default, so a second intake on the
            # same port would start silently and take part of the traffic.
            ("grpc.so_reuseport", 0),
        ],
    )


def _load_tls_credentials(settings: IntakeSettings) -> grpc.ServerCredentials | None:
    """Read and check the TLS certificate and key; return None without TLS.

    gRPC accepts any bytes here and fails only when it binds the port, with
    an error that does not name the cause. The same pair is therefore loaded
    with the `ssl` module first, which reports what is wrong with which file.
    """
    cert_file = settings.intake_tls_cert_file
    key_file = settings.intake_tls_key_file
    if cert_file is None or key_file is None:
        return None
    cert_bytes = _read_tls_file("INTAKE_TLS_CERT_FILE", cert_file)
    key_bytes = _read_tls_file("INTAKE_TLS_KEY_FILE", key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=cert_file)
    except ssl.SSLError as exc:
        msg = (
            f"INTAKE_TLS_CERT_FILE {str(cert_file)!r} contains no valid PEM "
            f"certificate: {exc}"
        )
        raise IntakeStartupError(msg) from exc
    try:
        # The callback makes an encrypted key fail here instead of prompting
        # for a password on the terminal.
        context.load_cert_chain(cert_file, key_file, password=lambda: b"")
    except ssl.SSLError as exc:
        msg = (
            f"INTAKE_TLS_KEY_FILE {str(key_file)!r} is not the unencrypted PEM "
            f"private key of the certificate in INTAKE_TLS_CERT_FILE "
            f"{str(cert_file)!r}: {exc}"
        )
        raise IntakeStartupError(msg) from exc
    return grpc.ssl_server_credentials([(key_bytes, cert_bytes)])


def _read_tls_file(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        msg = f"{variable} {str(path)!r} cannot be read: {exc.strerror or exc}"
        raise IntakeStartupError(msg) from exc


def _add_port(
    server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None
) -> int:
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)


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
    # gRPC cancels calls still running after the grace period, but cannot
    # interrupt a handler thread blocked in I/O, and the interpreter would
    # wait for that thread at exit. Such calls are abandoned instead.
    stuck_calls = len(intake_server.servicer.calls_in_progress)
    if stuck_calls:
        log.warning("intake_stopped", abandoned_calls=stuck_calls)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    log.info("intake_stopped")
