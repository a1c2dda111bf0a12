"""The engine's own tables: record index, change log, receipts, conflicts, rejections, audit.

`define_sync_tables(metadata)` adds them to the caller's MetaData so one schema (and one
Alembic history) holds the domain and the engine alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sync.sqltypes import BigIntPK, UTCDateTime

ID = sa.String(36)
ENTITY = sa.String(40)
SCOPE_KEY = sa.String(80)


@dataclass(frozen=True)
class SyncTables:
    record: sa.Table
    record_key: sa.Table
    change: sa.Table
    change_key: sa.Table
    device: sa.Table
    receipt: sa.Table
    conflict: sa.Table
    rejection: sa.Table
    meta: sa.Table
    audit: sa.Table


def define_sync_tables(metadata: sa.MetaData) -> SyncTables:
    """Declare the sync tables on `metadata` and return them."""
    return SyncTables(
        record=_record(metadata),
        # The two key tables are all key: on SQLite, stored in their primary key's b-tree
        # (WITHOUT ROWID), a row is written to two b-trees, not three (a pushed record's key
        # row about a fifth quicker). They have no other index: every push writes them, pulls
        # read them by key, and the jobs that delete rows by record or by seq know the keys
        # from the record's scope or the change's scope_keys (sync.retention, sync.changelog).
        record_key=sa.Table(
            "sync_record_key",
            metadata,
            sa.Column("key", SCOPE_KEY, primary_key=True),
            sa.Column("entity", ENTITY, primary_key=True),
            sa.Column("record_id", ID, primary_key=True),
            sqlite_with_rowid=False,
        ),
        change=_change(metadata),
        change_key=sa.Table(
            "sync_change_key",
            metadata,
            sa.Column("key", SCOPE_KEY, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True),
            sqlite_with_rowid=False,
        ),
        # Push positions and receipts are kept per receipt stream (Actor.stream): its id is in
        # their device_id columns, the first device's id of an installation.
        device=sa.Table(
            "sync_device",
            metadata,
            sa.Column("device_id", ID, primary_key=True),
            sa.Column("last_mutation_id", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("last_push_at", UTCDateTime),
            sa.Column("last_pull_at", UTCDateTime),
            sa.Column("last_pull_seq", sa.BigInteger),
        ),
        # One row per push: the results of the mutations it handled (first_mutation_id to
        # last_mutation_id, the ids it held above the device's last), a JSON array in id
        # order. A row per mutation cost a pushed create about 4% of its time. `fingerprints`
        # holds each handled mutation's fingerprint (sync.push.fingerprint), space separated
        # in the same order, so a replay can be told from another mutation under the same
        # id; NULL in receipts written before it was kept.
        receipt=sa.Table(
            "sync_receipt_batch",
            metadata,
            sa.Column("device_id", ID, primary_key=True),
            sa.Column("last_mutation_id", sa.BigInteger, primary_key=True),
            sa.Column("first_mutation_id", sa.BigInteger, nullable=False),
            sa.Column("results", sa.JSON, nullable=False),
            sa.Column("fingerprints", sa.Text),
            sa.Column("created_at", UTCDateTime, nullable=False, index=True),
        ),
        conflict=_conflict(metadata),
        rejection=_rejection(metadata),
        meta=sa.Table(
            "sync_meta",
            metadata,
            sa.Column("name", sa.String(40), primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        ),
        audit=_audit(metadata),
    )


def _record(metadata: sa.MetaData) -> sa.Table:
    # The sync view of every replicated record: what a pull sends, ready to send.
    record = sa.Table(
        "sync_record",
        metadata,
        sa.Column("entity", ENTITY, primary_key=True),
        sa.Column("record_id", ID, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("hlc", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    # Tombstones by age, for their purge (sync.retention): only deleted records are in it,
    # so writing a live record costs no entry.
    deleted = record.c.deleted.is_(True)
    sa.Index("ix_sync_record_tombstones", record.c.updated_at, sqlite_where=deleted,
             postgresql_where=deleted)
    return record


def _change(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "sync_change",
        metadata,
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("entity", ENTITY, nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        # Scope keys the record had before and after the change, space separated: a device
        # that could see either gets the change (as an update or as an eviction).
        sa.Column("scope_keys", sa.Text, nullable=False),
        # The receipt stream (Actor.stream) whose push made the change: whose own it is.
        sa.Column("device_id", ID),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Index("ix_sync_change_record", "entity", "record_id", "seq"),
        sa.Index("ix_sync_change_created_at", "created_at"),
        # sequence numbers are never reused, even after compaction deletes the newest rows
        sqlite_autoincrement=True,
    )


def _conflict(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "sync_conflict",
        metadata,
        sa.Column("id", ID, primary_key=True),
        sa.Column("entity", ENTITY, nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("field", sa.String(64)),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("policy", sa.String(24), nullable=False),
        sa.Column("base", sa.JSON),
        sa.Column("server_value", sa.JSON),
        sa.Column("client_value", sa.JSON),
        sa.Column("result", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("device_id", ID),
        sa.Column("user_id", ID),
        sa.Column("mutation_id", sa.BigInteger),
        sa.Column("mutation", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("resolved_by", ID),
        sa.Index("ix_sync_conflict_status_created", "status", "created_at"),
        sa.Index("ix_sync_conflict_record", "entity", "record_id"),
        # A device asks what became of its open conflicts by mutation id on each sync.
        sa.Index("ix_sync_conflict_device_mutation", "device_id", "mutation_id"),
    )


def _rejection(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "sync_rejection",
        metadata,
        sa.Column("id", ID, primary_key=True),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("user_id", ID),
        sa.Column("mutation_id", sa.BigInteger, nullable=False),
        sa.Column("entity", ENTITY),
        sa.Column("record_id", ID),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON),
        sa.Column("mutation", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False, index=True),
        sa.Index("ix_sync_rejection_device", "device_id", "mutation_id"),
    )


def _audit(metadata: sa.MetaData) -> sa.Table:
    # Who changed what, one row per written version of a record: append-only, and no
    # retention job touches it (the change log forgets, the audit trail does not). A record's
    # versions are never written twice (a purged tombstone keeps its domain row, so its id
    # cannot be created again), so they key it and order its history.
    # `before`/`after` hold the changed fields' values (a create: no before, all fields
    # after; a delete: all fields before, no after); `source` says how the write came
    # ("push" from a device, or what the server-side writer named itself).
    return sa.Table(
        "sync_audit",
        metadata,
        sa.Column("entity", ENTITY, primary_key=True),
        sa.Column("record_id", ID, primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
        sa.Column("user_id", ID),
        sa.Column("device_id", ID),
        sa.Column("mutation_id", sa.BigInteger),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
