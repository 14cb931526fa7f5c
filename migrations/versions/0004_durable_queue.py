"""dreams keep what resuming them after a restart needs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:10:00

A dream admitted by the bot survives a restart or a crash (issue 17): it keeps the
interaction token that edits the user's message (and when Discord stops honouring
it), the upload limit where it was asked, how often a dying bot process interrupted
it, and whether its finished result still has to reach the user. Existing rows:
no token, no interruptions, nothing undelivered.
"""
from __future__ import annotations

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # should SQLite copy the table to add the columns, it keeps AUTOINCREMENT (dream ids are never reused)
    with op.batch_alter_table('dreams', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('reply_token', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('reply_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('upload_limit', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('interruptions', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('undelivered', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # SQLite drops columns by copying the table: keep AUTOINCREMENT (dream ids are never reused)
    with op.batch_alter_table('dreams', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('undelivered')
        batch_op.drop_column('interruptions')
        batch_op.drop_column('upload_limit')
        batch_op.drop_column('reply_expires_at')
        batch_op.drop_column('reply_token')
