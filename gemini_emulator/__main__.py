"""Command line: run the Gemini emulator until SIGTERM or SIGINT.

    python -m gemini_emulator --host 127.0.0.1 --port 18080
    python -m gemini_emulator --port 0 --delay-s 0.5 --api-key KEY

With `--port 0` the OS picks a free port. Either way the first stdout line is
`listening on http://HOST:PORT`, flushed, so a script can read the port.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from gemini_emulator.emulator import start_emulator

logger = logging.getLogger("gemini_emulator")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gemini_emulator",
        description="Local emulator of Gemini generateContent (not the real API).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=18080,
        help="TCP port; 0 picks a free one (default 18080)",
    )
    parser.add_argument(
        "--delay-s",
        type=float,
        default=0.0,
        help="seconds to wait before each response unless a script entry sets "
        "delay_s (default 0)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="require this exact API key; without it any non-empty key is accepted",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    args = parser.parse_args(argv)
    if args.delay_s < 0:
        parser.error(f"--delay-s must be >= 0 seconds, got {args.delay_s}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    try:
        emulator = start_emulator(
            args.host, args.port, delay_s=args.delay_s, api_key=args.api_key
        )
    except OSError as error:
        logger.error("cannot listen on %s:%s: %s", args.host, args.port, error)
        return 1
    logger.info(
        "Gemini EMULATOR (not the real Gemini API) listening on %s; "
        "API: POST %s/v1beta/models/MODEL:generateContent, control: %s/emulator/; "
        "default delay %.3f s, API key %s",
        emulator.base_url,
        emulator.base_url,
        emulator.base_url,
        args.delay_s,
        "required" if args.api_key else "any non-empty",
    )
    print(f"listening on {emulator.base_url}", flush=True)

    # Event.wait without a timeout is not woken by signals on every platform,
    # so poll in short steps.
    while not stop_requested.wait(0.2):
        pass
    emulator.stop()
    logger.info("emulator on %s stopped", emulator.base_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
