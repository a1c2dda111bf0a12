"""key tables by primary key only: drop ix_sync_record_key_record and ix_sync_change_key_seq

Every pushed record writes two key rows to sync_record_key and two to sync_change_key (its
territory's key and its own), and each row also went into a second index, by record or by
seq. Those indexes served only the retention jobs' deletes, which now find each key row by
its primary key from the keys the record's scope or the change's scope_keys lists. Counted
on SQLite (bench.push_cpu under callgrind): 571,600 -> 550,700 instructions per pushed
account.

Revision ID: 5d1c9e7b3a42
Revises: 8e4f2a6c1d90
Create Date: 2026-12-06 04:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5d1c9e7b3a42'
down_revision = '8e4f2a6c1d90'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_sync_record_key_record', table_name='sync_record_key')
    op.drop_index('ix_sync_change_key_seq', table_name='sync_change_key')


def downgrade():
    op.create_index('ix_sync_change_key_seq', 'sync_change_key', ['seq'], unique=False)
    op.create_index('ix_sync_record_key_record', 'sync_record_key', ['entity', 'record_id'],
                    unique=False)
