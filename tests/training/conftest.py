"""The training tests' shared fixtures."""

from tests.training.doubling import doubling  # noqa: F401  (a fixture: pytest finds it here)
