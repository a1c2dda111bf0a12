"""conflict index by device and mutation: devices ask what became of their open conflicts

After each sync a device that shows open conflicts asks GET /conflicts?device_id=&mutation_id=…
(docs/protocol.md §10.3); without this index that request reads the whole conflict table.

Revision ID: c4a7e2f91b36
Revises: a7c3e91f5b20
Create Date: 2026-12-08 04:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4a7e2f91b36'
down_revision = 'a7c3e91f5b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.create_index('ix_sync_conflict_device_mutation', ['device_id', 'mutation_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_conflict_device_mutation')
