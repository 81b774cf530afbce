"""Mutable emulator state shared by all request threads: script, delay, records."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gemini_emulator.faults import DEFAULT_ENTRY, ScriptEntry, parse_entry

# NOTE: older records are dropped beyond this count, so a long benchmark does
# not grow memory without bound. `requests()` then returns only the newest.
MAX_RECORDS = 10_000


@dataclass
class RecordedRequest:
    """One generateContent call as the emulator received and handled it.

    `fault` is the scripted kind that responded (`ok`, `rate_limited`, ...) or
    the reason for a rejection (`missing_api_key`, `retired_model`, ...).
    `status` stays None while the call is pending and after a `disconnect`.
    Monotonic times come from the emulator's process clock.
    """

    seq: int
    received_monotonic: float
    received_wall: float
    api_version: str
    model: str
    api_key_present: bool
    has_image: bool = False
    mime_type: str | None = None
    image_bytes: int = 0
    image_sha256: str | None = None
    generation_config: dict[str, Any] = field(default_factory=dict)
    fault: str | None = None
    status: int | None = None
    responded_monotonic: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedRequest:
        return cls(**data)


class EmulatorState:
    """Script queue, default delay, expected API key and request records.

    Every method takes the lock, because each connection runs in its own thread.
    """

    def __init__(self, *, delay_s: float = 0.0, api_key: str | None = None) -> None:
        self._lock = threading.Lock()
        self._initial_delay_s = delay_s
        self._initial_api_key = api_key
        self.delay_s = delay_s
        self.api_key = api_key
        # Each item is [entry, calls left], so `times` can count down in place.
        self._script: collections.deque[list[Any]] = collections.deque()
        # Scripts that serve only calls whose image has this SHA-256, so that
        # concurrent calls for different photos each get their own faults.
        self._image_scripts: dict[str, collections.deque[list[Any]]] = {}
        self._records: collections.deque[RecordedRequest] = collections.deque(
            maxlen=MAX_RECORDS
        )
        self._next_seq = 1
        # Set on shutdown to end delays and hangs early.
        self.stopping = threading.Event()

    def enqueue(self, entries: Iterable[Any], image_sha256: str | None = None) -> int:
        """Validate all entries, queue them and return the number of scripted calls.

        With `image_sha256`, the entries serve only calls whose image has that
        SHA-256 (hex), and such calls take them before the shared script.
        Raises faults.ScriptError without queueing anything if one is invalid.
        """
        parsed = [parse_entry(entry) for entry in entries]
        with self._lock:
            if image_sha256 is None:
                script = self._script
            else:
                script = self._image_scripts.setdefault(
                    image_sha256.lower(), collections.deque()
                )
            script.extend([entry, entry.times] for entry in parsed)
            return sum(left for _, left in script)

    def next_entry(self, image_sha256: str | None = None) -> ScriptEntry:
        """Consume one call from the image's script, the shared one, or the default."""
        with self._lock:
            script = self._image_scripts.get(image_sha256 or "")
            if not script:
                script = self._script
            if not script:
                return DEFAULT_ENTRY
            head = script[0]
            head[1] -= 1
            if head[1] == 0:
                script.popleft()
            return head[0]

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**entry.to_json(), "times": left} for entry, left in self._script]

    def configure(self, *, delay_s: float | None = None, api_key: Any = ...) -> None:
        """Set the default delay and/or the expected API key (None accepts any key)."""
        with self._lock:
            if delay_s is not None:
                self.delay_s = delay_s
            if api_key is not ...:
                self.api_key = api_key

    def reset(self) -> None:
        """Clear script and records and restore the delay and key from startup."""
        with self._lock:
            self._script.clear()
            self._image_scripts.clear()
            self._records.clear()
            self.delay_s = self._initial_delay_s
            self.api_key = self._initial_api_key

    def record(
        self, *, api_version: str, model: str, api_key_present: bool
    ) -> RecordedRequest:
        """Create and store the record of a call as it arrives."""
        with self._lock:
            record = RecordedRequest(
                seq=self._next_seq,
                received_monotonic=time.monotonic(),
                received_wall=time.time(),
                api_version=api_version,
                model=model,
                api_key_present=api_key_present,
            )
            self._next_seq += 1
            self._records.append(record)
            return record

    def update_record(self, record: RecordedRequest, **fields: Any) -> None:
        """Set fields of a stored record under the lock, so copies are consistent."""
        with self._lock:
            for name, value in fields.items():
                setattr(record, name, value)

    def records(self) -> list[RecordedRequest]:
        """Return copies of the records, oldest first."""
        with self._lock:
            return [dataclasses.replace(r) for r in self._records]

    def snapshot_config(self) -> dict[str, Any]:
        with self._lock:
            return {
                "delay_s": self.delay_s,
                "api_key_required": self.api_key is not None,
            }
