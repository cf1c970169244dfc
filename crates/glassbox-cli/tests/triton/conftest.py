"""Fixtures for the Triton-client suite: a model trained by the `glassbox` binary on the
embedded digits, the rows and `glassbox predict`'s answers for them, and `glassbox serve`
with HTTP and gRPC on free ports of 127.0.0.1 (stopped when the session ends).

The binary is $GLASSBOX_CLI, or target/release/glassbox of this repository.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
BINARY = os.environ.get("GLASSBOX_CLI", os.path.join(ROOT, "target", "release", "glassbox"))
ROWS = 256
TOKEN = "7d1f0c-triton-suite-token"


def run(*args):
    result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"glassbox {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


class Served:
    """A running `glassbox serve`: its HTTP and gRPC addresses (host:port)."""

    def __init__(self, model, *extra):
        self.process = subprocess.Popen(
            [BINARY, "serve", "--model", model, "--name", "digits", "--port", "0",
             "--grpc-port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()
        second = self.process.stdout.readline()
        if not first.startswith("serving: http://") or not second.startswith("grpc: "):
            self.process.kill()
            raise AssertionError(f"unexpected start: {first!r} {second!r} "
                                 f"{self.process.stderr.read()}")
        self.http = first.split("//", 1)[1].strip().rstrip("/")
        self.grpc = second.split(" ", 1)[1].strip()
        assert self.http.startswith("127.0.0.1:") and self.grpc.startswith("127.0.0.1:")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def work():
    with tempfile.TemporaryDirectory(prefix="glassbox-triton-") as path:
        yield path


@pytest.fixture(scope="session")
def model(work):
    """A digits model (64 inputs, 10 classes) with standard scaling: the server must
    apply it, as `glassbox predict` does."""
    path = os.path.join(work, "digits.safetensors")
    run("train", "--data", "digits", "--layers", "16", "--epochs", "2", "--scale", "standard",
        "--quiet", "--out", path)
    return path


@pytest.fixture(scope="session")
def rows(work):
    """ROWS rows of 8x8 pixels in [0, 1] (the embedded digits' range), as float32 and in
    a CSV for `glassbox predict`: multiples of 1/16, exact in both."""
    rng = np.random.default_rng(30)
    x = (rng.integers(0, 17, size=(ROWS, 64)) / 16).astype(np.float32)
    path = os.path.join(work, "rows.csv")
    with open(path, "w") as f:
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return x, path


@pytest.fixture(scope="session")
def expected(model, rows):
    """`glassbox predict --json` on the rows: (probabilities [ROWS, 10], class names)."""
    _, path = rows
    classes = None
    probabilities = []
    for line in run("predict", "--model", model, "--json", "--top", "0", path).splitlines():
        record = json.loads(line)
        names = list(record["probabilities"])
        if classes is None:
            classes = sorted(names, key=lambda n: int(n)) if all(n.isdigit() for n in names) else names
        probabilities.append([record["probabilities"][n] for n in classes])
    return np.array(probabilities, dtype=np.float32), classes


@pytest.fixture(scope="session")
def server(model):
    served = Served(model)
    yield served
    served.stop()


@pytest.fixture(scope="session")
def secured(model, work):
    key = os.path.join(work, "key")
    with open(key, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(key, 0o600)
    served = Served(model, "--api-key-file", key)
    yield served
    served.stop()
