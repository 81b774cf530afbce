"""Run the pipeline end to end on the repository's photo and print the result.

Starts the Gemini emulator (unless GEMINI_API_KEY is set), the intake service
and one worker as child processes, sends the photo through CreatePlant, waits
for the plant to finish, prints it, and stops everything it started.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg import sql

from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
PHOTO = REPO_ROOT / "tests" / "data" / "flower-sklearn.jpg"
RUN_DIR = REPO_ROOT / ".demo"
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/plants_demo"
TIMEOUT_S = 90


class Child:
    """A started service whose output goes to a log file under .demo/."""

    def __init__(self, name: str, arguments: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = RUN_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            arguments,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_output(self, pattern: str, timeout_s: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log_path.read_text(errors="replace"))
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        msg = f"{self.name} did not start; see {self.log_path}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_database(database_url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(database_url).get("dbname")
    admin_url = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def wait_for_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    msg = "intake service did not report SERVING; see .demo/intake.log"
    raise RuntimeError(msg)


def print_plant(plant: plants_pb2.Plant) -> None:
    status = plants_pb2.ProcessingStatus.Name(plant.status).removeprefix(
        "PROCESSING_STATUS_"
    )
    print(f"\nplant {plant.id}")
    print(f"  status:          {status}")
    if plant.status == plants_pb2.PROCESSING_STATUS_FAILED:
        print(f"  failure:         {plant.failure_code}: {plant.failure_message}")
        return
    care = plant.care
    print(f"  scientific name: {plant.scientific_name}")
    print(f"  description:     {plant.description}")
    print(f"  care level:      {plants_pb2.CareLevel.Name(care.care_level)[11:]}")
    print(
        f"  watering:        every {care.watering.frequency_summer_days} days in "
        f"summer, {care.watering.frequency_winter_days} in winter; "
        f"{care.watering.amount}"
    )
    print(f"  light:           {care.light.type}, {care.light.ideal_hours:g} h a day")
    print(
        f"  temperature:     {care.environment.min_temp_celsius:g} to "
        f"{care.environment.max_temp_celsius:g} °C, humidity "
        f"{plants_pb2.Humidity.Name(care.environment.humidity)[9:]}"
    )
    print(f"  toxic to pets:   {'yes' if care.environment.toxicity_pets else 'no'}")
    print(f"  soil:            {care.soil.type}, pH {care.soil.ph_level:g}")
    print(
        f"  fertilizer:      {care.fertilizer.type}, every "
        f"{care.fertilizer.frequency_days} days"
    )


def run() -> int:
    started_at = time.monotonic()
    RUN_DIR.mkdir(exist_ok=True)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "IMAGE_STORE_DIR": os.environ.get("IMAGE_STORE_DIR", str(RUN_DIR / "images")),
        "QUEUE_NAMESPACE": os.environ.get("QUEUE_NAMESPACE", "plants-demo"),
    }
    ensure_database(database_url)
    migrate(database_url)

    children: list[Child] = []
    try:
        if not env.get("GEMINI_API_KEY"):
            emulator = Child(
                "emulator",
                [str(BIN / "python"), "-m", "gemini_emulator", "--port", "0"],
                env,
            )
            children.append(emulator)
            match = emulator.wait_for_output(r"(?m)^listening on (http://[^\s;]+)$")
            env["GEMINI_BASE_URL"] = match.group(1)
            env["GEMINI_API_KEY"] = "emulator-key"
            print(
                "GEMINI_API_KEY is not set: using the Gemini emulator at "
                + match.group(1)
            )
        else:
            print(f"using Gemini model {env.get('GEMINI_MODEL', '(default)')}")

        port = free_port()
        env["INTAKE_GRPC_HOST"] = "127.0.0.1"
        env["INTAKE_GRPC_PORT"] = str(port)
        children.append(
            Child("intake", [str(BIN / "python"), "-m", "intake_service"], env)
        )
        worker = Child(
            "worker",
            [
                str(BIN / "dramatiq"),
                "ai_worker.actors",
                "--processes",
                "1",
                "--threads",
                "4",
            ],
            env,
        )
        children.append(worker)

        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_for_serving(channel)
            worker.wait_for_output(r"Worker started\.\.\.")
            print(
                f"intake on 127.0.0.1:{port} and one worker are running "
                "(logs in .demo/)"
            )
            stub = plants_pb2_grpc.PlantServiceStub(channel)
            plant = stub.CreatePlant(
                plants_pb2.CreatePlantRequest(
                    owner_id="demo-owner",
                    nickname="demo flower",
                    image=PHOTO.read_bytes(),
                    image_content_type="image/jpeg",
                ),
                timeout=10,
            )
            print(f"CreatePlant sent {PHOTO.name}: plant {plant.id} is PENDING")
            plant = wait_for_final(stub, plant)
        print_plant(plant)
    finally:
        for child in reversed(children):
            child.stop()
    print(f"\ndemo finished in {time.monotonic() - started_at:.1f} s")
    return 0 if plant.status == plants_pb2.PROCESSING_STATUS_COMPLETED else 1


def wait_for_final(
    stub: plants_pb2_grpc.PlantServiceStub, plant: plants_pb2.Plant
) -> plants_pb2.Plant:
    waited_from = time.monotonic()
    last_status = plant.status
    while plant.status not in (
        plants_pb2.PROCESSING_STATUS_COMPLETED,
        plants_pb2.PROCESSING_STATUS_FAILED,
    ):
        elapsed = time.monotonic() - waited_from
        if elapsed > TIMEOUT_S:
            msg = f"plant {plant.id} did not finish within {TIMEOUT_S} s"
            raise RuntimeError(msg)
        time.sleep(0.2)
        plant = stub.GetPlant(plants_pb2.GetPlantRequest(id=plant.id), timeout=5)
        if plant.status != last_status:
            last_status = plant.status
            name = plants_pb2.ProcessingStatus.Name(plant.status)
            print(f"  {elapsed:5.1f} s  {name.removeprefix('PROCESSING_STATUS_')}")
        else:
            print(".", end="", flush=True)
    return plant


if __name__ == "__main__":
    sys.exit(run())
