"""The demo company: `generate_demo` builds it as data, `seed_demo` stores it.

    company = generate_demo(seed=2024, accounts=400)
    seed_demo(db.session, company, password="...", hash_method="scrypt")
    db.session.commit()
"""

from server.demo.company import (
    DEFAULT_ACCOUNTS,
    DEFAULT_SEED,
    ENTITY_ORDER,
    DemoCompany,
    DemoUser,
    generate_demo,
)
from server.demo.loader import seed_demo

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_SEED",
    "ENTITY_ORDER",
    "DemoCompany",
    "DemoUser",
    "generate_demo",
    "seed_demo",
]
