"""Account fixtures: the rate-limit store under test (database or Redis), shared with lookup."""

from tests.lookup.conftest import limiter  # noqa: F401 - a fixture, used by name
