"""Local emulator of the Gemini `generateContent` REST API, for demos and tests.

It is NOT the real Gemini API: responses come from canned care data for a few
house plants, and faults come from a script. See `faults` for the scripted
kinds and `server` for the HTTP paths.

In-process use::

    from gemini_emulator import start_emulator

    with start_emulator() as emulator:
        emulator.script({"kind": "rate_limited", "retry_delay": "0.8s"})
        ...  # point google-genai at emulator.base_url

From a shell: `python -m gemini_emulator --port 0` prints
`listening on http://127.0.0.1:PORT` on stdout; script it with
`gemini_emulator.control.EmulatorControl`.
"""

from gemini_emulator.control import EmulatorControl, EmulatorControlError
from gemini_emulator.emulator import EmulatorHandle, start_emulator
from gemini_emulator.faults import ScriptEntry, ScriptError
from gemini_emulator.plants import PLANT_NAMES, canned_plants
from gemini_emulator.state import RecordedRequest

__all__ = [
    "PLANT_NAMES",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorHandle",
    "RecordedRequest",
    "ScriptEntry",
    "ScriptError",
    "canned_plants",
    "start_emulator",
]
