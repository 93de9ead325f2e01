"""A long schemathesis run over the whole API: many examples per operation and identity, then a
stateful phase that chains operations through the links inferred from the OpenAPI document.

Run from the repository root (SQLite by default; set ONESTOP_TEST_DATABASE_URL to a PostgreSQL
URL to run against a fresh database on that server)::

    python tests/bench/fuzz.py [--examples 200] [--stateful-examples 100] [--seed 20261123]

The target is the one of ``tests/test_fuzz_api.py`` (real agencies, catalogue, dossiers, files,
issued documents; anonymous, citizen, clerk of agency A, administrator) and so are the checks:
no 5xx, status code, content type, headers and body as documented, and no error in the
application's log. Prints the operations fuzzed, the requests made, the 5xx, the schema
violations and the logged errors found (each listed), and the time. Exits 1 when anything was
found.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as fixed_seed

from onestop.extensions import db
from tests.dbutil import backend, fresh_database
from tests.test_fuzz_api import (
    CHECKS,
    IDENTITIES,
    OPERATIONS,
    SCHEMA,
    FuzzTarget,
    Tally,
    build_target,
    fuzz_operation,
    summarize,
)


def stateful(target: FuzzTarget, identity: str, tally: Tally, *, examples: int, seed: int) -> None:
    """Hypothesis state machine over the inferred links, as ``identity``; failures are tallied."""
    current: dict[str, dict[str, str]] = {}
    spare = target.known["user_id"][-1]
    base = SCHEMA.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            # Disabling an account the run logs in as would end the run; the spare one is fair.
            if case.path_parameters and case.path_parameters.get("user_id") in protected:
                case.path_parameters["user_id"] = spare

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": target.app, "headers": current["headers"]}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            tally.requests += 1
            tally.operations[case.operation.label] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=current["headers"])
            except Exception as exc:
                if response.status_code >= 500:
                    tally.server_errors += 1
                else:
                    tally.schema_violations += 1
                tally.failures.append(
                    f"stateful {case.operation.label} as {identity}: {summarize(exc)}"
                )

    # One state machine run per example, each with its own seed: the database changes under
    # the runs, and Hypothesis would take a replayed prefix that now draws differently for a
    # flaky strategy (FlakyStrategyDefinition).
    protected = target.protected_user_ids
    for i in range(examples):
        # Fresh headers per run: a DELETE /auth/tokens in the previous run revoked its token.
        current["headers"] = target.headers(identity)
        fixed_seed(seed + i)(Machine)  # Hypothesis reads the seed from the state machine class
        Machine.run(
            settings=settings(
                max_examples=1,
                stateful_step_count=10,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
        )


class ErrorLog(logging.Handler):
    """Errors the application logged while answering (a notice not issued after a transition,
    for instance): failures the HTTP reply does not show."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def row(name: str, tally: Tally, seconds: float) -> None:
    rate = tally.requests / seconds if seconds else 0.0
    print(
        f"| {name} | {len(tally.operations)} | {tally.requests:,} | {tally.server_errors} | "
        f"{tally.schema_violations} | {seconds:.1f} | {rate:,.0f} |",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="per operation and identity")
    parser.add_argument(
        "--stateful-examples", type=int, default=100, help="state machine runs per identity"
    )
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    errors = ErrorLog()
    logging.getLogger("onestop").addHandler(errors)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), "fuzzbench") as url:
        target = build_target(url, Path(tmp) / "storage")
        print(f"database: {backend()}; operations: {len(OPERATIONS)}; identities: {IDENTITIES}")

        print("| phase | operations | requests | 5xx | schema violations | seconds | requests/s |")
        print("|---|---|---|---|---|---|---|")
        t0 = time.perf_counter()
        plain = Tally()
        for label in sorted(OPERATIONS):
            for identity in IDENTITIES:
                fuzz_operation(
                    target, label, identity, max_examples=args.examples, tally=plain, seed=args.seed
                )
        row("per operation", plain, time.perf_counter() - t0)

        t0 = time.perf_counter()
        chained = Tally()
        for identity in IDENTITIES:
            stateful(target, identity, chained, examples=args.stateful_examples, seed=args.seed)
        row("stateful", chained, time.perf_counter() - t0)
        db.state(target.app).engine.dispose()

    print(f"errors logged by the application: {len(errors.messages)}")
    failures = Counter(plain.failures + chained.failures + errors.messages)
    for text, n in failures.most_common():
        print(f"  {n}× {text}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
