"""gRPC load generator that runs in its own process, apart from the server.

Closed loop: each of `concurrency` threads sends its next call as soon as the
previous one returns, through one sync channel. With `rate_per_s` set, the
threads instead send at fixed times (open loop). Every run stops after
`duration_s` or `max_calls`, whichever comes first.
"""

import concurrent.futures
import multiprocessing
import threading
import time
from dataclasses import dataclass, field

import grpc

from bench.photos import make_unique, small_photo
from protos.plants.v1 import plants_pb2

CREATE_PLANT = "/plants.v1.PlantService/CreatePlant"
ECHO = "/bench.v1.Echo/Echo"
SINK = "/bench.v1.Echo/Sink"
CHANNEL_OPTIONS = [("grpc.max_send_message_length", 64 * 1024 * 1024)]


@dataclass(frozen=True)
class LoadSpec:
    target: str
    method: str
    # Whether each request carries the ~143 KB photo, made unique per call.
    with_photo: bool
    concurrency: int
    duration_s: float
    max_calls: int
    # Calls in this first stretch are sent but not counted.
    warmup_s: float = 0.5
    rate_per_s: float | None = None
    collect_plants: bool = False


@dataclass
class LoadResult:
    calls: int = 0
    # Calls that returned, warm-up included.
    total_calls: int = 0
    errors: int = 0
    first_error: str = ""
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    # (plant id, time.time() when CreatePlant returned), with collect_plants.
    plants: list[tuple[str, float]] = field(default_factory=list)

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.elapsed_s if self.elapsed_s else 0.0


def run_load(spec: LoadSpec) -> LoadResult:
    """Run the load in a freshly spawned process and return what it measured."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(generate_load, spec).result(
            timeout=spec.duration_s + spec.warmup_s + 120
        )


def generate_load(spec: LoadSpec) -> LoadResult:
    photo = small_photo() if spec.with_photo else b""
    result = LoadResult()
    lock = threading.Lock()
    with grpc.insecure_channel(spec.target, options=CHANNEL_OPTIONS) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        call = channel.unary_unary(spec.method)
        started = time.perf_counter()
        counting_from = started + spec.warmup_s
        deadline = counting_from + spec.duration_s

        def send_calls(thread_index: int) -> None:
            sent = 0
            while True:
                if spec.rate_per_s is not None:
                    slot = sent * spec.concurrency + thread_index
                    due = started + slot / spec.rate_per_s
                    time.sleep(max(0.0, due - time.perf_counter()))
                request = _build_request(photo, spec.with_photo)
                call_started = time.perf_counter()
                if call_started >= deadline:
                    return
                sent += 1
                try:
                    reply = call(request, timeout=30)
                except grpc.RpcError as exc:
                    with lock:
                        result.errors += 1
                        result.first_error = result.first_error or str(exc)[:300]
                    continue
                returned_at = time.time()
                finished = time.perf_counter()
                with lock:
                    result.total_calls += 1
                if call_started < counting_from:
                    continue
                with lock:
                    if result.calls >= spec.max_calls:
                        return
                    result.calls += 1
                    result.latencies_ms.append((finished - call_started) * 1000)
                    if spec.collect_plants:
                        plant = plants_pb2.Plant.FromString(reply)
                        result.plants.append((plant.id, returned_at))

        threads = [
            threading.Thread(target=send_calls, args=(index,), daemon=True)
            for index in range(spec.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.elapsed_s = min(time.perf_counter(), deadline) - counting_from
    return result


def _build_request(photo: bytes, with_photo: bool) -> bytes:
    request = plants_pb2.CreatePlantRequest(owner_id="bench", nickname="bench plant")
    if with_photo:
        request.image = make_unique(photo)
        request.image_content_type = "image/jpeg"
    return request.SerializeToString()
