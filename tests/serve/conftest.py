"""The service as its users run it: tools/serve.py started as a subprocess on a free localhost
port (``--port 0``; the port is read from the line it prints when ready), driven over HTTP by
``requests``; the toy project's model (ToyNet, 64x64, randomly initialised) and its synthetic
crops, whose names carry their camera (``0025_c03_1.jpg``)."""
from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import requests
from toyreid import PROJECT as TOY

from fastreid.modeling.meta_arch import build_model
from vreid.config import get_cfg

ROOT = Path(__file__).resolve().parents[2]
TOY_CONFIG = ROOT / "tests" / "toy_project" / "configs" / "toy.yml"
READY = re.compile(r"^serving .* at (http://\S+)/")
START_TIMEOUT_S = 180
BASE_TIME = 1714550400  # 2024-05-01T08:00:00Z: the toy crops' capture times count minutes from it


def _build(arch: str, seed: int, output_dir: str):
    cfg = get_cfg(projects=(TOY,))
    cfg.merge_from_file(str(TOY_CONFIG))
    cfg.merge_from_list(["MODEL.HEADS.NUM_CLASSES", 24, "OUTPUT_DIR", output_dir])
    return cfg, build_model(cfg)


@pytest.fixture(scope="session")
def toy_model(saved_models):
    """Factory: seed -> the saved ToyNet of that seed (another seed: other weights)."""
    get = saved_models(_build)
    return lambda seed=0: get("ToyNet", seed)


@pytest.fixture(scope="session")
def crops(toy_root) -> list[Path]:
    """The toy's test crops of identities 25-36, sorted: three per identity, six cameras."""
    return sorted(p for pid in range(25, 37) for p in (toy_root / "image_test").glob(f"{pid:04d}_*.jpg"))


def camera_of(path: Path) -> str:
    return path.name.split("_")[1]


def metadata(paths: list[Path], first_minute: int = 0) -> list[dict]:
    """Each crop's camera from its name, a capture time a minute after the previous, its identity as the track."""
    return [{"camera": camera_of(p), "time": BASE_TIME + 60 * (first_minute + i), "track": p.name[:4],
             "fields": {"file": p.name}} for i, p in enumerate(paths)]


@dataclass(frozen=True)
class CropMeta:
    """What the tests know of a toy crop's metadata (the test modules cannot import this conftest)."""

    base_time: int = BASE_TIME
    camera_of: Callable[[Path], str] = staticmethod(camera_of)
    metadata: Callable[..., list[dict]] = staticmethod(metadata)


@pytest.fixture(scope="session")
def meta() -> CropMeta:
    return CropMeta()


@dataclass
class Server:
    """A tools/serve.py process and a client of it."""

    proc: subprocess.Popen
    url: str
    lines: list[str] = field(default_factory=list)
    token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.trust_env = False  # never a proxy between a test and localhost

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.session.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def health(self) -> dict:
        response = self.request("GET", "/v1/health")
        assert response.status_code == 200, response.text
        return response.json()

    def search(self, image: Path | bytes, name: str = "query.jpg", **fields) -> requests.Response:
        data = image if isinstance(image, bytes) else image.read_bytes()
        return self.request("POST", "/v1/search", files={"image": (name, data)},
                            data={k: str(v) for k, v in fields.items()})

    def hits(self, image: Path, **fields) -> list[dict]:
        response = self.search(image, image.name, **fields)
        assert response.status_code == 200, response.text
        return response.json()["hits"]

    def add(self, paths: list[Path], meta: list[dict] | None = None) -> requests.Response:
        import json
        files = [("images", (p.name, p.read_bytes())) for p in paths]
        return self.request("POST", "/v1/gallery", files=files,
                            data={"metadata": json.dumps(meta)} if meta is not None else {})

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1])

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it: queued work finishes, a last snapshot is written."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(60)


def _reader(proc: subprocess.Popen, lines: list[str], ready: queue.Queue) -> None:
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        found = READY.match(line)
        if found:
            ready.put(found[1])
    ready.put(None)


def launch(index: Path, env: dict[str, str], *args, model=None, token: str | None = None) -> Server:
    """tools/serve.py on ``index`` with ``args`` (and ``model``'s config and weights), ready."""
    command = [sys.executable, "tools/serve.py", "--index", str(index), "--port", "0", *map(str, args)]
    if model is not None:
        command += ["--config-file", model.config, "MODEL.WEIGHTS", model.weights]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc, lines, ready), daemon=True).start()
    try:
        url = ready.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        url = None
    if url is None:
        proc.kill()
        raise AssertionError(f"tools/serve.py did not start (exit {proc.wait()}):\n{proc.stderr.read()[-3000:]}")
    return Server(proc, url, lines, token)


@pytest.fixture(scope="session")
def launcher(toy_env) -> Callable[..., Server]:
    """Factory: launcher(index, *args, model=None, env=None, token=None) -> a ready Server on
    ``index`` (the toy's environment plus ``env``); any still running at the session's end is killed."""
    started: list[Server] = []

    def start(index: Path, *args, model=None, env: dict | None = None, token: str | None = None) -> Server:
        server = launch(index, {**toy_env, **(env or {})}, *args, model=model, token=token)
        started.append(server)
        return server
    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()


@pytest.fixture
def start_server(launcher) -> Callable[..., Server]:
    """``launcher``, the servers killed at the test's end."""
    started: list[Server] = []

    def start(*args, **kwargs) -> Server:
        started.append(launcher(*args, **kwargs))
        return started[-1]
    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()


@pytest.fixture(scope="session")
def refused(toy_env) -> Callable[..., str]:
    """refused(*args) -> the one line tools/serve.py printed when it stopped before serving, exit 2."""
    def run(*args) -> str:
        done = subprocess.run([sys.executable, "tools/serve.py", "--port", "0", *map(str, args)], cwd=ROOT,
                              env=toy_env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-3000:]
        return done.stderr.rstrip("\n")
    return run


@pytest.fixture(scope="session")
def city(tmp_path_factory, launcher, toy_model, crops) -> Server:
    """One server for the API tests: an empty flat gallery of ToyNet, then the toy crops added
    with their cameras and a minute between their capture times (rows 0 to len(crops) - 1)."""
    folder = tmp_path_factory.mktemp("city")
    server = launcher(folder / "city.faiss", "--snapshot-every", 8, "--max-body-mb", 4, model=toy_model())
    response = server.add(crops, metadata(crops))
    assert response.status_code == 201, response.text
    assert response.json()["ids"] == list(range(len(crops)))
    yield server
    assert server.stop() == 0
