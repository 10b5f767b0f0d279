"""BASELINE: the original tutorial's unversioned API, compiled on demand for the benchmarks.

The tutorial's proto has no package, so its generated modules are top-level
(`recommendations_pb2`): they live in a scratch folder put on PYTHONPATH, never in the repository.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent


def generate_stubs(directory: Path) -> Path:
    """Compile the tutorial's proto into `directory` (created here) and return it."""
    directory.mkdir(parents=True)
    protoc = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}"]
    outputs = [f"--python_out={directory}", f"--grpc_python_out={directory}"]
    subprocess.run([*protoc, *outputs, "recommendations.proto"], check=True)
    return directory
