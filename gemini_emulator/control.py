"""Client for the emulator's `/emulator/...` control API, for other processes.

It mirrors `EmulatorHandle` so a demo, a benchmark or a worker test can script
an emulator started with `python -m gemini_emulator`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gemini_emulator.faults import ScriptEntry
from gemini_emulator.state import RecordedRequest


class EmulatorControlError(RuntimeError):
    """A control request failed or the emulator rejected it."""


class EmulatorControl:
    """Scripts and inspects a running emulator over HTTP."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # An empty ProxyHandler keeps urllib from sending loopback traffic to a
        # proxy named in the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise EmulatorControlError(
                f"{method} {path} failed with HTTP {error.code}: {detail}"
            ) from None
        except urllib.error.URLError as error:
            raise EmulatorControlError(
                f"{method} {path} failed: emulator at {self.base_url} is not "
                f"reachable ({error.reason})"
            ) from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/emulator/health")

    def script(self, *responses: Any, image_sha256: str | None = None) -> int:
        """Queue scripted responses and return the number of calls now scripted.

        With `image_sha256`, they serve only calls whose image has that SHA-256.
        """
        entries = [r.to_json() if isinstance(r, ScriptEntry) else r for r in responses]
        payload: dict[str, Any] = {"responses": entries}
        if image_sha256 is not None:
            payload["image_sha256"] = image_sha256
        return self._call("POST", "/emulator/script", payload)["pending_calls"]

    def pending_script(self) -> list[dict[str, Any]]:
        return self._call("GET", "/emulator/script")["pending"]

    def set_delay(self, seconds: float) -> None:
        self._call("POST", "/emulator/config", {"delay_s": seconds})

    def set_api_key(self, api_key: str | None) -> None:
        self._call("POST", "/emulator/config", {"api_key": api_key})

    def requests(self) -> list[RecordedRequest]:
        records = self._call("GET", "/emulator/requests")["requests"]
        return [RecordedRequest.from_json(record) for record in records]

    def reset(self) -> None:
        self._call("POST", "/emulator/reset", {})
