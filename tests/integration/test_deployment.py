"""The Docker Compose file parses, and the images' install and start commands work.

No Docker engine runs here, so the compose file is checked with a compose
parser and the Dockerfile's `pip install .` is exercised by building the same
wheel and starting a service from it outside the source tree.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import compose_spec
import pytest

from tests.support import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def compose() -> dict:
    parsed = compose_spec.PyCompose.from_yaml(
        (REPO_ROOT / "docker-compose.yml").read_text()
    )
    return parsed.to_dict()


def test_compose_defines_every_service(compose: dict) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "intake",
        "worker",
        "gemini-emulator",
    }


def test_compose_targets_exist_in_dockerfile(compose: dict) -> None:
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, re.MULTILINE))

    for name, service in compose["services"].items():
        if "build" in service:
            assert service["build"]["target"] in targets, name


def test_worker_scales_and_shares_images_with_intake(compose: dict) -> None:
    worker = compose["services"]["worker"]
    intake = compose["services"]["intake"]

    assert "ports" not in worker
    assert "container_name" not in worker
    assert worker["volumes"] == intake["volumes"]
    assert worker["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert compose["services"]["gemini-emulator"]["profiles"] == ["emulator"]
    assert "GEMINI_API_KEY" not in intake["environment"]


def test_dockerfile_commands_are_exec_form() -> None:
    commands = re.findall(r"^CMD (.+)$", DOCKERFILE, re.MULTILINE)

    assert len(commands) == 3
    for command in commands:
        assert command.startswith("["), command
    assert '"dramatiq", "ai_worker.actors"' in DOCKERFILE


def test_installed_package_migrates_outside_source_tree(
    tmp_path: Path, database_url: str
) -> None:
    # Build from a copy, as the Dockerfile does, so no build/ appears here.
    source = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".demo", "build", "*.egg-info", "__pycache__", "tests"
        ),
    )
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(wheel_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheel_dir.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    install_dir = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(install_dir),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )

    result = subprocess.run(
        [sys.executable, "-P", "-m", "shared.migrate"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(install_dir),
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "shared/migrations/0001_create_plants.sql" in names
    assert "protos/plants/v1/plants_pb2_grpc.py" in names
    assert "gemini_emulator/__main__.py" in names
    assert result.returncode == 0, result.stderr
    assert '"migrations_up_to_date"' in result.stderr


def test_worker_stops_within_its_grace_period(compose: dict) -> None:
    shutdown_ms = int(
        re.search(r'"--worker-shutdown-timeout", "(\d+)"', DOCKERFILE).group(1)
    )
    grace = compose["services"]["worker"]["stop_grace_period"]
    # The parser normalises durations to Go's form, such as "1m20s".
    unit_s = {"h": 3600, "m": 60, "s": 1}
    grace_s = sum(
        int(amount) * unit_s[unit]
        for amount, unit in re.findall(r"(\d+)([hms])", grace)
    )

    # The default time limit per message is GEMINI_TIMEOUT_S (30) + 30 s.
    assert shutdown_ms > 60_000
    assert grace_s * 1000 > shutdown_ms
