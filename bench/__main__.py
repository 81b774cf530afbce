"""Run the benchmarks: `python -m bench [--quick] [--only NAME ...]`.

Each benchmark starts the processes it needs (emulator, intake, worker,
baseline servers) on free loopback ports. It prints a table with ratios to a
baseline measured in the same run, and everything is stopped at the end.
"""

import argparse
import os
import platform
import signal
import subprocess
import sys
import time

from bench import intake, latency, slow_model, worker
from bench.stack import REPO_ROOT, Stack, stop_on_signal

BENCHMARKS = {
    "intake": intake.run,
    "worker": worker.run,
    "slow_model": slow_model.run,
    "latency": latency.run,
}


def describe_machine() -> None:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"commit {commit or 'unknown'}{' (with local changes)' if dirty else ''}")
    python = platform.python_version()
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model}, Python {python}")
    print_load("load average at start")


def print_load(label: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"{label}: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny runs that only check the scripts work (under 30 s); "
        "their figures mean nothing",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BENCHMARKS),
        help="run only these benchmarks (default: all)",
    )
    args = parser.parse_args()

    # SIGTERM (a `timeout`, a cancelled CI job) ends the run like Ctrl-C, so
    # the stack stops its processes and drops its database and keys.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    started = time.monotonic()
    describe_machine()
    with Stack() as stack:
        for name in args.only or BENCHMARKS:
            benchmark_started = time.monotonic()
            BENCHMARKS[name](stack, quick=args.quick)
            print(f"{name} took {time.monotonic() - benchmark_started:.0f} s")
            print_load(f"load average after {name}")
    print(f"benchmarks finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
