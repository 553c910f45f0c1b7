"""channels: identities, chats as (channel, id), channel-neutral outbox messages

Revision ID: 0002_channels
Revises: 0001
Create Date: 2026-12-06

Carries a database built for Telegram only over without loss:
- every users row gets a `telegram` identity (its tg_id as text; blocked_bot moves there);
- every chat id (staff chat, unit chats, outbox rows, source-message and inbound-message keys)
  becomes text beside a channel column, `telegram` for every existing row;
- outbox text (Telegram HTML) and reply_markup become a neutral message (spans and actions; the
  payloads of existing buttons are kept as they were), and the photo its file;
- inbound_messages.reply (HTML) becomes a neutral message too;
- if any card with buttons was ever queued, unsigned (pre-upgrade) button data keeps working for
  30 days (bot_settings.legacy_actions_until): cards already in chats stay usable.
The HTML is converted by a parser frozen here (the subset the bot wrote: b, i, code, a).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0002_channels"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM = "telegram"
LEGACY_DAYS = 30
CHUNK = 500


class _Spans(HTMLParser):
    """Telegram HTML as the bot wrote it -> the storable span list of domain.message.Rich."""

    STYLES: ClassVar[dict[str, str]] = {
        "b": "b",
        "strong": "b",
        "i": "i",
        "em": "i",
        "code": "code",
        "a": "a",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[Any] = []
        self.style = ""
        self.url = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.style = self.STYLES.get(tag, self.style)
        if tag == "a":
            self.url = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in self.STYLES:
            self.style, self.url = "", ""

    def handle_data(self, data: str) -> None:
        if not data:
            return
        last = self.out[-1] if self.out else None
        if not self.style:
            if isinstance(last, str):
                self.out[-1] = last + data
            else:
                self.out.append(data)
            return
        item = [self.style, data, self.url] if self.url else [self.style, data]
        if isinstance(last, list) and last[0] == self.style and last[2:] == item[2:]:
            last[1] += data
        else:
            self.out.append(item)


def html_to_spans(html: str | None) -> list[Any]:
    parser = _Spans()
    parser.feed(html or "")
    parser.close()
    return parser.out


def markup_to_actions(markup: Any) -> list[Any]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard") or []
    return [[[b.get("text", ""), b.get("callback_data", "")] for b in row] for row in rows]


def _text_id(column: str, nullable: bool = True) -> dict[str, Any]:
    return {
        "type_": sa.String(length=128),
        "existing_type": sa.BigInteger(),
        "existing_nullable": nullable,
        "postgresql_using": f"{column}::text",
    }


def upgrade() -> None:
    _new_tables()
    _identities()
    _stations_and_units()
    _source_keys()
    _inbound()
    _outbox()
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Tables were rebuilt with foreign keys off (migrations/env.py): check them all now.
        broken = conn.execute(sa.text("PRAGMA foreign_key_check")).all()
        if broken:
            raise RuntimeError(f"foreign keys broken by 0002_channels: {broken[:5]}")


def _new_tables() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("link_failures", sa.Integer(), nullable=False),
        sa.Column("link_failed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_identities_channel_external_id")
        ),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_user_id"), ["user_id"], unique=False)
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name=op.f("fk_link_codes_identity_id_identities")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_link_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_link_codes_code")),
    )
    op.create_table(
        "chat_questions",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("payloads", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=True),
        sa.Column("delivered_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id", name=op.f("pk_chat_questions")),
    )
    op.create_table(
        "bot_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_settings")),
    )


def _identities() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO identities (user_id, channel, external_id, first_name, last_name,"
            " username, blocked, link_failures, created_at, updated_at)"
            " SELECT id, :channel, CAST(tg_id AS VARCHAR(128)), first_name, last_name, username,"
            " blocked_bot, 0, created_at, updated_at FROM users"
        ),
        {"channel": TELEGRAM},
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reach_identity_id", sa.Integer(), nullable=True))
    conn.execute(
        sa.text(
            "UPDATE users SET reach_identity_id ="
            " (SELECT i.id FROM identities i WHERE i.user_id = users.id)"
        )
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_tg_id"), type_="unique")
        batch_op.drop_column("tg_id")
        batch_op.drop_column("blocked_bot")


def _stations_and_units() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_channel", sa.String(length=16), nullable=True))
        batch_op.alter_column("staff_chat_id", **_text_id("staff_chat_id"))
    op.execute(
        sa.text("UPDATE stations SET staff_channel = 'telegram' WHERE staff_chat_id IS NOT NULL")
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_channel", sa.String(length=16), nullable=True))
        batch_op.drop_index(batch_op.f("ix_units_chat_id"))
        batch_op.alter_column("chat_id", **_text_id("chat_id"))
        batch_op.create_index(batch_op.f("ix_units_chat_id"), ["chat_id"], unique=False)
    op.execute(sa.text("UPDATE units SET chat_channel = 'telegram' WHERE chat_id IS NOT NULL"))


def _source_keys() -> None:
    for table in ("opinions", "attachments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("src_channel", sa.String(length=16), nullable=True))
            batch_op.drop_constraint(
                batch_op.f(f"uq_{table}_src_chat_id_src_message_id"), type_="unique"
            )
            batch_op.alter_column("src_chat_id", **_text_id("src_chat_id"))
            batch_op.alter_column("src_message_id", **_text_id("src_message_id"))
            if table == "opinions":
                batch_op.alter_column("receipt_message_id", **_text_id("receipt_message_id"))
        op.execute(
            sa.text(f"UPDATE {table} SET src_channel = 'telegram' WHERE src_chat_id IS NOT NULL")
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_unique_constraint(
                batch_op.f(f"uq_{table}_src_channel_src_chat_id_src_message_id"),
                ["src_channel", "src_chat_id", "src_message_id"],
            )


def _inbound() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reply_json", sa.JSON(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("uq_inbound_messages_chat_id_message_id"), type_="unique"
        )
        batch_op.alter_column("chat_id", **_text_id("chat_id", nullable=False))
        batch_op.alter_column("message_id", **_text_id("message_id", nullable=False))
    conn = op.get_bind()
    table = sa.table(
        "inbound_messages",
        sa.column("id", sa.Integer),
        sa.column("reply", sa.Text),
        sa.column("reply_json", sa.JSON),
        sa.column("channel", sa.String),
    )
    rows = conn.execute(sa.select(table.c.id, table.c.reply)).all()
    for row_id, reply in rows:
        value = None if reply is None else {"t": html_to_spans(reply)}
        conn.execute(
            table.update().where(table.c.id == row_id).values(reply_json=value, channel=TELEGRAM)
        )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("reply")
        batch_op.alter_column("reply_json", new_column_name="reply", existing_type=sa.JSON())
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_inbound_messages_channel_chat_id_message_id"),
            ["channel", "chat_id", "message_id"],
        )


def _outbox() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("message", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("file_data", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("chat_id", **_text_id("chat_id", nullable=False))
        batch_op.alter_column("sent_message_id", **_text_id("sent_message_id"))
    conn = op.get_bind()
    table = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("reply_markup", sa.JSON),
        sa.column("photo", sa.LargeBinary),
        sa.column("channel", sa.String),
        sa.column("message", sa.JSON),
        sa.column("file_data", sa.LargeBinary),
    )
    with_buttons = False
    last = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.text, table.c.reply_markup, table.c.photo)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        for row_id, text, markup, photo in rows:
            message: dict[str, Any] = {"t": html_to_spans(text)}
            actions = markup_to_actions(markup)
            if actions:
                message["a"] = actions
                with_buttons = True
            if photo is not None:
                message["f"] = ["image", ""]
            conn.execute(
                table.update()
                .where(table.c.id == row_id)
                .values(channel=TELEGRAM, message=message, file_data=photo)
            )
        last = rows[-1][0]
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("message", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("text")
        batch_op.drop_column("reply_markup")
        batch_op.drop_column("photo")
    if with_buttons:
        until = datetime.now(UTC) + timedelta(days=LEGACY_DAYS)
        conn.execute(
            sa.text("INSERT INTO bot_settings (key, value) VALUES ('legacy_actions_until', :v)"),
            {"v": until.isoformat()},
        )


def downgrade() -> None:
    raise NotImplementedError("0002_channels is one-way: restore the backup taken before it")
