"""office browse indexes: each list sort order the back office offers, with the id

The office's lists page by key: the page after a (name, id) or (updated_at, id) pair. These
indexes make each page a range scan however deep it is (server/models/browse_indexes.py).
Self-contained: it only adds indexes to domain tables.

Revision ID: e1b5c8d2f704
Revises: a7c3e91f2b60
Create Date: 2026-12-08 05:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e1b5c8d2f704'
down_revision = 'a7c3e91f2b60'
branch_labels = None
depends_on = None

INDEXES = {
    'account': ('name', 'updated_at'),
    'contact': ('last_name', 'updated_at'),
    'asset': ('name', 'updated_at'),
    'work_order': ('title', 'updated_at'),
    'order': ('updated_at',),
    'visit': ('updated_at',),
}


def upgrade():
    for table, columns in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_index(f'ix_{table}_{column}_id', [column, 'id'], unique=False)


def downgrade():
    for table, columns in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(f'ix_{table}_{column}_id')
