"""Fixtures of the office tests: a small demo company and a signed-in office browser."""

from __future__ import annotations

from datetime import date

import pytest

from server.demo import generate_demo, seed_demo
from server.extensions import db
from tests.server.office.pages import office_sign_in

DEMO_DAY = date(2026, 3, 2)
DEMO_PASSWORD = "demo-password-for-tests"


@pytest.fixture
def company(app):
    """A 30-account demo company, stored; returns (company, {demo user id: stored id})."""
    demo = generate_demo(seed=7, accounts=30, today=DEMO_DAY)
    with app.app_context():
        ids = seed_demo(db.session, demo, password=DEMO_PASSWORD,
                        hash_method=app.config["PASSWORD_HASH_METHOD"])
        db.session.commit()
    return demo, ids


def demo_user(company, role: str):
    demo, ids = company
    user = next(u for u in demo.users if u.role == role)
    return user, ids[user.id]


@pytest.fixture
def office(app, company):
    """A test client signed in to the office as the demo's back-office user."""
    client = app.test_client()
    user, _ = demo_user(company, "back_office")
    assert office_sign_in(client, user.email, DEMO_PASSWORD).status_code == 302
    return client

