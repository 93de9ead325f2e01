"""Take-next through a real gunicorn server: clerks pressing at the same moment never get the
same dossier (FOR UPDATE SKIP LOCKED on PostgreSQL, serialised writers on SQLite)."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from onestop.demo import DEMO_PASSWORD
from tests.servers import MANY_CITIZENS_ENV, Reply, Server, add_users, running_server

pytestmark = pytest.mark.slow

HAC_THANH = "000.21.01.H56"
MARRIAGE_STATUS = "1.004873"
CLERKS = [f"canbo{i}.queue" for i in range(1, 9)]
DOSSIERS = 36


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    users = [(u, "Lê Thị Thu Hà", "clerk", (HAC_THANH,)) for u in CLERKS]
    with running_server(
        tmp_path_factory.mktemp("gunicorn"),
        seed=add_users(users, DEMO_PASSWORD),
        workers=4,
        # One citizen submits the whole batch: lift the per-citizen submission limits.
        env=MANY_CITIZENS_ENV,
    ) as srv:
        yield srv
        log = srv.log()
        assert "unexpected error" not in log and "Traceback" not in log, log[-3000:]


def received_dossiers(server: Server, n: int) -> list[int]:
    citizen = server.login("congdan", DEMO_PASSWORD)
    clerk = server.login("canbo.hacthanh", DEMO_PASSWORD)
    ids = []
    for _ in range(n):
        body = {
            "procedure_code": MARRIAGE_STATUS,
            "agency_code": HAC_THANH,
            "channel": "online",
            "applicant": {
                "full_name": "Nguyễn Văn An",
                "id_number": "038090001234",
                "birth_date": "1990-04-12",
            },
        }
        reply = server.request(
            "POST", "/api/v1/dossiers", body, {**citizen, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert reply.status == 201, reply.body
        d = reply.json
        got = server.request("GET", f"/api/v1/dossiers/{d['id']}", headers=clerk)
        reply = server.request(
            "POST",
            f"/api/v1/dossiers/{d['id']}/receive",
            {},
            {**clerk, "If-Match": got.headers["ETag"]},
        )
        assert reply.status == 200, reply.body
        ids.append(d["id"])
    return ids


def test_eight_clerks_taking_at_once_never_share_a_dossier(server: Server) -> None:
    ids = received_dossiers(server, DOSSIERS)
    headers = [server.login(u, DEMO_PASSWORD) for u in CLERKS]
    taken: dict[int, list[str]] = {}
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def clerk(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        reply: Reply = server.request("POST", "/api/v1/queues/take-next", {}, headers[i])
        with lock:
            latencies.append(time.perf_counter() - t0)
            statuses[reply.status] += 1
            if reply.status == 200:
                taken.setdefault(reply.json["id"], []).append(CLERKS[i])
                assert reply.json["assigned_to"] == CLERKS[i]

    # Rounds of eight simultaneous presses until the queue is empty (bounded).
    for _ in range(DOSSIERS // len(CLERKS) + 2):
        barrier = threading.Barrier(len(CLERKS))
        threads = [threading.Thread(target=clerk, args=(i, barrier)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    doubles = {k: v for k, v in taken.items() if len(v) > 1}
    print(
        f"\ntake-next, 8 clerks: {dict(statuses)}; "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert doubles == {}
    assert sorted(taken) == sorted(ids)
    assert set(statuses) <= {200, 404} and statuses[200] == DOSSIERS

    # Each dossier was assigned exactly once, in its ledger, to the clerk who got it.
    for dossier_id, (who,) in taken.items():
        reply = server.request("GET", f"/api/v1/dossiers/{dossier_id}/timeline", headers=headers[0])
        labels = [e["label"] for e in reply.json["entries"]]
        assert labels.count("Phân công xử lý") == 1, labels
        detail = server.request("GET", f"/api/v1/dossiers/{dossier_id}", headers=headers[0])
        assert detail.json["assigned_to"] == who
    mine = [
        server.request("GET", "/api/v1/queues", headers=h).json["tabs"][2]["count"] for h in headers
    ]
    assert sum(mine) == DOSSIERS
