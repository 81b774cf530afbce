"""Benchmark 4: time from CreatePlant returning to the plant being COMPLETED.

The load generator records when each CreatePlant call returned (wall clock);
the completion time is the row's `updated_at`, which the worker's final UPDATE
sets. Both clocks are this machine's. The emulator's fixed delay is
subtracted, so the figure is the pipeline's own overhead: queue hand-off,
the worker's claim, image preparation, the SDK call and the final UPDATE.

At idle, plants arrive one per second; under load, at a fixed rate from
8 threads. Both are run with the worker's default poll interval of an empty
queue (`WORKER_POLL_INTERVAL_MS`, 100 ms), then again with Dramatiq's own
default of 1000 ms for comparison.
"""

import time
from dataclasses import dataclass

from bench import load
from bench.report import percentile, print_table
from bench.stack import Stack

WORKER_THREADS = 16


@dataclass(frozen=True)
class LatencyCase:
    name: str
    rate_per_s: float
    plants: int
    completed: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def measure(
    stack: Stack,
    name: str,
    port: int,
    *,
    rate_per_s: float,
    concurrency: int,
    duration_s: float,
    delay_s: float,
) -> LatencyCase:
    result = load.run_load(
        load.LoadSpec(
            target=f"127.0.0.1:{port}",
            method=load.CREATE_PLANT,
            with_photo=True,
            concurrency=concurrency,
            duration_s=duration_s,
            max_calls=100_000,
            warmup_s=0,
            rate_per_s=rate_per_s,
            collect_plants=True,
        )
    )
    returned_at = dict(result.plants)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = stack.status_counts()
        if counts.get("PENDING", 0) + counts.get("PROCESSING", 0) == 0:
            break
        time.sleep(0.1)
    rows = (
        stack.connection()
        .execute(
            """
        SELECT id::text, EXTRACT(EPOCH FROM updated_at)::float8
        FROM plants WHERE ai_processing_status = 'COMPLETED'
        """
        )
        .fetchall()
    )
    overheads_ms = [
        (completed_at - returned_at[plant_id] - delay_s) * 1000
        for plant_id, completed_at in rows
        if plant_id in returned_at
    ]
    stack.reset_data()
    return LatencyCase(
        name=name,
        rate_per_s=rate_per_s,
        plants=len(result.plants),
        completed=len(overheads_ms),
        p50_ms=percentile(overheads_ms, 0.5),
        p99_ms=percentile(overheads_ms, 0.99),
        max_ms=max(overheads_ms, default=float("nan")),
    )


def run(stack: Stack, *, quick: bool) -> list[LatencyCase]:
    delay_s = 0.05 if quick else 0.25
    idle_s = 1.0 if quick else 20.0
    load_s = 1.0 if quick else 10.0
    load_rate = 10.0 if quick else 40.0
    stack.emulator_control.set_delay(delay_s)
    intake, port = stack.start_intake("latency-intake")
    common = {"port": port, "delay_s": delay_s}

    worker = stack.start_worker("latency-worker", WORKER_THREADS)
    cases = [
        measure(
            stack,
            "idle, 1 plant/s",
            rate_per_s=1.0,
            concurrency=1,
            duration_s=idle_s,
            **common,
        ),
        measure(
            stack,
            f"under load, {load_rate:g} plants/s",
            rate_per_s=load_rate,
            concurrency=8,
            duration_s=load_s,
            **common,
        ),
    ]
    stack.stop(worker)

    worker = stack.start_worker(
        "latency-worker-1000ms", WORKER_THREADS, WORKER_POLL_INTERVAL_MS="1000"
    )
    cases.append(
        measure(
            stack,
            "idle, 1 plant/s, poll interval 1000 ms",
            rate_per_s=1.0,
            concurrency=1,
            duration_s=idle_s,
            **common,
        )
    )
    cases.append(
        measure(
            stack,
            f"under load, {load_rate:g} plants/s, poll interval 1000 ms",
            rate_per_s=load_rate,
            concurrency=8,
            duration_s=load_s,
            **common,
        )
    )
    stack.stop(worker)
    stack.stop(intake)
    stack.emulator_control.set_delay(0)
    _print(cases, delay_s)
    return cases


def _print(cases: list[LatencyCase], delay_s: float) -> None:
    rows = [
        [
            case.name,
            f"{case.completed}/{case.plants}",
            case.p50_ms,
            case.p99_ms,
            case.max_ms,
        ]
        for case in cases
    ]
    print_table(
        f"4. Latency from CreatePlant returning to COMPLETED, minus the "
        f"{delay_s:g} s model delay (worker: {WORKER_THREADS} threads)",
        ["case", "completed", "p50 ms", "p99 ms", "max ms"],
        rows,
    )
