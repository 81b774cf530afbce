"""Benchmark 3: how many slow model calls one worker process keeps in flight.

The emulator answers after a fixed delay. N = threads x rounds plants are
queued before one worker process starts. The run is timed from the first
claim to the last plant finishing; the ideal is rounds x delay, so the
percentage is ideal time / measured time, which equals measured throughput /
(threads / delay). In-flight calls are the PROCESSING rows, sampled every
100 ms; resident memory is the worker process's peak RSS over the samples.
"""

import re
import statistics
import time
from dataclasses import dataclass

from bench.photos import small_photo
from bench.report import print_table
from bench.stack import Stack
from bench.worker import queue_plants, seed_plants

SAMPLE_INTERVAL_S = 0.1
# Log lines that name a failure of the worker's own plumbing.
FAILURE_PATTERN = re.compile(
    r"MaxConnectionsError|Too many connections|ConnectionError|PoolTimeout|"
    r"Traceback|\"level\": \"error\""
)


@dataclass(frozen=True)
class SlowCase:
    name: str
    threads: int
    plants: int
    completed: int
    seconds: float
    ideal_s: float
    per_s: float
    peak_in_flight: int
    median_in_flight: float
    peak_rss_mb: float
    failure_lines: int
    first_failure: str


def run_case(
    stack: Stack, name: str, threads: int, rounds: int, delay_s: float, **env: str
) -> SlowCase:
    count = threads * rounds
    plant_ids = seed_plants(stack, small_photo(), count)
    queue_plants(stack, plant_ids)
    worker = stack.start_worker(f"slow-worker-{threads}", threads, **env)
    in_flight: list[int] = []
    peak_rss = worker.rss_bytes()
    started = finished = None
    deadline = time.monotonic() + rounds * delay_s * 3 + 60
    while time.monotonic() < deadline:
        counts = stack.status_counts()
        now = time.perf_counter()
        processing = counts.get("PROCESSING", 0)
        done = counts.get("COMPLETED", 0) + counts.get("FAILED", 0)
        if started is None and (processing or done):
            started = now
        if started is not None and done < count:
            in_flight.append(processing)
        peak_rss = max(peak_rss, worker.rss_bytes())
        if done >= count:
            finished = now
            break
        time.sleep(SAMPLE_INTERVAL_S)
    failures = [
        line for line in worker.output().splitlines() if FAILURE_PATTERN.search(line)
    ]
    stack.stop(worker)
    completed = stack.status_counts().get("COMPLETED", 0)
    stack.reset_data()
    seconds = (finished or time.perf_counter()) - (started or time.perf_counter())
    return SlowCase(
        name=name,
        threads=threads,
        plants=count,
        completed=completed,
        seconds=seconds,
        ideal_s=rounds * delay_s,
        per_s=completed / seconds if seconds else 0.0,
        peak_in_flight=max(in_flight, default=0),
        median_in_flight=statistics.median(in_flight) if in_flight else 0.0,
        peak_rss_mb=peak_rss / 1e6,
        failure_lines=len(failures),
        first_failure=failures[0][:160] if failures else "",
    )


def run(stack: Stack, *, quick: bool) -> list[SlowCase]:
    delay_s = 0.3 if quick else 2.0
    rounds = 2 if quick else 3
    thread_counts = (4,) if quick else (16, 64, 200)
    stack.emulator_control.set_delay(delay_s)
    cases = [
        run_case(stack, f"{threads} threads", threads, rounds, delay_s)
        for threads in thread_counts
    ]
    stack.emulator_control.set_delay(0)
    _print(cases, delay_s)
    return cases


def _print(cases: list[SlowCase], delay_s: float) -> None:
    rows = [
        [
            case.name,
            f"{case.completed}/{case.plants}",
            case.seconds,
            case.ideal_s,
            case.per_s,
            case.threads / delay_s,
            f"{100 * case.ideal_s / case.seconds:.1f} %" if case.seconds else "-",
            case.peak_in_flight,
            case.median_in_flight,
            case.peak_rss_mb,
            case.failure_lines,
        ]
        for case in cases
    ]
    print_table(
        f"3. Slow model: emulator delay {delay_s:g} s, one worker process",
        [
            "case",
            "completed",
            "seconds",
            "ideal s",
            "plants/s",
            "ideal/s",
            "% of ideal",
            "peak in flight",
            "median in flight",
            "peak RSS MB",
            "failure log lines",
        ],
        rows,
    )
    for case in cases:
        if case.first_failure:
            print(f"{case.name}: first failure line: {case.first_failure}")
