"""Catalogue figures: validating the folder, syncing a national-size catalogue, searching it.

Run by hand: ``python tests/bench/catalogue_bench.py [N]`` (N procedures, default 5,741, the size
of the national catalogue in 2026). Uses SQLite, or PostgreSQL when ONESTOP_TEST_DATABASE_URL is
set. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from onestop.catalogue import api as catalogue_api  # noqa: E402
from onestop.catalogue.definitions import definition_from_content  # noqa: E402
from onestop.catalogue.filespec import validate_folder  # noqa: E402
from onestop.catalogue.services import sync_catalogue  # noqa: E402
from onestop.core import migrate  # noqa: E402
from onestop.core.db import make_engine  # noqa: E402
from onestop.core.tx import unit_of_work  # noqa: E402
from onestop.extensions import api, db  # noqa: E402
from tests.conftest import make_test_app  # noqa: E402
from tests.dbutil import backend, fresh_database  # noqa: E402

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


def main(total: int) -> None:
    started = time.perf_counter()
    shipped, errors = validate_folder(ROOT / "procedures")
    print(f"validate {len(shipped)} files: {(time.perf_counter() - started) * 1000:.1f} ms")
    assert not errors

    definitions = []
    for i in range(total):
        base = shipped[i % len(shipped)].to_dict()
        base["code"] = f"{1 + i // 1_000_000}.{i % 1_000_000:06d}"
        base["name"] = f"{base['name']} (bản {i})"
        definitions.append(definition_from_content(base, source_file=f"{i}.yaml"))

    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), "bench") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        app = make_test_app(url)
        if "procedures" not in app.blueprints:  # until the factory lists the feature
            api.register_blueprint(catalogue_api.blp)
        with app.app_context():
            started = time.perf_counter()
            with unit_of_work():
                sync_catalogue(db.session, definitions, actor=None, now=NOW)
            print(
                f"first sync of {total} procedures ({backend()}): "
                f"{time.perf_counter() - started:.2f} s"
            )
            started = time.perf_counter()
            with unit_of_work():
                sync_catalogue(db.session, definitions, actor=None, now=NOW)
            print(f"second sync, nothing changed: {time.perf_counter() - started:.2f} s")

        client = app.test_client()
        for label, query in [
            ("list page 1", "/api/v1/procedures"),
            ("q=dang ky khai sinh", "/api/v1/procedures?q=dang%20ky%20khai%20sinh"),
            (
                "q + level + online_level",
                "/api/v1/procedures?q=chung%20thuc&level=commune&online_level=partial",
            ),
            ("detail", "/api/v1/procedures/1.000001"),
        ]:
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                resp = client.get(query)
                samples.append(time.perf_counter() - started)
                assert resp.status_code == 200, resp.json
            print(f"{label}: {_ms(samples)} (total {resp.json.get('meta', {}).get('total', 1)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5741)
