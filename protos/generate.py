"""Generate the Python code for protos/plants/v1/plants.proto.

Run `python -m protos.generate` after editing the .proto; a test fails while
the committed code differs from what this produces.
"""

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_FILE = "protos/plants/v1/plants.proto"


def generate(output_dir: Path) -> None:
    """Write plants_pb2.py, plants_pb2.pyi and plants_pb2_grpc.py under output_dir."""
    well_known_protos = resources.files("grpc_tools") / "_proto"
    arguments = [
        "grpc_tools.protoc",
        f"--proto_path={REPO_ROOT}",
        f"--proto_path={well_known_protos}",
        f"--python_out={output_dir}",
        f"--pyi_out={output_dir}",
        f"--grpc_python_out={output_dir}",
        str(REPO_ROOT / PROTO_FILE),
    ]
    exit_code = protoc.main(arguments)
    if exit_code != 0:
        msg = f"protoc failed with exit code {exit_code} for {PROTO_FILE}"
        raise RuntimeError(msg)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT)
