"""The intake refuses to start on a taken port or an unusable image store."""

import subprocess
import sys
from pathlib import Path

import pytest

from intake_service.server import IntakeServer, IntakeStartupError, build_server
from intake_service.settings import IntakeSettings
from tests.support import REPO_ROOT


def test_second_intake_on_same_port_fails(
    intake_server: IntakeServer, intake_settings: IntakeSettings
) -> None:
    taken = intake_settings.model_copy(update={"intake_grpc_port": intake_server.port})

    with pytest.raises(IntakeStartupError) as caught:
        build_server(taken)

    assert f"127.0.0.1:{intake_server.port}" in str(caught.value)
    assert "INTAKE_GRPC_PORT" in str(caught.value)


def test_image_store_on_a_file_stops_intake(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")

    result = subprocess.run(
        [sys.executable, "-m", "intake_service"],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            **service_env,
            "IMAGE_STORE_DIR": str(not_a_directory),
            "INTAKE_GRPC_PORT": "0",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "IMAGE_STORE_DIR" in result.stderr
    assert "not a usable directory" in result.stderr
    assert "Traceback" not in result.stderr


def run_intake(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m intake_service` with `env`, expecting it to stop at start."""
    return subprocess.run(
        [sys.executable, "-m", "intake_service"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "INTAKE_GRPC_PORT": "0", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("value", [" , ", ",", "   "])
def test_auth_tokens_without_token_stop_intake(
    service_env: dict[str, str], value: str
) -> None:
    result = run_intake({**service_env, "INTAKE_AUTH_TOKENS": value})

    assert result.returncode == 2
    assert "INTAKE_AUTH_TOKENS" in result.stderr
    assert "contains no token" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_auth_tokens_turn_auth_off(intake_settings: IntakeSettings) -> None:
    settings = IntakeSettings.model_validate(
        {**intake_settings.model_dump(), "intake_auth_tokens": ""}
    )

    assert settings.intake_auth_tokens is None
    assert settings.auth_tokens() == []
