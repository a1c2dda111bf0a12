"""The demo company's field work: equipment at customers, work orders, visits and orders."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.demo import vocabulary as words
from server.demo.company import Builder, Record, Site, wire_money, wire_time
from server.domain.vocabulary import OrderStatus as S
from server.domain.vocabulary import VisitStatus as V
from server.domain.vocabulary import WorkOrderStatus as W

WORK_ORDER_STATUSES = {
    W.NEW: 14, W.SCHEDULED: 24, W.DISPATCHED: 14, W.IN_PROGRESS: 10, W.ON_HOLD: 7,
    W.COMPLETED: 16, W.CLOSED: 10, W.CANCELLED: 5,
}
PRIORITIES = {"low": 20, "normal": 50, "high": 22, "urgent": 8}
ORDER_STATUSES = {
    S.DRAFT: 25, S.SUBMITTED: 25, S.APPROVED: 20, S.FULFILLED: 15, S.REJECTED: 8,
    S.CANCELLED: 7,
}
STARTED = (W.IN_PROGRESS, W.ON_HOLD, W.COMPLETED, W.CLOSED)
FINISHED = (W.COMPLETED, W.CLOSED)


def add_field_activity(builder: Builder) -> None:
    """Assets and van stock, then work orders and their details, then visits and orders."""
    stock = {tech.id: _add_van_stock(builder, tech.id)
             for tech in _users(builder, "technician")}
    for site in builder.sites:
        _add_assets(builder, site)
    serviced = [site for site in builder.sites if site.assets]
    for number in range(max(10, len(builder.sites) // 4)):
        site = builder.rng.choice(serviced)
        _add_work_order(builder, site, number, stock)
    for rep in _users(builder, "rep"):
        _add_rep_activity(builder, rep)


def _users(builder: Builder, role: str):
    return [user for user in builder.users if user.role == role]


def _pick(builder: Builder, weights: dict[str, int]) -> str:
    return builder.rng.choices(list(weights), weights=list(weights.values()))[0]


def _add_van_stock(builder: Builder, technician_id: str) -> list[Record]:
    parts = builder.rng.sample(builder.records["part"], k=builder.rng.randint(24, 40))
    for part in parts:
        builder.add("van_stock", technician_id=technician_id, part_id=part["id"],
                    quantity=builder.rng.randint(0, 12))
    return parts


def _add_assets(builder: Builder, site: Site) -> None:
    rng = builder.rng
    status = site.account["status"]
    count = {"active": rng.choices((0, 1, 2, 3), weights=(12, 40, 33, 15))[0],
             "inactive": rng.randint(0, 1)}.get(status, 0)
    for kind in rng.sample(words.CUSTOMER_KINDS[site.kind][2], k=count):
        equipment = words.EQUIPMENT[kind]
        installed = builder.today - timedelta(days=rng.randint(90, 3000))
        asset = builder.add(
            "asset", account_id=site.account["id"], name=equipment.label,
            model=rng.choice(equipment.models),
            serial_number=f"{equipment.serial_prefix}-{installed.year}-{rng.randint(1, 99999):05d}",
            installed_on=installed.isoformat(),
            warranty_until=(installed + timedelta(days=rng.choice((730, 1095)))).isoformat(),
            notes="Under a preventive maintenance plan." if rng.random() < 0.2 else None,
        )
        site.assets.append((asset, kind))


def _add_work_order(builder: Builder, site: Site, number: int, stock) -> None:
    rng = builder.rng
    asset, kind = rng.choice(site.assets)
    equipment = words.EQUIPMENT[kind]
    status = _pick(builder, WORK_ORDER_STATUSES)
    technician = None if status == W.NEW else _technician_for(builder, site.territory)
    preventive = rng.random() < 0.25
    title = (words.PREVENTIVE.format(label=equipment.label.lower()) if preventive
             else rng.choice(equipment.problems))
    times = _work_order_times(builder, status)
    used = rng.sample(stock[technician], k=rng.randint(1, 2)) if status in FINISHED else []
    order = builder.add(
        "work_order", account_id=site.account["id"], asset_id=asset["id"],
        technician_id=technician, number=f"WO-{builder.today.year}-{number + 1:05d}",
        title=title, description=_description(site, title, preventive),
        status=status, priority=_pick(builder, PRIORITIES),
        **{name: wire_time(value) if value else None for name, value in times.items()},
        resolution=_resolution(used) if status in FINISHED else None,
        signed_by=_signer(site) if status in FINISHED else None,
    )
    _add_checklist(builder, order, equipment.checklist, times)
    if technician and status in STARTED:
        _add_time_entries(builder, order, technician, times)
    for part in used:
        builder.add("part_used", work_order_id=order["id"], part_id=part["id"],
                    quantity=rng.randint(1, 2), notes=None)


def _technician_for(builder: Builder, territory: str) -> str:
    technicians = _users(builder, "technician")
    local = [tech for tech in technicians if territory in tech.territory_codes]
    return builder.rng.choice(local or technicians).id


def _work_order_times(builder: Builder, status: str) -> dict[str, datetime | None]:
    rng, now = builder.rng, builder.now
    days_ago = {W.IN_PROGRESS: 0, W.ON_HOLD: rng.randint(2, 6), W.COMPLETED: rng.randint(1, 20),
                W.CLOSED: rng.randint(21, 60), W.CANCELLED: rng.randint(1, 30)}
    if status in days_ago:
        start = now - timedelta(days=days_ago[status], hours=rng.randint(1, 4))
    elif status == W.NEW:
        start = None
    else:
        ahead = rng.randint(0, 2) if status == W.DISPATCHED else rng.randint(1, 10)
        start = now + timedelta(days=ahead, hours=rng.randint(-1, 5))
    started = start + timedelta(minutes=rng.randint(5, 40)) if status in STARTED else None
    return {
        "scheduled_start": start,
        "due_at": (start or now) + timedelta(days=rng.randint(1, 7)),
        "started_at": started,
        "completed_at": (started + timedelta(minutes=rng.randint(40, 240))
                         if status in FINISHED else None),
    }


def _description(site: Site, title: str, preventive: bool) -> str:
    if preventive:
        return "Scheduled visit under the customer's service plan."
    contact = site.contacts[0]
    return f"{contact['first_name']} ({contact['title']}) reports: {title.lower()}."


def _resolution(parts: list[Record]) -> str:
    replaced = " and ".join(part["name"].lower() for part in parts)
    return f"Replaced {replaced}; tested a full cycle and verified operation with the customer."


def _signer(site: Site) -> str:
    contact = site.contacts[0]
    return f"{contact['first_name']} {contact['last_name']}"


def _add_checklist(builder: Builder, order: Record, labels, times) -> None:
    rng = builder.rng
    labels = labels[: rng.randint(3, len(labels))]
    done = {W.COMPLETED: len(labels), W.CLOSED: len(labels),
            W.IN_PROGRESS: rng.randint(0, len(labels) - 1)}.get(order["status"], 0)
    for position, label in enumerate(labels):
        checked = position < done
        answered = times["started_at"] + timedelta(minutes=10 * (position + 1)) if checked \
            else None
        builder.add("checklist_item", work_order_id=order["id"], position=position,
                    label=label, checked=checked, answer="OK" if checked else None,
                    answered_at=wire_time(answered) if answered else None)


def _add_time_entries(builder: Builder, order: Record, technician: str, times) -> None:
    travel = builder.rng.randint(15, 75)
    started = times["started_at"]
    builder.add("time_entry", work_order_id=order["id"], technician_id=technician,
                kind="travel", started_at=wire_time(started - timedelta(minutes=travel)),
                ended_at=wire_time(started), minutes=travel, notes=None)
    if order["status"] == W.IN_PROGRESS:
        return  # the technician is on site now; labor is logged when they stop the clock
    ended = times["completed_at"] or started + timedelta(minutes=builder.rng.randint(30, 90))
    builder.add("time_entry", work_order_id=order["id"], technician_id=technician,
                kind="labor", started_at=wire_time(started), ended_at=wire_time(ended),
                minutes=int((ended - started).total_seconds() // 60),
                notes="Waiting for a part." if order["status"] == W.ON_HOLD else None)


def _add_rep_activity(builder: Builder, rep) -> None:
    rng = builder.rng
    sites = [site for site in builder.sites
             if site.territory in rep.territory_codes and site.account["status"] != "inactive"]
    past = [_add_visit(builder, rep.id, rng.choice(sites), days=-rng.randint(1, 30),
                       status=V.COMPLETED) for _ in range(rng.randint(4, 8))]
    for _ in range(rng.randint(6, 10)):
        _add_visit(builder, rep.id, rng.choice(sites), days=rng.randint(1, 14), status=V.PLANNED)
    _add_visit(builder, rep.id, rng.choice(sites), days=0, status=V.CHECKED_IN)
    _add_visit(builder, rep.id, rng.choice(sites), days=rng.randint(1, 5), status=V.CANCELLED)
    for _ in range(rng.randint(2, 4)):
        visit, site = rng.choice(past)
        _add_order(builder, rep.id, site, visit if rng.random() < 0.6 else None)


def _add_visit(builder: Builder, rep_id: str, site: Site, *, days: int, status: str):
    rng = builder.rng
    planned = builder.now + timedelta(days=days, hours=rng.randint(-1, 4))
    if status == V.CHECKED_IN:
        planned = builder.now - timedelta(minutes=rng.randint(10, 50))
    visited = status in (V.CHECKED_IN, V.COMPLETED)
    checked_in = planned + timedelta(minutes=rng.randint(0, 20)) if visited else None
    account = site.account
    visit = builder.add(
        "visit", account_id=account["id"], rep_id=rep_id, status=status,
        planned_at=wire_time(planned),
        checked_in_at=wire_time(checked_in) if checked_in else None,
        completed_at=(wire_time(checked_in + timedelta(minutes=rng.randint(15, 60)))
                      if status == V.COMPLETED else None),
        latitude=_near(account["latitude"], rng) if visited else None,
        longitude=_near(account["longitude"], rng) if visited else None,
        outcome=rng.choice(words.VISIT_OUTCOMES) if status == V.COMPLETED else None,
        notes="Customer asked to reschedule." if status == V.CANCELLED else None,
    )
    return visit, site


def _near(coordinate: str, rng) -> str:
    return f"{float(coordinate) + rng.uniform(-0.0004, 0.0004):.6f}"


def _add_order(builder: Builder, rep_id: str, site: Site, visit: Record | None) -> None:
    rng = builder.rng
    status = _pick(builder, ORDER_STATUSES)
    placed = (datetime.fromisoformat(visit["completed_at"]) if visit
              else builder.now - timedelta(days=rng.randint(0, 20)))
    order = builder.add(
        "order", account_id=site.account["id"], rep_id=rep_id,
        visit_id=visit["id"] if visit else None,
        price_list_id=builder.records["price_list"][0]["id"], status=status,
        ordered_at=None if status == S.DRAFT else wire_time(placed),
        notes=rng.choice(words.ORDER_NOTES),
    )
    products = [p for p in builder.records["product"] if p["active"]]
    for product in rng.sample(products, k=rng.randint(1, 6)):
        _add_order_line(builder, order, product)


def _add_order_line(builder: Builder, order: Record, product: Record) -> None:
    # line_total is not sent: the server computes it from its own price list.
    rng = builder.rng
    unit_price = builder.prices[product["id"]]
    quantity = rng.randint(1, 2) if unit_price > 1000 else rng.randint(1, 24)
    builder.add("order_line", order_id=order["id"], product_id=product["id"],
                quantity=quantity, unit_price=wire_money(unit_price),
                discount_pct=rng.choice(("0.00", "0.00", "0.00", "5.00", "10.00")))
