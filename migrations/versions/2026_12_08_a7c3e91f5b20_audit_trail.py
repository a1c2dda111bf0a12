"""audit trail: sync_audit, one row per written version of a replicated record

Who changed what (user, device, mutation, how: a device push, an office edit, a conflict
override) and each changed field's value before and after. Append-only; no retention job
deletes from it. Keyed by (entity, record_id, version): a record's versions are written
once. Self-contained: it only adds a table.

Its cost, counted on SQLite (bench.push_cpu under callgrind, 6 x 500 pushed accounts):
552,200 -> 599,100 instructions per pushed create (+8.5%), nearly all of it the row itself
(a create's row holds the whole record). A WITHOUT ROWID table counted no better (601,900).

Revision ID: a7c3e91f5b20
Revises: a7c3e91f4b20
Create Date: 2026-12-08 04:10:00

"""
import sqlalchemy as sa
from alembic import op
from sync.sqltypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'a7c3e91f5b20'
down_revision = 'a7c3e91f4b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_audit',
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('device_id', sa.String(length=36), nullable=True),
    sa.Column('mutation_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'record_id', 'version', name=op.f('pk_sync_audit'))
    )


def downgrade():
    op.drop_table('sync_audit')
