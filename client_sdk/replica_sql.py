"""The SQL of the device's replica: its schema and the statements the store shares.

Kept apart from client_sdk.store so the store reads as what it does; nothing here runs.
"""

# The replica's format, kept in SQLite's user_version. 0: replicas from before it was kept,
# which this SDK reads as they are; 2: a record without pending edits keeps its view only in
# server_data (VIEW). An SDK refuses a replica of a format newer than its own, which it
# would misread.
FORMAT = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER,            -- server version; NULL until the server acknowledged it
    hlc TEXT,
    server_data TEXT,           -- the server's state (JSON); NULL when it has none
    data TEXT,                  -- with pending edits, what the app sees (JSON; NULL when
                                -- deleted); without, NULL: the app sees server_data (_VIEW)
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, id)
);
-- Rows holding nothing (no server state, no view, no pending edit) are swept after each
-- pulled page; this partial index keeps the sweep from scanning the whole replica.
CREATE INDEX IF NOT EXISTS record_empty ON record (entity, id)
    WHERE server_data IS NULL AND data IS NULL AND pending = 0;
CREATE TABLE IF NOT EXISTS outbox (
    mutation_id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, base_version INTEGER,
    fields TEXT NOT NULL, base TEXT NOT NULL, hlc TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_record ON outbox (entity, id, mutation_id);
CREATE TABLE IF NOT EXISTS rejected (
    mutation_id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, base_version INTEGER,
    fields TEXT NOT NULL, base TEXT NOT NULL, hlc TEXT,
    code TEXT NOT NULL, message TEXT NOT NULL, error_fields TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conflict (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id INTEGER, entity TEXT NOT NULL, id TEXT NOT NULL, detail TEXT NOT NULL,
    open INTEGER NOT NULL, at TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


# What the app sees: with no pending mutation the view is the server state, text for text,
# so it is not stored twice (replicas written before may hold a copy in data: it is ignored).
VIEW = "CASE WHEN pending = 0 THEN server_data ELSE data END"
# Store a server state unless a newer one is held.
STORE_SERVER_STATE = (
    "INSERT INTO record (entity, id, version, hlc, server_data) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (entity, id) DO UPDATE SET version = excluded.version, hlc = excluded.hlc, "
    "server_data = excluded.server_data "
    "WHERE record.version IS NULL OR record.version <= excluded.version")
# Store a pulled server state of a record with no pending mutation (its view is the server
# state: data stays NULL), unless a newer one is held.
STORE_PULLED = (
    "INSERT INTO record (entity, id, version, hlc, server_data) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (entity, id) DO UPDATE SET version = excluded.version, hlc = excluded.hlc, "
    "server_data = excluded.server_data, data = NULL "
    "WHERE record.version IS NULL OR record.version <= excluded.version")
# A mutation's wire form (Mutation.to_wire) from its outbox row.
WIRE_MUTATION = ("json_object('mutation_id', mutation_id, 'entity', entity, 'id', id, "
                  "'op', op, 'base_version', base_version, 'fields', json(fields), "
                  "'base', json(base), 'hlc', hlc)")
# The (entity, id) pairs of a JSON list of pairs handed in as the statement's parameter.
KEYS = "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
