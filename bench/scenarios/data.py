"""Deterministic benchmark data: accounts of about 500 bytes of JSON, in wire form.

The same seed and index always give the same record, down to its id, so every run (and the
floor) works on identical data. Words come from the demo company's vocabulary.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from server.demo import vocabulary as words

SEED = 6006
NOTE_SENTENCES = (*words.ACCOUNT_NOTES,
                  "Grease trap serviced quarterly; the contract is filed with the back office.",
                  "Second location opening next spring: ask about a bundle for both kitchens.",
                  "Chef is interested in a combi oven demo; budget decision in the autumn.")
Record = dict[str, Any]


def stable_id(*parts: object) -> str:
    """A UUID that depends only on `parts`, so reruns see the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fieldsync-bench:" + ":".join(map(str, parts))))


def territory(code: str) -> Record:
    return {"id": stable_id("territory", code), "code": code, "name": f"Bench territory {code}",
            "region": "Benchmark"}


def account(territory_id: str, index: int, *, seed: int = SEED, label: str = "A") -> Record:
    """Account number `index` of a series; `label` keeps series' account numbers apart."""
    rng = random.Random(f"{seed}:{label}:{index}")
    area = rng.choice(words.TERRITORIES)
    city = rng.choice(area.cities)
    last, first = rng.choice(words.LAST_NAMES), rng.choice(words.FIRST_NAMES)
    name = (f"{rng.choice(words.ADJECTIVES)} {rng.choice(words.NOUNS)} "
            f"{rng.choice(('Grill', 'Cafe', 'Bistro', 'Market', 'Bakery', 'Hotel'))} "
            f"of {city.name}")
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:30]
    notes = " ".join(rng.sample(NOTE_SENTENCES, 2)) + f" Contact: {first} {last}."
    return {
        "id": stable_id("account", seed, label, index),
        "territory_id": territory_id,
        "name": name,
        "account_number": f"{label}-{index:08d}",
        "status": rng.choice(("active", "active", "active", "prospect", "inactive")),
        "phone": f"+1 {city.area_code}-555-01{rng.randint(0, 99):02d}",
        "email": f"{rng.choice(('orders', 'office', 'info'))}@{slug}.example",
        "street": f"{rng.randint(100, 9899)} {rng.choice(words.STREETS)}",
        "city": city.name,
        "postal_code": f"{city.zip_prefix}{rng.randint(1, 99):02d}",
        "country": "US",
        "latitude": f"{city.latitude + rng.uniform(-0.08, 0.08):.6f}",
        "longitude": f"{city.longitude + rng.uniform(-0.1, 0.1):.6f}",
        "notes": notes[:400],
    }


def accounts(territory_id: str, count: int, *, start: int = 0, seed: int = SEED,
             label: str = "A") -> Iterator[Record]:
    for index in range(start, start + count):
        yield account(territory_id, index, seed=seed, label=label)
