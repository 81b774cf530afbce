"""Start the Gemini emulator in a background thread and control it in-process."""

from __future__ import annotations

import threading
from typing import Any

from gemini_emulator.server import EmulatorHTTPServer
from gemini_emulator.state import EmulatorState, RecordedRequest


class EmulatorHandle:
    """A running emulator: its base URL plus script, delay and record control."""

    def __init__(self, server: EmulatorHTTPServer) -> None:
        self._server = server
        self._state = server.state
        host, port = server.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"gemini-emulator-{self.port}",
            daemon=True,
        )

    def _start(self) -> None:
        self._thread.start()

    def script(self, *responses: Any, image_sha256: str | None = None) -> None:
        """Queue scripted responses (kind strings, dicts or ScriptEntry objects).

        With `image_sha256` (hex), they serve only calls whose inline image has
        that SHA-256, ahead of the shared script. Raises faults.ScriptError,
        queueing nothing, if any entry is invalid.
        """
        self._state.enqueue(responses, image_sha256)

    def pending_script(self) -> list[dict[str, Any]]:
        return self._state.pending()

    def set_delay(self, seconds: float) -> None:
        """Set the delay before every response whose script entry has no `delay_s`."""
        if seconds < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {seconds!r}")
        self._state.configure(delay_s=seconds)

    def set_api_key(self, api_key: str | None) -> None:
        """Require this API key on every call, or accept any non-empty key if None."""
        self._state.configure(api_key=api_key)

    def requests(self) -> list[RecordedRequest]:
        """Return the recorded generateContent calls, oldest first."""
        return self._state.records()

    def reset(self) -> None:
        """Clear the script and records, and restore the startup delay and key."""
        self._state.reset()

    def stop(self) -> None:
        """Stop serving, end pending delays and close open client connections."""
        self._state.stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    delay_s: float = 0.0,
    api_key: str | None = None,
) -> EmulatorHandle:
    """Start an emulator on host:port (0 picks a free port) and return its handle.

    `api_key` None accepts any non-empty key; a string requires that exact key.
    """
    state = EmulatorState(delay_s=delay_s, api_key=api_key)
    handle = EmulatorHandle(EmulatorHTTPServer((host, port), state))
    handle._start()
    return handle
