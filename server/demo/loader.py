"""Persist a generated demo company: users through the users service, everything else through
the sync engine's import, so every record is in the change log devices pull from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from server.demo.company import DemoCompany, DemoUser, Record
from server.models import Base, User


def seed_demo(session: Session, company: DemoCompany, *, password: str,
              hash_method: str) -> dict[str, str]:
    """Write `company` in the session's transaction; the caller commits.

    Territories come first (users are created with theirs), then the users, then the other
    records in dependency order. Users get their ids from the users service, so references to
    a DemoUser's id are rewritten to the stored user's id. Returns that mapping.
    Raises server.services.users.UserError (e.g. an email already taken) or the sync engine's
    validation errors; nothing is written then, once the caller rolls back.
    """
    from server.domain import import_records

    connection = session.connection()
    import_records(connection, "territory", company.records["territory"])
    user_ids = _create_users(session, company.users, password=password, hash_method=hash_method)
    for entity, records in company.records.items():
        if entity != "territory" and records:
            import_records(connection, entity, _with_user_ids(entity, records, user_ids))
    return user_ids


def _create_users(session: Session, users: Iterable[DemoUser], *, password: str,
                  hash_method: str) -> dict[str, str]:
    from server.services.users import create_user

    ids = {}
    for user in users:
        stored = create_user(session, email=user.email, name=user.name, role=user.role,
                             password=password, territory_codes=user.territory_codes,
                             hash_method=hash_method)
        ids[user.id] = stored.id
    session.flush()
    return ids


def _user_columns(entity: str) -> tuple[str, ...]:
    table = Base.metadata.tables[entity]
    user_table = User.__table__
    return tuple(column.name for column in table.columns
                 if any(fk.references(user_table) for fk in column.foreign_keys))


def _with_user_ids(entity: str, records: list[Record],
                   user_ids: Mapping[str, str]) -> list[Record]:
    columns = _user_columns(entity)
    if not columns:
        return records
    return [{**record, **{c: user_ids.get(record[c], record[c]) for c in columns
                          if record.get(c) is not None}} for record in records]
