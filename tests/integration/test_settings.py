"""Settings come from the environment; missing ones stop the process early."""

import subprocess

import pytest

from ai_worker.settings import WorkerSettings
from shared.settings import SettingsError, load_settings
from tests.conftest import EMULATOR_API_KEY, WorkerFactory
from tests.support import REPO_ROOT, VENV_BIN


def test_worker_without_api_key_exits_naming_it(worker_env: dict[str, str]) -> None:
    env = {key: value for key, value in worker_env.items() if key != "GEMINI_API_KEY"}

    result = subprocess.run(
        [str(VENV_BIN / "dramatiq"), "ai_worker.actors", "--processes", "1"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "missing required setting GEMINI_API_KEY" in result.stderr


def test_load_settings_names_every_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "IMAGE_STORE_DIR", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SettingsError) as caught:
        load_settings(WorkerSettings)

    message = str(caught.value)
    assert "missing required setting DATABASE_URL" in message
    assert "missing required setting IMAGE_STORE_DIR" in message
    assert "missing required setting GEMINI_API_KEY" in message


def test_invalid_setting_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch, worker_env: dict[str, str]
) -> None:
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORKER_MAX_ATTEMPTS", "lots")

    with pytest.raises(SettingsError) as caught:
        load_settings(WorkerSettings)

    assert "invalid setting WORKER_MAX_ATTEMPTS" in str(caught.value)


def test_api_key_stays_out_of_repr_and_logs(
    monkeypatch: pytest.MonkeyPatch,
    worker_env: dict[str, str],
    start_worker: WorkerFactory,
) -> None:
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)

    settings = load_settings(WorkerSettings)
    worker = start_worker()

    assert EMULATOR_API_KEY not in repr(settings)
    assert EMULATOR_API_KEY not in str(settings)
    assert worker_env["DATABASE_URL"] not in repr(settings)
    worker.stop()
    assert EMULATOR_API_KEY not in worker.output()


def test_empty_api_key_is_rejected(
    monkeypatch: pytest.MonkeyPatch, worker_env: dict[str, str]
) -> None:
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GEMINI_API_KEY", "  ")

    with pytest.raises(SettingsError) as caught:
        load_settings(WorkerSettings)

    assert "invalid setting GEMINI_API_KEY: is empty" in str(caught.value)
    assert "Value error" not in str(caught.value)
