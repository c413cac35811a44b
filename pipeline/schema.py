"""The relational schema analysts query: one SQLAlchemy metadata for Postgres and SQLite.

Alembic migrations in `migrations/` create exactly these tables; `tests/test_storage.py`
checks that a migrated database matches this metadata. Column names are meant to be read
by someone who has never seen the code; every table says what one row is.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("aliases", JSON, nullable=False, default=list),
    Column("category", String(64), nullable=False, default=""),
    Column("list_price", Numeric(12, 2), nullable=False),
    Column("promo_price", Numeric(12, 2)),
    Column("promotion", Text, nullable=False, default=""),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("selling_points", JSON, nullable=False, default=list),
    Column("suitable_for", JSON, nullable=False, default=list),
    Column("not_for", JSON, nullable=False, default=list),
    Column("tier", String(32), nullable=False, default="entry"),
    Column("stock", Integer, nullable=False, default=0),
    # Event time of the ERP update that set `stock`: a late, older update never overwrites it.
    Column("stock_updated_at", DateTime(timezone=True)),
    Column("stock_event_id", String(128)),
    comment="one row per product in the room's catalogue, with its current stock",
)

window_stats = Table(
    "window_stats",
    metadata,
    Column("window_id", String(200), primary_key=True),
    Column("room_id", String(128), nullable=False, index=True),
    Column("kafka_partition", Integer, nullable=False),
    Column("first_offset", BigInteger, nullable=False),
    Column("last_offset", BigInteger, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("close_reason", String(16), nullable=False),
    # The outcome counts: comments_in = deduplicated + moderated + spam + chatter + clustered + shed.
    Column("comments_in", Integer, nullable=False),
    Column("deduplicated", Integer, nullable=False, default=0),
    Column("moderated", Integer, nullable=False, default=0),
    Column("spam", Integer, nullable=False, default=0),
    Column("chatter", Integer, nullable=False, default=0),
    Column("clustered", Integer, nullable=False, default=0),
    Column("shed", Integer, nullable=False, default=0),
    Column("clusters", Integer, nullable=False, default=0),
    Column("sent", Integer, nullable=False, default=0),
    Column("suppressed", Integer, nullable=False, default=0),
    comment="one row per closed room window: how many comments came in and what became of them",
)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("turn_id", String(64), primary_key=True),
    Column("room_id", String(128), nullable=False, index=True),
    Column("window_id", String(200), nullable=False, index=True),
    Column("cluster_id", String(64), nullable=False),
    Column("question_text", Text, nullable=False),
    Column("cluster_size", Integer, nullable=False),
    Column("distinct_viewers", Integer, nullable=False),
    Column("sample_members", JSON, nullable=False, default=list),
    Column("intent", String(32), nullable=False),
    Column("intent_confidence", Float),
    Column("slots", JSON, nullable=False, default=dict),
    Column("sentiment", String(8), nullable=False),
    Column("sku", String(64)),
    Column("sku_reasons", JSON, nullable=False, default=list),
    Column("reply_text", Text),
    Column("reply_model", String(128), nullable=False),
    Column("reply_strategy", String(32)),
    Column("guard_outcome", String(64), nullable=False, default="passed"),
    Column("first_event_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False, index=True),
    Column("understand_ms", Float),
    Column("recommend_ms", Float),
    Column("generate_ms", Float),
    Column("end_to_end_ms", Float),
    comment="one row per answered question cluster: what was asked, how it was understood, what was said",
)

actions = Table(
    "actions",
    metadata,
    Column("action_id", String(64), primary_key=True),
    Column("action_type", String(16), nullable=False),
    Column("room_id", String(128), nullable=False, index=True),
    Column("window_id", String(200), nullable=False, default=""),
    Column("topic", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # NULL until the Kafka producer confirmed delivery; a retried task publishes only these.
    Column("published_at", DateTime(timezone=True)),
    Column("payload", JSON, nullable=False),
    comment="one row per action sent to a live.actions.* topic (reply, product card, moderation, alert)",
)

unanswered_questions = Table(
    "unanswered_questions",
    metadata,
    Column("unanswered_id", String(64), primary_key=True),
    Column("room_id", String(128), nullable=False, index=True),
    Column("window_id", String(200), nullable=False),
    Column("cluster_id", String(64), nullable=False),
    Column("question_text", Text, nullable=False),
    Column("cluster_size", Integer, nullable=False),
    Column("distinct_viewers", Integer, nullable=False),
    # "suppressed": the room was answered the same question recently; "below_top_k": not among
    # the window's top questions; "policy:<why>": the reply policy held it back.
    Column("reason", String(32), nullable=False),
    Column("first_event_at", DateTime(timezone=True), nullable=False, index=True),
    comment="one row per question cluster of a window that got no reply, and why",
)

room_state = Table(
    "room_state",
    metadata,
    Column("room_id", String(128), primary_key=True),
    # Each column has one writer: the ASR task keeps `host` (what the host is presenting), the
    # recommend task keeps `policy` (cooldowns, mood, state machine), `heat` and `cards`.
    Column("host", JSON, nullable=False, default=dict),
    Column("policy", JSON, nullable=False, default=dict),
    Column("heat", JSON, nullable=False, default=dict),
    Column("cards", JSON, nullable=False, default=dict),
    Column("current_sku", String(64)),
    Column("mode", String(32), nullable=False, default="idle"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="one row per room: the live state the reply policy and the recommender work from",
)

asr_segments = Table(
    "asr_segments",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("room_id", String(128), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("confidence", Float),
    Column("product_sku", String(64)),
    comment="one row per host-speech transcript segment",
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("dead_letter_id", String(64), primary_key=True),
    Column("source_topic", String(128), nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("error", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_encoding", String(8), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, index=True),
    comment="one row per input record that broke its contract, with its original bytes",
)

# Views are created by the migrations (their SQL differs between Postgres and SQLite).


def minute_sql(dialect: str, column: str) -> str:
    """SQL truncating a timestamp column to its minute, for the analyst views."""
    if dialect == "postgresql":
        return f"date_trunc('minute', {column})"
    return f"strftime('%Y-%m-%d %H:%M', {column})"


VIEWS = ("room_minute_stats", "room_minute_intents", "top_unanswered_questions")
