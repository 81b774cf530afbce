"""The intake stops at start on bad settings, naming the setting and the cause."""

import subprocess
import sys
from pathlib import Path

import pytest

from intake_service.server import IntakeServer, IntakeStartupError, build_server
from intake_service.settings import IntakeSettings
from tests.support import REPO_ROOT, make_self_signed_certificate


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


def tls_pair(directory: Path, case: str) -> tuple[Path, Path]:
    """Return a certificate and key file for one misconfiguration `case`."""
    cert_path, key_path = make_self_signed_certificate(directory)
    if case == "key-of-other-certificate":
        _, other_key_path = make_self_signed_certificate(directory, "other")
        return cert_path, other_key_path
    if case == "garbage-key":
        key_path.write_bytes(b"not a key\n")
        return cert_path, key_path
    if case == "swapped-files":
        return key_path, cert_path
    if case == "missing-key":
        return cert_path, directory / "missing-key.pem"
    raise AssertionError(case)


# (case, words the error message must contain)
BAD_TLS_PAIRS = [
    (
        "key-of-other-certificate",
        ["INTAKE_TLS_KEY_FILE", "other-key.pem", "KEY_VALUES_MISMATCH"],
    ),
    (
        "garbage-key",
        [
            "INTAKE_TLS_KEY_FILE",
            "server-key.pem",
            "not the unencrypted PEM private key",
        ],
    ),
    (
        "swapped-files",
        ["INTAKE_TLS_CERT_FILE", "server-key.pem", "no valid PEM certificate"],
    ),
    (
        "missing-key",
        ["INTAKE_TLS_KEY_FILE", "missing-key.pem", "No such file or directory"],
    ),
]


@pytest.mark.parametrize(
    ("case", "expected_words"),
    [pytest.param(case, words, id=case) for case, words in BAD_TLS_PAIRS],
)
def test_bad_tls_pair_stops_intake(
    intake_settings: IntakeSettings,
    tmp_path: Path,
    case: str,
    expected_words: list[str],
) -> None:
    cert_path, key_path = tls_pair(tmp_path, case)
    settings = intake_settings.model_copy(
        update={"intake_tls_cert_file": cert_path, "intake_tls_key_file": key_path}
    )

    with pytest.raises(IntakeStartupError) as caught:
        build_server(settings)

    for word in expected_words:
        assert word in str(caught.value)
    assert "port is in use" not in str(caught.value)


def test_missing_tls_file_exits_without_traceback(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    cert_path, key_path = tls_pair(tmp_path, "missing-key")

    result = run_intake(
        {
            **service_env,
            "INTAKE_TLS_CERT_FILE": str(cert_path),
            "INTAKE_TLS_KEY_FILE": str(key_path),
        }
    )

    assert result.returncode == 1
    assert "INTAKE_TLS_KEY_FILE" in result.stderr
    assert "cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
