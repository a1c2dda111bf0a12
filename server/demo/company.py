"""A demo company as data: its users and its replicated records in wire form.

Generation is pure and deterministic: the same seed, size and day give the same company, down
to every id. Records are JSON-ready dicts named by the model's columns, with "id" and without
the server-managed version, created_at, updated_at and deleted_at.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from server.demo import vocabulary as words

DEFAULT_SEED = 2024
DEFAULT_ACCOUNTS = 400
EMAIL_DOMAIN = "demo.example"

# Dependency order: a record only refers to records of entities listed before its own.
ENTITY_ORDER = (
    "territory", "account", "contact", "product", "price_list", "price", "part", "van_stock",
    "asset", "work_order", "checklist_item", "time_entry", "part_used", "visit", "order",
    "order_line",
)

CENT = Decimal("0.01")
Record = dict[str, Any]


@dataclass(frozen=True)
class DemoUser:
    """A person of the demo company; `id` is what the generated records use to refer to them."""

    id: str
    email: str
    name: str
    role: str
    territory_codes: tuple[str, ...]


@dataclass(frozen=True)
class DemoCompany:
    users: tuple[DemoUser, ...]
    records: dict[str, list[Record]] = field(default_factory=dict)

    def users_with_role(self, role: str) -> list[DemoUser]:
        return [user for user in self.users if user.role == role]

    def summary(self) -> str:
        counts = ", ".join(f"{len(rows)} {entity}" for entity, rows in self.records.items())
        return f"Demo company: {len(self.users)} users, {counts}."


def wire_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def wire_money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def wire_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_demo(*, seed: int = DEFAULT_SEED, accounts: int = DEFAULT_ACCOUNTS,
                  today: date | None = None) -> DemoCompany:
    """A realistic company with `accounts` customers, its catalog and its open work.

    Dates are placed around `today` (default: the current UTC date) so that planned visits
    and due work orders lie ahead; for a given seed, size and day the result is identical.
    """
    from server.demo.activity import add_field_activity

    builder = Builder(random.Random(seed), today or datetime.now(UTC).date())
    builder.add_people()
    builder.add_customers(accounts)
    builder.add_catalog()
    add_field_activity(builder)
    return DemoCompany(users=tuple(builder.users), records=builder.records)


class Site(NamedTuple):
    """A generated account with what later steps need to know about it."""

    account: Record
    kind: str
    territory: str
    contacts: list[Record]
    assets: list[tuple[Record, str]]


class Builder:
    """Accumulates the company; every random choice comes from one seeded generator."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        # The demo's "now" is yesterday afternoon, so that the work it shows as done (time
        # logged) lies in the past at whatever hour of `today` it is seeded: the server
        # refuses time logged in the future.
        self.now = datetime.combine(today - timedelta(days=1), time(15, 0), tzinfo=UTC)
        self.records: dict[str, list[Record]] = {entity: [] for entity in ENTITY_ORDER}
        self.users: list[DemoUser] = []
        self.sites: list[Site] = []
        self.prices: dict[str, Decimal] = {}
        self._taken: set[str] = set()

    def add(self, entity: str, **fields: Any) -> Record:
        record = {"id": wire_id(self.rng), **fields}
        self.records[entity].append(record)
        return record

    def unique(self, make) -> str:
        """A value from `make()` not produced before (numbered after a few collisions)."""
        for attempt in range(30):
            value = make() if attempt < 20 else f"{make()} {attempt - 18}"
            if value not in self._taken:
                self._taken.add(value)
                return value
        raise RuntimeError("vocabulary too small for the requested size")

    def territory_id(self, code: str) -> str:
        return next(t["id"] for t in self.records["territory"] if t["code"] == code)

    # --- people -------------------------------------------------------------------------

    def add_people(self) -> None:
        codes = [t.code for t in words.TERRITORIES]
        for territory in words.TERRITORIES:
            self.add("territory", code=territory.code, name=territory.name,
                     region=territory.region)
        for i in range(6):
            self._add_user("rep", self._service_area(codes, i, second_chance=0.35))
        for i in range(5):
            self._add_user("technician", self._service_area(codes, i, second_chance=0.4))
        for role in ("dispatcher", "back_office", "admin"):
            self._add_user(role, ())

    def _service_area(self, codes: list[str], i: int, *, second_chance: float) -> tuple:
        primary = codes[i % len(codes)]
        if self.rng.random() >= second_chance:
            return (primary,)
        return tuple(sorted({primary, self.rng.choice(codes)}))

    def _add_user(self, role: str, codes: tuple[str, ...]) -> None:
        name = self.unique(self.person_name)
        email = f"{_slug(name, '.')}@{EMAIL_DOMAIN}"
        self.users.append(DemoUser(wire_id(self.rng), email, name, role, codes))

    def person_name(self) -> str:
        return f"{self.rng.choice(words.FIRST_NAMES)} {self.rng.choice(words.LAST_NAMES)}"

    # --- customers ----------------------------------------------------------------------

    def add_customers(self, count: int) -> None:
        kinds = list(words.CUSTOMER_KINDS)
        weights = [words.CUSTOMER_KINDS[k][0] for k in kinds]
        for number in range(count):
            territory = self.rng.choices(words.TERRITORIES, weights=(30, 18, 20, 16, 16))[0]
            kind = self.rng.choices(kinds, weights=weights)[0]
            account = self._account(number, territory, kind)
            contacts = [self._contact(account, i) for i in range(self.rng.randint(1, 3))]
            self.sites.append(Site(account, kind, territory.code, contacts, []))

    def _account(self, number: int, territory: words.TerritoryWords, kind: str) -> Record:
        rng = self.rng
        city = rng.choice(territory.cities)
        name = self.unique(lambda: self._customer_name(kind, city.name))
        status = rng.choices(("active", "prospect", "inactive"), weights=(80, 12, 8))[0]
        return self.add(
            "account", territory_id=self.territory_id(territory.code), name=name,
            account_number=f"C-{104201 + number * 7}", status=status, phone=self.phone(city),
            email=f"{rng.choice(('info', 'orders', 'office'))}@{_slug(name)}.example",
            street=f"{rng.randint(100, 9899)} {rng.choice(words.STREETS)}", city=city.name,
            postal_code=f"{city.zip_prefix}{rng.randint(1, 99):02d}", country="US",
            latitude=f"{city.latitude + rng.uniform(-0.08, 0.08):.6f}",
            longitude=f"{city.longitude + rng.uniform(-0.1, 0.1):.6f}",
            notes=rng.choice(words.ACCOUNT_NOTES) if rng.random() < 0.3 else None,
        )

    def _customer_name(self, kind: str, city: str) -> str:
        pattern = self.rng.choice(words.CUSTOMER_KINDS[kind][1])
        return pattern.format(
            adj=self.rng.choice(words.ADJECTIVES), noun=self.rng.choice(words.NOUNS),
            last=self.rng.choice(words.LAST_NAMES), city=city,
            saint=self.rng.choice(words.SAINTS), noun2=self.rng.choice(words.NOUNS),
        )

    def _contact(self, account: Record, position: int) -> Record:
        first = self.rng.choice(words.FIRST_NAMES)
        last = self.rng.choice(words.LAST_NAMES)
        domain = account["email"].partition("@")[2]
        return self.add(
            "contact", account_id=account["id"], first_name=first, last_name=last,
            title=self.rng.choice(words.CONTACT_TITLES),
            phone=f"{account['phone'][:-2]}{self.rng.randint(0, 99):02d}",
            email=f"{_slug(first)}.{_slug(last)}@{domain}", is_primary=position == 0,
        )

    def phone(self, city: words.City) -> str:
        return f"+1 {city.area_code}-555-01{self.rng.randint(0, 99):02d}"

    # --- catalog ------------------------------------------------------------------------

    def add_catalog(self) -> None:
        price_list = self.add("price_list", name=f"{self.today.year} list prices",
                              currency="USD", valid_from=date(self.today.year, 1, 1).isoformat(),
                              valid_to=None, active=True)
        for n, (category, name, unit, low, high, variant) in enumerate(_variants(words.PRODUCTS)):
            product = self.add(
                "product", sku=f"{category}-{2001 + n}", name=f"{name}, {variant}",
                description=f"{name} ({variant}), sold per {unit}.", unit=unit,
                active=self.rng.random() > 0.03,
            )
            self.prices[product["id"]] = _list_price(self.rng.uniform(low, high))
            self.add("price", price_list_id=price_list["id"], product_id=product["id"],
                     unit_price=wire_money(self.prices[product["id"]]))
        for n, (family, name, low, high, variant) in enumerate(_variants(words.PARTS)):
            cost = Decimal(f"{self.rng.uniform(low, high):.2f}")
            self.add("part", part_number=f"{family}-{50001 + n}", name=f"{name}, {variant}",
                     unit_cost=wire_money(cost), active=True)


def _variants(rows):
    for *head, variants in rows:
        for variant in variants:
            yield (*head, variant)


def _list_price(value: float) -> Decimal:
    # Prices end the way price lists do: 12.99, 2,649.00.
    if value < 1000:
        return Decimal(int(value)) + Decimal("0.99")
    return Decimal(int(value) // 10 * 10 + 9)


def _slug(text: str, sep: str = "") -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)[:40]
