"""Bare gRPC server, the baseline of the intake benchmark.

`python -m bench.echo_server --port N` serves two methods with the intake's
thread pool size and message limits, and prints `listening on PORT`:
`/bench.v1.Echo/Echo` returns the request bytes, and `/bench.v1.Echo/Sink`
takes a request (such as one carrying a photo) and returns an empty reply.
"""

import argparse
import signal
import sys
import threading
from concurrent import futures

import grpc

MESSAGE_LIMIT_BYTES = 20 * 1024 * 1024 + 64 * 1024
# Same as the intake's default INTAKE_GRPC_THREADS.
THREADS = 32


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def _sink(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_server")
    parser.add_argument("--port", type=int, required=True, help="TCP port")
    args = parser.parse_args()

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=THREADS),
        options=[
            ("grpc.max_receive_message_length", MESSAGE_LIMIT_BYTES),
            ("grpc.max_send_message_length", MESSAGE_LIMIT_BYTES),
        ],
    )
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Sink": grpc.unary_unary_rpc_method_handler(_sink),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.v1.Echo", handlers),)
    )
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening on {args.port}", flush=True)

    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    while not stop_requested.wait(0.2):
        pass
    server.stop(1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
