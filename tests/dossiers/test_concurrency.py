"""Races through a real gunicorn server (4 sync workers): one winner per ETag, gap-free codes,
one dossier per idempotency key (docs/security.md decisions 2 and 3; docs/domain.md §5)."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from onestop.demo import DEMO_PASSWORD
from tests.servers import MANY_CITIZENS_ENV, Reply, Server, add_users, running_server

pytestmark = pytest.mark.slow

HAC_THANH = "000.21.01.H56"  # the demo commune; its clerk "canbo.hacthanh" exists already
HOANG_HOA = "000.21.03.H56"  # a commune no other test here receives in, for the code sequence
MARRIAGE_STATUS = "1.004873"  # Cấp Giấy xác nhận tình trạng hôn nhân, full online
CLERKS_A = [f"canbo{i}.hacthanh" for i in range(1, 9)]
CLERKS_HH = [f"canbo{i}.hoanghoa" for i in range(1, 9)]
IDEMPOTENCY_CITIZEN = "congdan.idem"
USERS = [
    *[(u, "Lê Thị Thu Hà", "clerk", (HAC_THANH,)) for u in CLERKS_A],
    *[(u, "Trần Văn Bình", "clerk", (HOANG_HOA,)) for u in CLERKS_HH],
    (IDEMPOTENCY_CITIZEN, "Nguyễn Thị Ánh Tuyết", "citizen", ()),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(
        tmp_path_factory.mktemp("gunicorn"),
        seed=add_users(USERS, DEMO_PASSWORD),
        workers=4,
        env=MANY_CITIZENS_ENV,
    ) as srv:
        yield srv
        # Nothing unexpected reached the log (tracebacks, "database is locked").
        log = srv.log()
        assert "unexpected error" not in log and "Traceback" not in log, log[-3000:]


def burst(n: int, call: Callable[[int], Reply]) -> tuple[list[Reply], list[float]]:
    """Run ``call(i)`` for i < n in n threads released together; replies and latencies."""
    barrier = threading.Barrier(n)
    replies: list[Any] = [None] * n
    latencies = [0.0] * n

    def run(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            replies[i] = call(i)
        except Exception as exc:  # a dropped connection is a failure to report, not to hide
            replies[i] = exc
        latencies[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in replies if not isinstance(r, Reply)]
    assert not errors, errors[:3]
    return replies, latencies


def figures(label: str, replies: list[Reply], latencies: list[float]) -> None:
    statuses = dict(sorted(Counter(r.status for r in replies).items()))
    print(
        f"\n{label}: statuses {statuses}; latency p50 {statistics.median(latencies) * 1000:.0f} ms,"
        f" max {max(latencies) * 1000:.0f} ms"
    )


def submission(agency: str = HAC_THANH, name: str = "Nguyễn Văn An") -> dict[str, Any]:
    return {
        "procedure_code": MARRIAGE_STATUS,
        "agency_code": agency,
        "channel": "online",
        "applicant": {
            "full_name": name,
            "id_number": "038090001234",
            "birth_date": "1990-04-12",
            "address": "Số 5, phố Trần Phú, phường Hạc Thành, tỉnh Thanh Hóa",
        },
    }


def submit(server: Server, agency: str = HAC_THANH) -> dict[str, Any]:
    headers = {**server.login("congdan", DEMO_PASSWORD), "Idempotency-Key": uuid.uuid4().hex}
    reply = server.request("POST", "/api/v1/dossiers", submission(agency), headers)
    assert reply.status == 201, reply.body
    return reply.json


def etag_of(server: Server, dossier_id: int, headers: dict[str, str]) -> str:
    reply = server.request("GET", f"/api/v1/dossiers/{dossier_id}", headers=headers)
    assert reply.status == 200, reply.body
    return reply.headers["ETag"]


# Three different decisions a clerk may take on a received dossier, all valid from its state.
DECISIONS = [
    ("forward", {"to_unit": "000.31.01.H56", "step_code": "xac_minh"}, "processing"),
    ("request-supplement", {"missing": ["Bản sao Giấy chứng nhận ly hôn"]}, "supplement_requested"),
    ("resolve", {"result": "Cấp Giấy xác nhận tình trạng hôn nhân"}, "resolved"),
]


@pytest.mark.parametrize("clients", [2, 8, 32])
def test_clients_racing_on_one_dossier_with_one_etag_leave_exactly_one_winner(
    server: Server, clients: int
) -> None:
    """N clerks press a button on the same dossier at once, all with the ETag they loaded:
    one transition happens, every other request gets 409 or 412, none a 5xx."""
    d = submit(server)
    headers = [server.login(u, DEMO_PASSWORD) for u in CLERKS_A]
    path = f"/api/v1/dossiers/{d['id']}"

    # Round 1: everyone receives the same submitted dossier.
    tag = etag_of(server, d["id"], headers[0])
    replies, lat = burst(
        clients,
        lambda i: server.request(
            "POST", f"{path}/receive", {}, {**headers[i % len(headers)], "If-Match": tag}
        ),
    )
    figures(f"{clients} clients, receive", replies, lat)
    statuses = Counter(r.status for r in replies)
    assert statuses[200] == 1 and set(statuses) <= {200, 409, 412}, statuses
    for r in replies:
        if r.status != 200:
            assert r.json["code"] == r.status and "request_id" in r.json  # the one error shape
    winner = next(r for r in replies if r.status == 200)
    assert winner.json["state"] == "received" and winner.json["version"] == 2

    # Round 2: the same ETag again, but clerks disagree on what to do with it.
    tag = winner.headers["ETag"]
    replies, lat = burst(
        clients,
        lambda i: server.request(
            "POST",
            f"{path}/{DECISIONS[i % 3][0]}",
            DECISIONS[i % 3][1],
            {**headers[i % len(headers)], "If-Match": tag},
        ),
    )
    figures(f"{clients} clients, mixed decisions", replies, lat)
    statuses = Counter(r.status for r in replies)
    assert statuses[200] == 1 and set(statuses) <= {200, 409, 412}, statuses
    i = next(i for i, r in enumerate(replies) if r.status == 200)
    expected_state = DECISIONS[i % 3][2]
    assert replies[i].json["state"] == expected_state

    # What is stored is the winner's decision, with exactly one ledger entry per transition.
    now = server.request("GET", path, headers=headers[0])
    assert now.json["state"] == expected_state and now.json["version"] == 3
    timeline = server.request("GET", f"{path}/timeline", headers=headers[0]).json["entries"]
    assert [e["action"] for e in timeline][:2] == ["submit", "receive"] and len(timeline) == 3


def test_parallel_receptions_in_one_agency_get_gap_free_distinct_codes(server: Server) -> None:
    """32 dossiers received in parallel in one commune on one day: codes 0001…0032, no gaps,
    none shared (the counter commits or rolls back with the reception)."""
    n = 32
    dossiers = [submit(server, HOANG_HOA) for _ in range(n)]
    headers = [server.login(u, DEMO_PASSWORD) for u in CLERKS_HH]
    tags = [etag_of(server, d["id"], headers[0]) for d in dossiers]
    replies, lat = burst(
        n,
        lambda i: server.request(
            "POST",
            f"/api/v1/dossiers/{dossiers[i]['id']}/receive",
            {},
            {**headers[i % len(headers)], "If-Match": tags[i]},
        ),
    )
    figures("32 parallel receptions", replies, lat)
    assert [r.status for r in replies] == [200] * n
    codes = [r.json["code"] for r in replies]
    assert len(set(codes)) == n
    by_day: dict[str, list[int]] = {}
    for code in codes:
        agency, day, number = code.rsplit("-", 2)
        assert agency == HOANG_HOA
        by_day.setdefault(day, []).append(int(number))
    # Normally one day; a run across midnight (Vietnam time) restarts the sequence at 0001.
    for numbers in by_day.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    print(f"codes: {sorted(codes)[0]} … {sorted(codes)[-1]}")


def test_hundred_parallel_submissions_with_one_key_make_one_dossier(server: Server) -> None:
    """A citizen's app retries a submission 100 times at once with one Idempotency-Key:
    one dossier exists and every reply is the same (status and body)."""
    headers = {
        **server.login(IDEMPOTENCY_CITIZEN, DEMO_PASSWORD),
        "Idempotency-Key": uuid.uuid4().hex,
    }
    body = submission(name="Nguyễn Thị Ánh Tuyết")
    replies, lat = burst(
        100, lambda i: server.request("POST", "/api/v1/dossiers", body, headers, timeout=120)
    )
    figures("100 submissions, one key", replies, lat)
    assert {r.status for r in replies} == {201}
    assert len({r.body for r in replies}) == 1
    assert len({r.headers["Location"] for r in replies}) == 1
    replayed = sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies)
    assert replayed == 99
    mine = server.request("GET", "/api/v1/dossiers", headers=headers)
    assert mine.json["meta"]["total"] == 1
    assert mine.json["items"][0]["id"] == replies[0].json["id"]
