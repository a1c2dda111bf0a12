"""receipts per push: sync_receipt_batch (one row per push) replaces sync_receipt

A push stored a receipt row per mutation; it now stores one row holding the results of all
the mutations it handled, a JSON array in mutation id order, with the first and last ids.
The rows already stored carry over as pushes of one mutation each, so a replay of a mutation
handled before the upgrade is still answered from its receipt; the downgrade splits every
push's row back into a row per mutation.

Revision ID: 3b7d0c5e9a21
Revises: 656cffc274e5
Create Date: 2026-12-06 01:05:00

"""
import sqlalchemy as sa
from alembic import op
from sync.sqltypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = '3b7d0c5e9a21'
down_revision = '656cffc274e5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_receipt_batch',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('last_mutation_id', sa.BigInteger(), nullable=False),
    sa.Column('first_mutation_id', sa.BigInteger(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'last_mutation_id', name=op.f('pk_sync_receipt_batch'))
    )
    with op.batch_alter_table('sync_receipt_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_receipt_batch_created_at'), ['created_at'],
                              unique=False)

    one_result = ("json_build_array(result)" if op.get_bind().dialect.name == "postgresql"
                  else "'[' || result || ']'")
    op.execute(
        "INSERT INTO sync_receipt_batch (device_id, last_mutation_id, first_mutation_id, "
        f"results, created_at) SELECT device_id, mutation_id, mutation_id, {one_result}, "
        "created_at FROM sync_receipt")

    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_receipt_created_at'))
    op.drop_table('sync_receipt')


def downgrade():
    op.create_table('sync_receipt',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('mutation_id', sa.BigInteger(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'mutation_id', name=op.f('pk_sync_receipt'))
    )
    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_receipt_created_at'), ['created_at'],
                              unique=False)

    if op.get_bind().dialect.name == "postgresql":
        each = ("SELECT b.device_id, (e.value ->> 'mutation_id')::bigint, e.value, b.created_at "
                "FROM sync_receipt_batch AS b, json_array_elements(b.results) AS e (value)")
    else:
        each = ("SELECT b.device_id, json_extract(e.value, '$.mutation_id'), e.value, "
                "b.created_at FROM sync_receipt_batch AS b, json_each(b.results) AS e")
    op.execute(f"INSERT INTO sync_receipt (device_id, mutation_id, result, created_at) {each}")

    with op.batch_alter_table('sync_receipt_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_receipt_batch_created_at'))
    op.drop_table('sync_receipt_batch')
