"""Starting real swiftps processes on 127.0.0.1 for the integration tests, and always stopping them."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "clients" / "python" / "examples"


def swiftps_bin() -> Path:
    path = Path(os.environ.get("SWIFTPS_BIN", ".build/release/swiftps"))
    return path if path.is_absolute() else REPO_ROOT / path


class Process:
    """A child process whose standard output is read line by line on a thread; its standard error goes to a file."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict | None = None):
        self.name = name
        self.argv = argv
        self.stderr_path = log_dir / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                      env={**os.environ, **(env or {})}, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_line(self, prefix: str, timeout: float) -> str:
        """The first (next) standard-output line starting with ``prefix``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no '{prefix}' line within {timeout} s\n{self.describe()}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.popen.wait()}) before a '{prefix}' line\n"
                                   f"{self.describe()}")
            if line.startswith(prefix):
                return line

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} still running after {timeout} s\n{self.describe()}") from None

    def result(self) -> dict:
        """The JSON of the last ``result {...}`` line."""
        for line in reversed(self.lines):
            if line.startswith("result "):
                return json.loads(line[len("result "):])
        raise AssertionError(f"{self.name}: no result line\n{self.describe()}")

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def describe(self) -> str:
        tail = "\n".join(self.lines[-20:])
        return (f"--- {self.name}: {' '.join(map(str, self.argv))}\n--- stdout (last 20 lines):\n{tail}\n"
                f"--- stderr (last 3000 chars):\n{self.stderr()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 3 s, to this process (and anything it started, in its session)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=3)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        self._reader.join(timeout=2)
        self._stderr.close()


class Cluster:
    """A coordinator and its servers (and whatever else the test starts), all stopped by ``stop``."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[Process] = []
        self.coordinator_address = ""
        #: The key directory every process is given (a keyed cluster); None: open.
        self.keys: str | None = None

    def _keyed(self, key: str | None = None) -> list:
        if self.keys is None:
            return []
        return ["--keys", self.keys] + (["--key", key] if key else [])

    def spawn(self, name: str, argv: list, env: dict | None = None) -> Process:
        p = Process(name, [str(a) for a in argv], self.log_dir, env)
        self.processes.append(p)
        return p

    def start(self, servers: int, workers: int, job_args: list, timeout: float = 15.0) -> str:
        """Starts the coordinator (bound to 127.0.0.1, any port) and ``servers`` servers; returns the coordinator's
        address, read from its ``listening`` line."""
        binary = swiftps_bin()
        coordinator = self.spawn("coordinator", [binary, "coordinator", "--bind", "tcp://127.0.0.1:0",
                                                 "--servers", servers, "--workers", workers, *self._keyed(), *job_args])
        self.coordinator_address = coordinator.wait_line("listening ", timeout).split()[1]
        for i in range(servers):
            server = self.spawn(f"server{i}", [binary, "server", "--coordinator", self.coordinator_address,
                                               "--bind", "tcp://127.0.0.1:0", *self._keyed()])
            server.wait_line("listening ", timeout)
        self.wait_for_servers(servers, timeout)
        return self.coordinator_address

    def wait_for_servers(self, servers: int, timeout: float) -> None:
        """Until ``servers`` servers have registered (a server prints ``listening`` before it registers)."""
        import swiftps

        with swiftps.Client(self.coordinator_address, keys=self.keys, key="operator") as client:
            deadline = time.monotonic() + timeout
            while True:
                nodes = client.cluster_status().nodes
                if sum(1 for n in nodes if n.role == swiftps.pb.SERVER) >= servers:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{servers} servers did not register within {timeout} s\n{self.describe()}")
                time.sleep(0.02)

    def swift_worker(self, name: str = "swift-worker", key: str | None = None) -> Process:
        return self.spawn(name, [swiftps_bin(), "worker", "--coordinator", self.coordinator_address,
                                 "--progress-every", "10", *self._keyed(key)])

    def python_example(self, script: str, name: str, key: str | None = None) -> Process:
        return self.spawn(name, [sys.executable, EXAMPLES / script, "--coordinator", self.coordinator_address,
                                 "--progress-every", "10", *self._keyed(key)])

    def describe(self) -> str:
        return "\n".join(p.describe() for p in self.processes)

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()


def blob_data(rng, inputs: int, classes: int, count: int, centers=None):
    """Gaussian blobs: class c's features are its centre plus N(0, 1) noise; centres ~ N(0, 1) per coordinate, so
    with 16 inputs two centres lie about 5.7 apart and the best possible accuracy is about 99.8%."""
    if centers is None:
        centers = rng.normal(size=(classes, inputs))
    labels = rng.integers(0, classes, count)
    features = (centers[labels] + rng.normal(size=(count, inputs))).astype(np.float32)
    return features, labels.astype(np.int64), centers


def save_npy_data(directory: Path, inputs: int, classes: int, train: int, test: int, seed: int) -> tuple[str, str]:
    """A blob data set saved as .npy files; returns the ``npy:FEATURES,LABELS`` specs of its training and held-out
    sets."""
    rng = np.random.default_rng(seed)
    train_x, train_y, centers = blob_data(rng, inputs, classes, train)
    test_x, test_y, _ = blob_data(rng, inputs, classes, test, centers)
    specs = []
    for split, (x, y) in (("train", (train_x, train_y)), ("test", (test_x, test_y))):
        np.save(directory / f"{split}_x.npy", x)
        np.save(directory / f"{split}_y.npy", y)
        specs.append(f"npy:{directory / f'{split}_x.npy'},{directory / f'{split}_y.npy'}")
    return specs[0], specs[1]
