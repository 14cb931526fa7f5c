"""dreams keep their guide image

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:05:00

A dream made with ``/dream guide:<picture>`` records the guide's file reference
(like the input's), so "Dream again" and "Deeper" can dream with the same guide.
Existing dreams get no guide (NULL).
"""
from __future__ import annotations

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('dreams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guide_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('guide_ext', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('guide_size', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dreams_guide_sha256'), ['guide_sha256'], unique=False)


def downgrade() -> None:
    # SQLite drops columns by copying the table: keep AUTOINCREMENT (dream ids are never reused)
    with op.batch_alter_table('dreams', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dreams_guide_sha256'))
        batch_op.drop_column('guide_size')
        batch_op.drop_column('guide_ext')
        batch_op.drop_column('guide_sha256')
