"""HTTP server of the Gemini emulator: generateContent plus the control API.

Two path spaces are kept apart:

- `POST /{v1|v1beta}/models/{model}:generateContent` emulates the Gemini API.
- `/emulator/...` scripts and inspects the emulator from another process:
  `GET /emulator/health`, `GET|POST /emulator/config` (`delay_s`, `api_key`),
  `GET|POST /emulator/script` (`{"responses": [entry, ...]}`, optionally
  with `"image_sha256"` to serve only calls carrying that image),
  `POST /emulator/reset` and `GET /emulator/requests`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gemini_emulator import catalog, faults, wire
from gemini_emulator.state import EmulatorState, RecordedRequest

logger = logging.getLogger("gemini_emulator")

# Bodies above this size get 413 before they are read, to bound memory.
# NOTE: the real API limited inline requests to 20 MB, and its changelog of
# 2026-01-08 raised the file limit to 100 MB. The 20 MB limit is not emulated.
MAX_BODY_BYTES = 100 * 1024 * 1024

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_API_PATH = re.compile(
    r"^/(?P<version>[^/]+)/models/(?P<model>[^:]+):(?P<method>[A-Za-z]+)$"
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Thread-per-connection server that can close its open connections on stop."""

    daemon_threads = True
    # Do not wait for hanging handler threads on close, because stop() ends them.
    block_on_close = False
    # The default backlog of 5 drops connections when 200+ clients connect at once.
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: EmulatorState) -> None:
        super().__init__(address, EmulatorRequestHandler)
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection so their threads return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # OSError means the client already closed it.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    """Routes one HTTP/1.1 keep-alive connection to the API or the control API."""

    protocol_version = "HTTP/1.1"
    server_version = "GeminiEmulator/1.0"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 300
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        # The emulator logs its own line per request, and http.server's access
        # log would repeat it without the model and fault kind.
        return

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        body = self._read_body()
        if body is None:
            return
        if path == "/emulator" or path.startswith("/emulator/"):
            self._control(method, path, body)
            return
        match = _API_PATH.match(path)
        if match is None or method != "POST":
            message = (
                f"{method} {path} is not served. The emulator serves POST "
                "/{v1|v1beta}/models/{model}:generateContent and /emulator/..."
            )
            self._send(faults.Reply(404, wire.google_error(404, "NOT_FOUND", message)))
            return
        self._generate_content(
            match["version"], match["model"], match["method"], parse_qs(url.query), body
        )

    def _read_body(self) -> bytes | None:
        """Read the whole request body, or respond 400/413, close and return None."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length_header = self.headers.get("Content-Length", "0")
        try:
            length = int(length_header)
        except ValueError:
            self._reject_body(400, f"Content-Length {length_header!r} is not a number.")
            return None
        if length > MAX_BODY_BYTES:
            self._reject_body(
                413, f"Request body of {length} bytes exceeds {MAX_BODY_BYTES} bytes."
            )
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the blank line that ends the body.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self._reject_body(413, f"Request body exceeds {MAX_BODY_BYTES} bytes.")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _reject_body(self, code: int, message: str) -> None:
        status = "INVALID_ARGUMENT" if code == 400 else "RESOURCE_EXHAUSTED"
        self.close_connection = True
        self._send(faults.Reply(code, wire.google_error(code, status, message)))
        logger.warning("rejected request body: %s", message)

    def _send(self, reply: faults.Reply) -> bool:
        """Write the reply, or return False when the client has already gone."""
        if isinstance(reply.body, str) and not reply.content_type.startswith(
            "application/json"
        ):
            data = reply.body.encode("utf-8")
        else:
            data = json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.drip is None:
                self.wfile.write(data)
                self.wfile.flush()
            else:
                self._write_slowly(data, *reply.drip)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def _write_slowly(self, data: bytes, chunks: int, interval_s: float) -> None:
        piece_size = max(1, -(-len(data) // chunks))
        for start in range(0, len(data), piece_size):
            if start:
                time.sleep(interval_s)
            self.wfile.write(data[start : start + piece_size])
            self.wfile.flush()

    def _disconnect(self) -> None:
        self.close_connection = True
        # OSError means the client closed first.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # generateContent

    def _generate_content(
        self,
        api_version: str,
        model_path: str,
        method: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        state = self.server.state
        model = model_path.removeprefix("models/")
        api_key = self.headers.get("x-goog-api-key") or (query.get("key") or [""])[0]
        record = state.record(
            api_version=api_version, model=model, api_key_present=bool(api_key)
        )
        try:
            outcome, fault = self._build_response(
                record, api_version, model, method, api_key, body
            )
        except wire.RequestRejectedError as rejection:
            outcome, fault = (
                faults.Reply(rejection.code, rejection.body()),
                rejection.reason,
            )

        # The record is complete before the response leaves, so a client that
        # reads the records right after its call finds that call finished.
        status = None if isinstance(outcome, faults.Disconnect) else outcome.status
        state.update_record(
            record, status=status, fault=fault, responded_monotonic=time.monotonic()
        )
        if isinstance(outcome, faults.Disconnect):
            self._disconnect()
        elif not self._send(outcome):
            fault = f"{fault} (client gone before the response)"
            state.update_record(record, fault=fault)
        elapsed_ms = (time.monotonic() - record.received_monotonic) * 1000
        logger.info(
            "generateContent seq=%d api_version=%s model=%s status=%s fault=%s "
            "duration_ms=%.0f",
            record.seq,
            api_version,
            model,
            "disconnect" if status is None else status,
            fault,
            elapsed_ms,
        )

    def _build_response(
        self,
        record: RecordedRequest,
        api_version: str,
        model: str,
        method: str,
        api_key: str,
        body: bytes,
    ) -> tuple[faults.Reply | faults.Disconnect, str]:
        """Check the call like the real API and build the response from the script."""
        state = self.server.state
        if api_version not in catalog.API_VERSIONS:
            raise wire.RequestRejectedError(
                404,
                "NOT_FOUND",
                f"API version {api_version!r} is not served; expected v1 or v1beta.",
                reason="unknown_api_version",
            )
        if method != "generateContent":
            raise wire.RequestRejectedError(
                404,
                "NOT_FOUND",
                f"Method {method!r} is not emulated; the emulator serves only "
                "generateContent.",
                reason="unsupported_method",
            )
        _check_api_key(api_key, state.api_key)
        model_version = catalog.resolve_model(model, api_version)
        if model_version is None:
            raise wire.RequestRejectedError(
                404,
                "NOT_FOUND",
                f"models/{model} is not found for API version {api_version}, or is "
                "not supported for generateContent. Call ListModels to see the list "
                "of available models and their supported methods.",
                reason="retired_model"
                if catalog.is_retired(model)
                else "unknown_model",
            )

        request = wire.inspect_request(body)
        image = request.image or b""
        state.update_record(
            record,
            has_image=bool(image),
            mime_type=request.mime_type,
            image_bytes=len(image),
            image_sha256=hashlib.sha256(image).hexdigest() if image else None,
            generation_config=request.generation_config,
        )
        if request.problems:
            raise request.problems[0]

        entry = state.next_entry(record.image_sha256)
        delay_s = faults.delay_for(entry, state.delay_s)
        if delay_s > 0 and state.stopping.wait(delay_s):
            return faults.Disconnect(), f"{entry.kind} (emulator stopping)"
        return faults.build_reply(entry, request, model_version), entry.kind

    # Control API

    def _control(self, method: str, path: str, body: bytes) -> None:
        state = self.server.state
        route = (method, path.rstrip("/"))
        try:
            payload = json.loads(body) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self._control_error(400, f"request body is not valid JSON: {error}")
            return

        if route == ("GET", "/emulator/health"):
            result: Any = {"status": "ok", "emulator": True}
        elif route == ("GET", "/emulator/config"):
            result = state.snapshot_config()
        elif route == ("POST", "/emulator/config"):
            error = _apply_config(state, payload)
            if error:
                self._control_error(400, error)
                return
            result = state.snapshot_config()
        elif route == ("GET", "/emulator/script"):
            result = {"pending": state.pending()}
        elif route == ("POST", "/emulator/script"):
            entries = payload.get("responses") if isinstance(payload, dict) else payload
            image_sha256 = (
                payload.get("image_sha256") if isinstance(payload, dict) else None
            )
            if not isinstance(entries, list):
                self._control_error(
                    400,
                    'expected {"responses": [entry, ...]} or a JSON list of entries',
                )
                return
            if image_sha256 is not None and not _SHA256_HEX.fullmatch(
                str(image_sha256)
            ):
                self._control_error(
                    400,
                    f"image_sha256 must be 64 hexadecimal digits, got {image_sha256!r}",
                )
                return
            try:
                queued = state.enqueue(entries, image_sha256)
            except faults.ScriptError as error:
                self._control_error(400, str(error))
                return
            result = {"pending_calls": queued}
        elif route == ("POST", "/emulator/reset"):
            state.reset()
            result = {"reset": True}
        elif route == ("GET", "/emulator/requests"):
            result = {"requests": [r.to_json() for r in state.records()]}
        else:
            self._control_error(404, f"no control endpoint {method} {path}")
            return
        self._send(faults.Reply(200, result))
        logger.debug("control %s %s -> 200", method, path)

    def _control_error(self, code: int, message: str) -> None:
        status = "INVALID_ARGUMENT" if code == 400 else "NOT_FOUND"
        self._send(faults.Reply(code, wire.google_error(code, status, message)))
        logger.warning("control request rejected: %s", message)


def _check_api_key(api_key: str, expected: str | None) -> None:
    if not api_key:
        raise wire.RequestRejectedError(
            403,
            "PERMISSION_DENIED",
            "The request has no API key. Pass it in the x-goog-api-key header or "
            "the key query parameter.",
            reason="missing_api_key",
        )
    if expected is not None and api_key != expected:
        message = "API key not valid. Please pass a valid API key."
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ]
        raise wire.RequestRejectedError(
            400, "INVALID_ARGUMENT", message, reason="invalid_api_key", details=details
        )


def _apply_config(state: EmulatorState, payload: Any) -> str | None:
    """Apply a POST /emulator/config body and return an error message or None."""
    if not isinstance(payload, dict):
        return 'expected a JSON object such as {"delay_s": 0.5}'
    unknown = set(payload) - {"delay_s", "api_key"}
    if unknown:
        return f"unknown config field(s) {sorted(unknown)}; expected delay_s, api_key"
    delay_s = payload.get("delay_s")
    if delay_s is not None and (
        not isinstance(delay_s, int | float) or isinstance(delay_s, bool) or delay_s < 0
    ):
        return f"delay_s must be a number of seconds >= 0, got {delay_s!r}"
    if "api_key" in payload:
        api_key = payload["api_key"]
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            return f"api_key must be a non-empty string or null, got {api_key!r}"
        state.configure(delay_s=delay_s, api_key=api_key)
    else:
        state.configure(delay_s=delay_s)
    return None
