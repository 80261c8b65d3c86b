"""Production jobs on real components: an S3 server (moto, in server mode on 127.0.0.1), a
``dask scheduler`` and ``dask worker`` processes; a worker killed mid-job changes nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import cached_model, photo
from tilestream.container import ContainerReader
from tilestream.pipeline.journal import JOURNAL
from tilestream.pipeline.resume import chunk_rows

distributed = pytest.importorskip("distributed")
pytest.importorskip("s3fs")
pytest.importorskip("moto")

BUCKET = "tilestream-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server process; its address in the environment (as a user would set it)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return True
        except OSError:
            return False

    _wait(up, 60, "the moto S3 server")
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    try:
        yield fs, env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        s3fs.S3FileSystem.clear_instance_cache()
        proc.terminate()
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Reap a terminated process; kill it if it has not exited within 30 s (a loaded
    machine), and reap that too, so that no running child is left to the garbage collector."""
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


class Cluster:
    """A ``dask scheduler`` process and ``dask worker`` processes (no nanny: a killed worker stays dead)."""

    def __init__(self, env: dict[str, str]):
        self.env = {**os.environ, **env}
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.workers: dict[str, subprocess.Popen] = {}
        self.client = None

    def start_worker(self, name: str) -> None:
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--name", name, "--memory-limit", "0"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def connect(self, n: int) -> None:
        if self.client is None:
            _wait(lambda: self._try_connect(), 60, "the dask scheduler")
        self.client.wait_for_workers(n, timeout=120)

    def _try_connect(self) -> bool:
        try:
            self.client = distributed.Client(self.address, timeout="2s")
            return True
        except OSError:
            return False

    def running(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def kill(self, name: str) -> None:
        proc = self.workers.pop(name)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        for proc in [*self.workers.values(), self.scheduler]:
            proc.terminate()
        for proc in [*self.workers.values(), self.scheduler]:
            _stop(proc)


@pytest.fixture(scope="module")
def cluster(s3):
    c = Cluster(s3[1])
    try:
        c.start_worker("w1")
        c.start_worker("w2")
        c.connect(2)
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    model = cached_model("mbt2018-mean")
    torch.save(model.state_dict(), tmp / "w.pt")
    return model, tmp / "w.pt", tmp


def _chunks(path: str) -> dict[tuple[str, int, int], bytes]:
    with ContainerReader(path) as reader:
        return {(s, i, j): reader.read(s, i, j) for s, (rows, cols) in chunk_rows(reader.meta).items()
                for i in range(rows) for j in range(cols)}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tilestream", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=900)


def test_cli_encodes_and_decodes_from_and_to_s3_on_a_dask_cluster(s3, cluster, weights):
    fs, env = s3
    model, ckpt, tmp = weights
    image = photo("garden_520x777.png")[:192, :256]
    tifffile.imwrite(tmp / "in.tif", image, tile=(64, 64))
    fs.put_file(str(tmp / "in.tif"), f"{BUCKET}/in.tif")
    opts = ["--model", "mbt2018-mean", "--checkpoint", str(ckpt), "--quiet"]

    enc = _cli(env, "encode", f"s3://{BUCKET}/in.tif", f"s3://{BUCKET}/c.tsz", "--block", "64", "--chunk", "64",
               "--scheduler", cluster.address, *opts)
    assert enc.returncode == 0, enc.stderr
    dec = _cli(env, "decode", f"s3://{BUCKET}/c.tsz", f"s3://{BUCKET}/out.tif", "--scheduler", cluster.address,
               "--checkpoint", str(ckpt), "--quiet")
    assert dec.returncode == 0, dec.stderr
    assert "Traceback" not in enc.stderr + dec.stderr
    # the workers imported CompressAI lean too (tilestream.models.compat): no torchvision there
    heavy = cluster.client.run(lambda: sorted(m for m in ("torchvision", "torch_geometric") if m in sys.modules))
    assert len(heavy) == 2 and all(v == [] for v in heavy.values()), heavy

    # the same job on local threads and local files: the same chunks, the same pixels
    tilestream.encode(tmp / "in.tif", tmp / "local.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp / "local.tsz", tmp / "local.tif", model=model, progress=False)
    remote = _chunks(f"s3://{BUCKET}/c.tsz")
    assert remote == _chunks(str(tmp / "local.tsz"))
    assert sum(len(v) > 8 for v in remote.values()) > len(remote) // 2
    with fs.open(f"{BUCKET}/out.tif", "rb") as fh:
        decoded = tifffile.imread(fh)
    assert np.array_equal(decoded, tifffile.imread(tmp / "local.tif"))
    assert not fs.exists(f"{BUCKET}/out.tif.partial") and fs.info(f"{BUCKET}/c.tsz")["type"] == "directory"


def _run_killing(cluster: Cluster, job, kill_when, victim: str) -> float:
    """Run ``job()`` in a thread; kill worker ``victim`` when ``kill_when()`` holds."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=target)
    t0 = time.time()
    thread.start()
    _wait(lambda: kill_when() or not thread.is_alive(), 600, "the moment to kill a worker")
    assert thread.is_alive(), "the job finished before a worker could be killed"
    killed_at = time.time() - t0
    cluster.kill(victim)
    thread.join(timeout=900)
    assert not errors, errors
    return killed_at


def test_a_worker_killed_mid_encode_and_mid_decode_changes_no_byte(s3, cluster, weights):
    fs, _ = s3
    model, _, tmp = weights
    image = photo("garden_520x777.png")[:384, :512]  # 6 x 8 blocks
    tifffile.imwrite(tmp / "big.tif", image, tile=(64, 64))
    fs.put_file(str(tmp / "big.tif"), f"{BUCKET}/big.tif")
    src = f"s3://{BUCKET}/big.tif"
    tilestream.encode(src, f"s3://{BUCKET}/ref.tsz", model=model, block=64, chunk=64, progress=False, scheduler=cluster.client)
    reference = _chunks(f"s3://{BUCKET}/ref.tsz")

    import json

    def progressed() -> bool:
        try:
            attrs = json.loads(fs.cat_file(f"{BUCKET}/killed.tsz/zarr.json"))["attributes"]
        except (OSError, ValueError, KeyError):
            return False
        return attrs.get("progress", {}).get("step", -1) >= 2

    encode = lambda: tilestream.encode(  # noqa: E731
        src, f"s3://{BUCKET}/killed.tsz", model=model, block=64, chunk=64, progress=False, scheduler=cluster.client)
    fs.invalidate_cache()
    _run_killing(cluster, encode, progressed, "w1")
    assert cluster.running() == 1
    assert _chunks(f"s3://{BUCKET}/killed.tsz") == reference

    cluster.start_worker("w3")
    cluster.connect(2)
    tilestream.decode(f"s3://{BUCKET}/ref.tsz", tmp / "ref.tif", model=model, progress=False, scheduler=cluster.client)
    decode = lambda: tilestream.decode(  # noqa: E731
        f"s3://{BUCKET}/ref.tsz", tmp / "killed.tif", model=model, progress=False, scheduler=cluster.client)

    def a_third_written() -> bool:  # the TIFF's journal records each finished wavefront step
        try:
            return json.loads((tmp / "killed.tif.partial.journal" / JOURNAL).read_text())["step"] >= 3
        except (OSError, ValueError, KeyError):
            return False

    _run_killing(cluster, decode, a_third_written, "w2")
    assert np.array_equal(tifffile.imread(tmp / "killed.tif"), tifffile.imread(tmp / "ref.tif"))
