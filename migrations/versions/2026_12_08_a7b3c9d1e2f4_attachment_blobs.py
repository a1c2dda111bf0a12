"""attachment blobs: the database blob store's tables, attachments found by sha256

The bytes of attachments (photos, signatures) are content-addressed by sha256. The
filesystem store keeps them in the instance folder; the database store (several hosts
sharing the load) keeps them in blob_chunk rows, staged under an upload's key in
blob_upload, published in blob_content. ix_attachment_sha256 finds the records pointing to
a blob: who may read it, and whether retention may collect it.

Revision ID: a7b3c9d1e2f4
Revises: c4a7e2f91b36
Create Date: 2026-12-08 04:00:00

"""
import sqlalchemy as sa
from alembic import op

from sync.sqltypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'a7b3c9d1e2f4'
down_revision = 'c4a7e2f91b36'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'blob_content',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blob_content')),
    )
    op.create_table(
        'blob_upload',
        sa.Column('key', sa.String(length=90), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('stored', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_blob_upload')),
    )
    op.create_table(
        'blob_chunk',
        sa.Column('key', sa.String(length=90), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'position', name=op.f('pk_blob_chunk')),
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_sha256'), ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_sha256'))
    op.drop_table('blob_chunk')
    op.drop_table('blob_upload')
    op.drop_table('blob_content')
