"""The two services stay independent and agree on the message contract."""

import subprocess
import sys
from pathlib import Path

import pytest

from protos.generate import generate
from tests.support import REPO_ROOT

PROTO_DIR = REPO_ROOT / "protos" / "plants" / "v1"


def run_python(
    code: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_intake_never_imports_ai_worker() -> None:
    result = run_python(
        "import sys\n"
        "import intake_service.__main__, intake_service.server\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'ai_worker')\n"
        "print(leaked)\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ai_worker_never_imports_intake(worker_env: dict[str, str]) -> None:
    result = run_python(
        "import sys\n"
        "import ai_worker.actors\n"
        "leaked = sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] == 'intake_service'\n"
        ")\n"
        "print(leaked)\n",
        env=worker_env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_worker_declares_the_queue_and_actor_intake_sends(
    worker_env: dict[str, str],
) -> None:
    result = run_python(
        "import ai_worker.actors as actors\n"
        "from shared.messaging import ACTOR_NAME, QUEUE_NAME, build_plant_message\n"
        "import uuid\n"
        "message = build_plant_message(uuid.uuid4(), 'ab/x.jpg')\n"
        "actor = actors.broker.get_actor(message.actor_name)\n"
        "print(actor.queue_name == message.queue_name == QUEUE_NAME)\n"
        "print(actor.actor_name == ACTOR_NAME)\n"
        "print(sorted(message.kwargs))\n"
        "import inspect\n"
        "print(sorted(inspect.signature(actor.fn).parameters))\n",
        env=worker_env,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "True"
    assert lines[1] == "True"
    assert lines[2] == lines[3] == "['image_path', 'plant_id']"


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    generate(tmp_path)

    generated_dir = tmp_path / "protos" / "plants" / "v1"
    for name in ("plants_pb2.py", "plants_pb2.pyi", "plants_pb2_grpc.py"):
        committed = (PROTO_DIR / name).read_text()
        fresh = (generated_dir / name).read_text()
        assert committed == fresh, f"{name} is stale: run `make protos`"


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        (["-m", "intake_service"], "DATABASE_URL"),
        (["-m", "shared.migrate"], "DATABASE_URL"),
    ],
)
def test_missing_setting_stops_service(command: list[str], missing: str) -> None:
    result = subprocess.run(
        [sys.executable, *command],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert f"missing required setting {missing}" in result.stderr
