"""Helpers for tests that run the real services as processes."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tests" / "data"
VENV_BIN = Path(sys.executable).parent


def wait_until(
    condition: Callable[[], object], *, timeout_s: float, interval_s: float = 0.05
) -> object:
    """Poll `condition` until it returns a true value; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout_s} s"
            raise TimeoutError(msg)
        time.sleep(interval_s)


class ServiceProcess:
    """A service started as a child process, with its output in a log file."""

    def __init__(
        self, arguments: list[str], env: dict[str, str], log_path: Path
    ) -> None:
        self.log_path = log_path
        self._log_file = log_path.open("wb")
        self.process = subprocess.Popen(
            arguments,
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, pattern: str, *, timeout_s: float = 30.0) -> None:
        regex = re.compile(pattern)

        def found() -> bool:
            if self.process.poll() is not None and not regex.search(self.output()):
                msg = (
                    f"process exited with {self.process.returncode} before "
                    f"printing {pattern!r}:\n{self.output()[-4000:]}"
                )
                raise RuntimeError(msg)
            return bool(regex.search(self.output()))

        wait_until(found, timeout_s=timeout_s)

    def signal(self, signum: int) -> None:
        """Send a signal to the process and all its children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self, timeout_s: float = 30.0) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait(timeout=10)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log_file.close()
