"""installation identity: device.installation_id and device.stream_id, receipt fingerprints

A client now names its installation at sign-in, and the device is bound to it; devices of
one installation (a revoked one and the one signed in after it) share a receipt stream, so a
push in doubt is answered from its receipt rather than applied again. Existing devices keep
their own stream (stream_id = id) and no installation until one signs in on them. Receipts
now keep each handled mutation's fingerprint, so a replayed id carrying another change is
refused; receipts written before keep NULL and are compared by entity and id.

Self-contained: it only adds columns (and fills device.stream_id). A downgrade gives every
device its own stream again: a push in doubt of a device that continued another's stream
may then be applied twice.

Revision ID: a7c3e91f4b20
Revises: 5d1c9e7b3a42
Create Date: 2026-12-08 04:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e91f4b20'
down_revision = '5d1c9e7b3a42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('installation_id', sa.Uuid(as_uuid=False), nullable=True))
        batch_op.add_column(sa.Column('stream_id', sa.Uuid(as_uuid=False), nullable=True))
    op.execute("UPDATE device SET stream_id = id")
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.alter_column('stream_id', existing_type=sa.Uuid(as_uuid=False),
                              nullable=False)
    with op.batch_alter_table('sync_receipt_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprints', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_receipt_batch', schema=None) as batch_op:
        batch_op.drop_column('fingerprints')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('stream_id')
        batch_op.drop_column('installation_id')
