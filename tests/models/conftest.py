"""The harness's assertions report their values, as a test module's do."""

import pytest

pytest.register_assert_rewrite("tests.models.harness")
