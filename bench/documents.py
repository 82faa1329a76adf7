"""Documents benchmark: upload and download throughput (MiB/s) of a 10 MiB file
through the documents web process (gunicorn, one worker) against a bare GridFS
put/get on the same MongoDB in the same run, and the peak memory (RSS) of the
gunicorn worker during the uploads.

Run: ``PYTHONPATH=. python -m bench.documents`` (starts its own Kafka and
Mongo-wire server unless ``MLP_BENCH_INFRA=external``).
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gridfs
import requests
from pymongo import MongoClient

from bench.stack import infrastructure
from deploy.local import services
from deploy.local.ports import free_port
from devkit.auth import auth
from devkit.env import service_env
from shared.bus import ensure_topics
from shared.config import Settings

SIZE = 10 * 1024 * 1024
MIB = 1024 * 1024
ROUNDS = 3


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _worker_pid(master: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(0.005)


def _bare_gridfs(uri: str, payload: bytes) -> tuple[float, float]:
    with MongoClient(uri) as client:
        bucket = gridfs.GridFSBucket(client[f"bench_bare_{uuid.uuid4().hex[:8]}"])
        ups, downs = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            file_id = bucket.upload_from_stream("bench.pdf", io.BytesIO(payload))
            ups.append(time.perf_counter() - start)
            start = time.perf_counter()
            sink = io.BytesIO()
            bucket.download_to_stream(file_id, sink)
            downs.append(time.perf_counter() - start)
            assert sink.getbuffer().nbytes == len(payload)
        client.drop_database(bucket._collection.database.name)
    return statistics.median(ups), statistics.median(downs)


def main() -> None:
    payload = b"%PDF-1.7\n" + os.urandom(SIZE - 9)
    with (
        tempfile.TemporaryDirectory(prefix="mlp-bench-docs-") as tmp,
        infrastructure(Path(tmp)) as infra,
    ):
        web = None
        try:
            ensure_topics(Settings(service="bench", kafka_bootstrap=infra.kafka_bootstrap))
            env = {
                **service_env("documents", infra.kafka_bootstrap, infra.mongo_uri),
                "MLP_WEB_WORKERS": "1",
            }
            port = free_port()
            web = services.web("documents", port, env, Path(tmp) / "logs").start()
            base = f"http://127.0.0.1:{port}"
            services.wait_ready(web, f"{base}/readyz")
            event_id = str(uuid.uuid4())
            with MongoClient(infra.mongo_uri) as client:
                client[env["MLP_DOCUMENTS_DB"]]["events"].insert_one(
                    {"_id": event_id, "status": "published", "title": "Bench", "version": 1}
                )
            worker = _worker_pid(web.process.pid)
            baseline = _rss_kib(worker)
            headers = auth("secretariat")

            bare_up, bare_down = _bare_gridfs(infra.mongo_uri, payload)

            sampler = RssSampler(worker)
            sampler.start()
            ups, doc_ids = [], []
            for i in range(ROUNDS):
                start = time.perf_counter()
                response = requests.post(
                    f"{base}/v1/events/{event_id}/documents",
                    data={"kind": "background_paper", "title": f"Bench {i}", "language": "en"},
                    files={"file": ("bench.pdf", io.BytesIO(payload), "application/pdf")},
                    headers=headers,
                    timeout=120,
                )
                ups.append(time.perf_counter() - start)
                assert response.status_code == 201, response.text + web.tail()
                doc_ids.append(response.json()["id"])
            sampler.stop.set()
            sampler.join()
            hwm = _rss_kib(worker, "VmHWM")

            downs = []
            for doc_id in doc_ids:
                start = time.perf_counter()
                received = 0
                with requests.get(
                    f"{base}/v1/documents/{doc_id}/content",
                    headers=headers,
                    stream=True,
                    timeout=120,
                ) as response:
                    for chunk in response.iter_content(MIB):
                        received += len(chunk)
                downs.append(time.perf_counter() - start)
                assert received == len(payload)

            def rate(seconds: float) -> float:
                return SIZE / MIB / seconds

            up, down = statistics.median(ups), statistics.median(downs)
            print(f"documents: 10 MiB file, median of {ROUNDS} rounds")
            print(f"  upload   HTTP (gunicorn -> GridFS): {rate(up):7.1f} MiB/s")
            print(f"  upload   bare GridFS put:           {rate(bare_up):7.1f} MiB/s")
            print(f"  download HTTP (GridFS -> gunicorn): {rate(down):7.1f} MiB/s")
            print(f"  download bare GridFS get:           {rate(bare_down):7.1f} MiB/s")
            print(f"  web worker RSS before uploads:      {baseline / 1024:7.1f} MiB")
            print(
                f"  web worker peak RSS during uploads: {sampler.peak / 1024:7.1f} MiB "
                f"(+{(sampler.peak - baseline) / 1024:.1f} MiB; VmHWM {hwm / 1024:.1f} MiB)"
            )
        finally:
            if web is not None:
                web.stop()


if __name__ == "__main__":
    main()
