"""Server time per office page at 100,000 accounts (issue 18: target under 150 ms for the
list, search and record pages).

    python -m bench.office_pages [--accounts 100000] [--repeats 5]

Builds a fresh SQLite database (or, with FIELDSYNC_TEST_DB=postgresql, a database of its own
on FIELDSYNC_TEST_PG_URL, dropped afterwards), writes the accounts straight into the tables
(the pages read the domain tables, the record index and the audit trail; how the rows got
there does not matter to them), signs an admin in to the office and times each page through
the Flask test client: the server's time, no network. Prints the median of each page as a
Markdown table; bench/results/office_pages.md holds a run on each backend.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from server import create_app
from server.extensions import db
from server.models import SYNC_TABLES, Account, Territory
from server.services.users import create_user
from tests.databases import database_with_schema

PASSWORD = "bench-office-password"
WORDS = ("Nord", "Sud", "Café", "Bistro", "Bar", "Market", "Bakery", "Deli", "Grill", "Hotel")


def seed(accounts: int) -> tuple[str, str]:
    """Territories, accounts (domain row + record index + one audit entry each), an admin."""
    territories = [{"id": str(uuid.uuid4()), "code": f"T{n}", "name": f"Territory {n}",
                    "version": 1} for n in range(20)]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    db.session.execute(sa.insert(Territory), territories)
    rows = [_account(n, territories[n % 20]["id"], now - timedelta(minutes=n))
            for n in range(accounts)]
    for start in range(0, accounts, 5000):
        chunk = rows[start:start + 5000]
        db.session.execute(sa.insert(Account), chunk)
        db.session.execute(sa.insert(SYNC_TABLES.record), [_index(r) for r in chunk])
        db.session.execute(sa.insert(SYNC_TABLES.audit), [_audit(r) for r in chunk])
    admin = create_user(db.session, email="admin@bench.example", name="Admin", role="admin",
                        password=PASSWORD, hash_method="pbkdf2:sha256:1000")
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # as autovacuum would, after a bulk load
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return admin.email, rows[accounts // 2]["id"]


def _account(n: int, territory: str, at: datetime) -> dict:
    name = f"{WORDS[n % 10]} {WORDS[(n // 10) % 10]} {n}"
    return {"id": str(uuid.uuid4()), "territory_id": territory, "name": name,
            "status": "active", "city": "Lyon", "version": 1, "created_at": at,
            "updated_at": at}


def _index(row: dict) -> dict:
    data = {k: v for k, v in row.items() if k not in ("version", "created_at", "updated_at")}
    return {"entity": "account", "record_id": row["id"], "version": 1, "hlc": "0", "scope": "*",
            "payload": json.dumps(data), "deleted": False, "updated_at": row["updated_at"]}


def _audit(row: dict) -> dict:
    return {"entity": "account", "record_id": row["id"], "version": 1, "op": "create",
            "after": {"name": row["name"]}, "source": "import", "created_at": row["updated_at"]}


def timed(client, url: str, repeats: int) -> float:
    """Median milliseconds of GET `url` (one warm-up first)."""
    assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, url
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _database(Path(tmp)) as url:
        app = create_app({"ENV": "testing", "SECRET_KEY": "bench-" + "x" * 40,
                          "SQLALCHEMY_DATABASE_URI": url}, env={})
        with app.app_context():
            email, middle = seed(args.accounts)
            results = measure(app, email, middle, args.repeats)
            db.engine.dispose()
    report(args.accounts, url.split(":")[0], results)


def measure(app, email: str, middle: str, repeats: int) -> dict[str, float]:
    from tests.server.office.pages import office_sign_in

    client = app.test_client()
    assert office_sign_in(client, email, PASSWORD).status_code == 302
    first = client.get("/office/data/account").data.decode()
    cursor = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    return {
        "list, first page (by name)": timed(client, "/office/data/account", repeats),
        "list, next page (key after)": timed(client, cursor, repeats),
        "list, by last change, descending": timed(
            client, "/office/data/account?sort=updated_at&dir=desc", repeats),
        "search 'bistro nord' (name contains)": timed(
            client, "/office/data/account?q=bistro+nord", repeats),
        "search, rare word '4242'": timed(client, "/office/data/account?q=4242", repeats),
        "record page": timed(client, f"/office/data/account/{middle}", repeats),
    }


def _database(tmp: Path):
    class Factory:
        def mktemp(self, name):
            path = tmp / name
            path.mkdir()
            return path
    return database_with_schema(Factory())


def report(accounts: int, backend: str, results: dict[str, float]) -> None:
    lines = [f"# Office pages at {accounts:,} accounts ({backend})", "",
             "| page | median ms |", "|---|---:|"]
    lines += [f"| {page} | {ms:.1f} |" for page, ms in results.items()]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
