"""Benchmark 2: plants per second of one worker process, model answering at once.

Method, the same for the plant worker and the no-op baseline: queue N
messages, start one worker process with 8 threads, and poll the queue's
unacknowledged messages. Timing and CPU readings start when the first message
is acknowledged (so process start-up is left out) and end when the last is.
The emulator is a separate process, so its CPU is not counted.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import dramatiq

from bench import noop_actor, photos
from bench.report import print_table, ratio
from bench.stack import BIN, Child, Stack
from shared.messaging import QUEUE_NAME, create_broker, send_plant_message

THREADS = 8
POLL_INTERVAL_S = 0.01
PREPARE_REPEATS = 20


@dataclass(frozen=True)
class DrainResult:
    name: str
    # Messages acknowledged inside the timed window.
    messages: int
    per_s: float
    cpu_ms: float
    # Plants COMPLETED out of those queued (all of them, not only the window).
    completed: str


def seed_plants(stack: Stack, image_bytes: bytes, count: int) -> list[uuid.UUID]:
    """Store one photo and insert `count` PENDING plants that point to it."""
    key = stack.image_store.save(image_bytes, "jpg")
    rows = (
        stack.connection()
        .execute(
            """
        INSERT INTO plants (id, owner_id, original_image_path, image_content_type,
                            message_sent_at)
        SELECT gen_random_uuid(), 'bench', %s, 'image/jpeg', now()
        FROM generate_series(1, %s)
        RETURNING id
        """,
            (key, count),
        )
        .fetchall()
    )
    return [row[0] for row in rows]


def queue_plants(stack: Stack, plant_ids: list[uuid.UUID]) -> None:
    broker = create_broker(stack.redis_url, namespace=stack.namespace)
    key = (
        stack.connection()
        .execute(
            "SELECT original_image_path FROM plants WHERE id = %s", (plant_ids[0],)
        )
        .fetchone()[0]
    )
    for plant_id in plant_ids:
        send_plant_message(broker, plant_id, key)
    broker.close()


def drain(
    stack: Stack,
    worker: Child,
    queue_name: str,
    count: int,
    timeout_s: float,
    has_started: Callable[[], bool],
) -> tuple[int, float, float]:
    """Wait until the queue is empty; return (messages, seconds, CPU seconds).

    Times from the moment `has_started` first returns True, so worker
    start-up is left out.
    """
    deadline = time.monotonic() + timeout_s
    while not has_started():
        if time.monotonic() > deadline or worker.process.poll() is not None:
            msg = (
                f"worker processed nothing within {timeout_s} s; see {worker.log_path}"
            )
            raise RuntimeError(msg)
        time.sleep(POLL_INTERVAL_S)
    started, cpu_before = time.perf_counter(), worker.cpu_s()
    first_remaining = stack.queue_length(queue_name)
    while stack.queue_length(queue_name) > 0:
        if time.monotonic() > deadline:
            msg = f"worker did not empty {queue_name} within {timeout_s} s"
            raise RuntimeError(msg)
        time.sleep(POLL_INTERVAL_S)
    return first_remaining, time.perf_counter() - started, worker.cpu_s() - cpu_before


def run_noop(stack: Stack, count: int) -> DrainResult:
    broker = create_broker(stack.redis_url, namespace=stack.namespace)
    for index in range(count):
        broker.enqueue(
            dramatiq.Message(
                queue_name=noop_actor.QUEUE_NAME,
                actor_name=noop_actor.ACTOR_NAME,
                args=(index,),
                kwargs={},
                options={},
            )
        )
    broker.close()
    child = stack.start(
        "noop-worker",
        [
            str(BIN / "dramatiq"),
            "bench.noop_actor",
            "--processes",
            "1",
            "--threads",
            str(THREADS),
        ],
    )
    # A no-op message takes well under a millisecond, so timing from the
    # first acknowledgement leaves out no measurable work.
    messages, seconds, cpu_s = drain(
        stack,
        child,
        noop_actor.QUEUE_NAME,
        count,
        60,
        lambda: stack.queue_length(noop_actor.QUEUE_NAME) < count,
    )
    stack.stop(child)
    stack.reset_data()
    return DrainResult(
        "no-op actor (baseline)",
        messages,
        messages / seconds,
        cpu_s * 1000 / messages,
        "-",
    )


def run_plants(stack: Stack, name: str, image_bytes: bytes, count: int) -> DrainResult:
    plant_ids = seed_plants(stack, image_bytes, count)
    queue_plants(stack, plant_ids)
    worker = stack.start_worker("worker", THREADS)
    # Timed from the first claim, because a plant takes long enough that
    # timing from the first acknowledgement would leave out part of a round.
    messages, seconds, cpu_s = drain(
        stack,
        worker,
        QUEUE_NAME,
        count,
        300,
        lambda: stack.status_counts().get("PENDING", 0) < count,
    )
    stack.stop(worker)
    completed = stack.status_counts().get("COMPLETED", 0)
    stack.reset_data()
    return DrainResult(
        name,
        messages,
        messages / seconds,
        cpu_s * 1000 / messages,
        f"{completed}/{count}",
    )


def measure_prepare_image(image_bytes: bytes, repeats: int) -> float:
    """Return CPU milliseconds of one `prepare_image` call in this process."""
    from ai_worker.image_preparation import prepare_image

    prepare_image(image_bytes, max_side_px=1024)
    started = time.process_time()
    for _ in range(repeats):
        prepare_image(image_bytes, max_side_px=1024)
    return (time.process_time() - started) * 1000 / repeats


def run(stack: Stack, *, quick: bool) -> list[DrainResult]:
    stack.emulator_control.set_delay(0)
    noop_count, small_count, large_count = (300, 30, 8) if quick else (5000, 600, 120)
    large = photos.large_photo()
    results = [
        run_noop(stack, noop_count),
        run_plants(
            stack, "plant, 143 KB photo (640x427)", photos.small_photo(), small_count
        ),
        run_plants(
            stack, f"plant, 12 MP JPEG ({len(large) // 1024} KB)", large, large_count
        ),
    ]
    repeats = 3 if quick else PREPARE_REPEATS
    prepare_ms = [
        measure_prepare_image(photos.small_photo(), repeats),
        measure_prepare_image(large, repeats),
    ]
    _print(results, prepare_ms)
    return results


def _print(results: list[DrainResult], prepare_ms: list[float]) -> None:
    baseline = results[0]
    rows = [
        [
            result.name,
            result.messages,
            result.per_s,
            ratio(result.per_s, baseline.per_s),
            result.cpu_ms,
            ratio(result.cpu_ms, baseline.cpu_ms),
            result.completed,
            "-" if index == 0 else prepare_ms[index - 1],
        ]
        for index, result in enumerate(results)
    ]
    print_table(
        f"2. Worker: one process, {THREADS} threads, emulator answering at once",
        [
            "case",
            "messages",
            "per s",
            "ratio to no-op",
            "worker CPU ms each",
            "CPU ratio to no-op",
            "completed",
            "prepare_image CPU ms",
        ],
        rows,
    )
