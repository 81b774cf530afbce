"""Optional bearer-token authentication of callers, as a server interceptor."""

import hmac
import time
from collections.abc import Callable
from typing import Any

import grpc
import structlog

log = structlog.get_logger()

# Load balancers and orchestrators probe health without credentials.
OPEN_SERVICE_PREFIXES = ("/grpc.health.v1.Health/",)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>` for a known token.

    Rejected calls end with UNAUTHENTICATED before any handler runs. Tokens
    are compared in constant time, against every known token, so neither the
    timing nor the number of comparisons depends on which token matched.
    """

    def __init__(self, tokens: list[str]) -> None:
        if not tokens:
            raise ValueError("at least one token is required")
        self._tokens = [token.encode() for token in tokens]

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method.startswith(OPEN_SERVICE_PREFIXES) or self._is_authorized(
            handler_call_details.invocation_metadata
        ):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return _rejecting_handler(handler, method)

    def _is_authorized(self, metadata: Any) -> bool:
        values = [value for key, value in metadata or () if key == "authorization"]
        if len(values) != 1 or not isinstance(values[0], str):
            return False
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        presented = token.strip().encode()
        matches = [hmac.compare_digest(presented, known) for known in self._tokens]
        return any(matches)


def _rejecting_handler(
    handler: grpc.RpcMethodHandler, method: str
) -> grpc.RpcMethodHandler:
    def reject(_request: Any, context: grpc.ServicerContext) -> None:
        started = time.perf_counter()
        message = (
            "missing or invalid bearer token: send the metadata "
            "`authorization: Bearer <token>` with a configured token"
        )
        log.warning(
            "rpc_finished",
            rpc=method.rsplit("/", 1)[-1],
            code=grpc.StatusCode.UNAUTHENTICATED.name,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(reject)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(reject)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(reject)
    return grpc.unary_unary_rpc_method_handler(reject)
