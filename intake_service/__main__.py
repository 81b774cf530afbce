"""Entry point: `python -m intake_service`."""

import sys

from intake_service.server import IntakeStartupError, serve
from intake_service.settings import IntakeSettings
from shared.logging import configure_logging
from shared.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings(IntakeSettings)
    except SettingsError as exc:
        print(f"intake_service: {exc}", file=sys.stderr)
        return 2
    configure_logging("intake", settings.log_level)
    try:
        serve(settings)
    except IntakeStartupError as exc:
        print(f"intake_service: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
