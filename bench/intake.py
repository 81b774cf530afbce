"""Benchmark 1: CreatePlant with a real photo against a bare gRPC server.

Each case is a closed-loop load from a separate process at 1 and 50 calls in
flight. Server CPU per call is the server's user + system CPU time over the
run divided by the calls it served, warm-up calls included.
"""

from dataclasses import dataclass

from bench import load
from bench.report import percentile, print_table, ratio
from bench.stack import BIN, Child, Stack, free_port

IN_FLIGHT = (1, 50)
WORKER_THREADS = 8


@dataclass(frozen=True)
class IntakeCase:
    name: str
    in_flight: int
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    errors: int


def run(stack: Stack, *, quick: bool) -> list[IntakeCase]:
    duration_s = 0.3 if quick else 8.0
    warmup_s = 0.1 if quick else 1.0
    port = free_port()
    echo = stack.start(
        "echo", [str(BIN / "python"), "-m", "bench.echo_server", "--port", str(port)]
    )
    echo.wait_for_output(r"listening on")
    intake, intake_port = stack.start_intake()
    stack.emulator_control.set_delay(0)

    def measure(
        name: str, server: Child, target_port: int, method: str, in_flight: int
    ) -> IntakeCase:
        spec = load.LoadSpec(
            target=f"127.0.0.1:{target_port}",
            method=method,
            with_photo=method != load.ECHO,
            concurrency=in_flight,
            duration_s=duration_s,
            max_calls=1_000_000,
            warmup_s=warmup_s,
        )
        cpu_before = server.cpu_s()
        result = load.run_load(spec)
        cpu_used = server.cpu_s() - cpu_before
        stack.reset_data()
        return IntakeCase(
            name=name,
            in_flight=in_flight,
            calls_per_s=result.calls_per_s,
            p50_ms=percentile(result.latencies_ms, 0.5),
            p99_ms=percentile(result.latencies_ms, 0.99),
            server_cpu_ms=cpu_used * 1000 / max(result.total_calls, 1),
            errors=result.errors,
        )

    cases = []
    for in_flight in IN_FLIGHT:
        cases.append(measure("echo, small message", echo, port, load.ECHO, in_flight))
        cases.append(measure("sink, 143 KB photo in", echo, port, load.SINK, in_flight))
        cases.append(
            measure(
                "CreatePlant, 143 KB photo",
                intake,
                intake_port,
                load.CREATE_PLANT,
                in_flight,
            )
        )
    worker = stack.start_worker("intake-worker", WORKER_THREADS)
    cases.append(
        measure(
            f"CreatePlant + worker ({WORKER_THREADS} threads) busy",
            intake,
            intake_port,
            load.CREATE_PLANT,
            IN_FLIGHT[-1],
        )
    )
    stack.stop(worker)
    stack.stop(intake)
    stack.stop(echo)
    stack.reset_data()
    _print(cases)
    return cases


def _print(cases: list[IntakeCase]) -> None:
    echo_rate = {c.in_flight: c.calls_per_s for c in cases if c.name.startswith("echo")}
    rows = [
        [
            case.name,
            case.in_flight,
            case.calls_per_s,
            ratio(case.calls_per_s, echo_rate[case.in_flight]),
            case.p50_ms,
            case.p99_ms,
            case.server_cpu_ms,
            case.errors,
        ]
        for case in cases
    ]
    print_table(
        "1. Intake: closed loop from a separate process",
        [
            "case",
            "in flight",
            "calls/s",
            "ratio to echo",
            "p50 ms",
            "p99 ms",
            "server CPU ms/call",
            "errors",
        ],
        rows,
    )
