"""A second rep in territory N, so ownership inside one territory can be tested."""

from __future__ import annotations

import pytest

from server.models import Role
from tests.helpers import create_user
from tests.sync.harness import Harness


@pytest.fixture
def h(app) -> Harness:
    harness = Harness(app)
    harness.w.users["rep_n2"] = create_user(app, role=Role.REP, name="rep_n2",
                                            territory_codes=("N",))
    return harness
