"""Database access: engines, migrations and the idempotent writes the tasks make.

Every write is keyed by what caused it (window id, turn id, action id, event id), and uses
INSERT ... ON CONFLICT, so a redelivered window or a retried task never yields a second row.
The stages in `pipeline/` never call this; tasks and consumers do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.catalogue import Catalogue
from pipeline.schema import actions, products, room_state, window_stats

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and SQLite waits on locks."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (analysts) don't block the writer
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (Alembic)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _insert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (Postgres and SQLite both)."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def insert_ignore(conn: Connection, table: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert rows whose key is not there yet; returns how many were new."""
    rows = list(rows)
    if not rows:
        return 0
    # rowcount is unreliable for batched inserts; RETURNING names exactly the new rows.
    statement = _insert(conn, table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return len(conn.execute(statement, rows).all())


def upsert_window_stats(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a window's statistics row; a re-read of the same window that reaches further wins.

    A window's id is its first Kafka position. When a consumer hands a window off and then
    fails to commit (its partition revoked mid-rebalance, or the process killed), the next owner
    re-reads from the last commit and rebuilds the window under the same id, usually with more
    comments (it catches up faster than live traffic arrived). Keeping the first version would
    leave the comments only the second holds counted nowhere; keeping the one with the larger
    last offset counts every comment at least once.
    """
    statement = _insert(conn, window_stats).values(dict(row))
    statement = statement.on_conflict_do_update(
        index_elements=[window_stats.c.window_id],
        set_={column.name: statement.excluded[column.name] for column in window_stats.columns
              if column.name != "window_id"},
        where=statement.excluded.last_offset > window_stats.c.last_offset,
    )
    conn.execute(statement)


def load_catalogue(conn: Connection, catalogue: Catalogue) -> None:
    """Upsert the catalogue's products; stock set by ERP events is left as it is."""
    for product in catalogue.products:
        row = {
            "sku": product.sku,
            "name": product.name,
            "aliases": list(product.aliases),
            "category": product.category,
            "list_price": product.price,
            "promo_price": product.promo_price,
            "promotion": product.promo,
            "attributes": product.attributes,
            "selling_points": list(product.selling_points),
            "suitable_for": list(product.suitable_for),
            "not_for": list(product.not_for),
            "tier": product.tier,
            "stock": product.stock,
        }
        statement = _insert(conn, products).values(row)
        described = {k: v for k, v in row.items() if k not in ("sku", "stock")}
        conn.execute(statement.on_conflict_do_update(index_elements=["sku"], set_=described))


def apply_stock(conn: Connection, sku: str, stock: int, event_time: datetime, event_id: str) -> bool:
    """Set a sku's stock if this update is newer than the stored one; True when it was applied."""
    newer = (products.c.stock_updated_at.is_(None)) | (products.c.stock_updated_at < event_time)
    result = conn.execute(
        update(products)
        .where(products.c.sku == sku, newer)
        .values(stock=stock, stock_updated_at=event_time, stock_event_id=event_id)
    )
    return result.rowcount > 0


def stock_levels(conn: Connection) -> dict[str, int]:
    return {sku: stock for sku, stock in conn.execute(select(products.c.sku, products.c.stock))}


def unpublished_actions(conn: Connection, action_ids: list[str]) -> list[dict[str, Any]]:
    if not action_ids:
        return []
    query = select(actions.c.action_id, actions.c.topic, actions.c.room_id, actions.c.payload).where(
        actions.c.action_id.in_(action_ids), actions.c.published_at.is_(None)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def mark_published(conn: Connection, action_ids: list[str]) -> None:
    if action_ids:
        conn.execute(
            update(actions).where(actions.c.action_id.in_(action_ids)).values(published_at=utcnow())
        )


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def room_state_for_update(conn: Connection, room_id: str) -> dict[str, Any]:
    """The room's state row, created if new, locked until the transaction ends (Postgres)."""
    insert_ignore(conn, room_state, [{"room_id": room_id, "host": {}, "policy": {}, "heat": {}, "cards": {},
                                      "mode": "idle", "updated_at": utcnow()}])
    query = select(room_state).where(room_state.c.room_id == room_id).with_for_update()
    return dict(conn.execute(query).mappings().one())


def update_room_state(conn: Connection, room_id: str, **columns: Any) -> None:
    conn.execute(update(room_state).where(room_state.c.room_id == room_id).values(updated_at=utcnow(), **columns))
