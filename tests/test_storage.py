"""Migrations build the schema on SQLite and Postgres; writes are idempotent; late stock never wins."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from pipeline.catalogue import Catalogue
from pipeline.schema import VIEWS, metadata, products, unanswered_questions, window_stats
from pipeline.storage import (
    alembic_config,
    apply_stock,
    insert_ignore,
    load_catalogue,
    make_engine,
    stock_levels,
    upgrade,
    upsert_window_stats,
)

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        with engine.begin() as conn:  # each case starts from an empty schema
            for view in VIEWS:
                conn.execute(text(f"DROP VIEW IF EXISTS {view}"))
            for table in [*reversed(metadata.sorted_tables)]:
                conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    upgrade(url)
    return url


def test_migrated_database_matches_the_schema(database: str) -> None:
    engine = make_engine(database)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        views = inspect(conn).get_view_names()
    assert diff == []
    assert set(VIEWS) <= set(views)


def _head(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_upgrade_twice_is_a_no_op(database: str) -> None:
    upgrade(database)
    with make_engine(database).connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head(database)


def test_migrations_downgrade_to_base_and_up_again(database: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database), "base")
    with make_engine(database).connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        assert inspect(conn).get_view_names() == []
    upgrade(database)
    with make_engine(database).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_insert_ignore_writes_each_window_once(database: str) -> None:
    row = {
        "window_id": "room@0:10", "room_id": "room", "kafka_partition": 0, "first_offset": 10, "last_offset": 20,
        "opened_at": T0, "closed_at": T0, "close_reason": "size", "comments_in": 11, "clustered": 11,
    }
    engine = make_engine(database)
    with engine.begin() as conn:
        assert insert_ignore(conn, window_stats, [row]) == 1
    with engine.begin() as conn:
        assert insert_ignore(conn, window_stats, [row, {**row, "window_id": "room@0:21"}]) == 1
        assert conn.scalar(select(func.count()).select_from(window_stats)) == 2


def test_a_window_re_read_further_replaces_its_first_version_and_a_shorter_one_does_not(database: str) -> None:
    first = {
        "window_id": "room@0:10", "room_id": "room", "kafka_partition": 0, "first_offset": 10, "last_offset": 20,
        "opened_at": T0, "closed_at": T0, "close_reason": "revoked", "comments_in": 11, "clustered": 11,
    }
    further = {**first, "last_offset": 60, "close_reason": "size", "comments_in": 40, "clustered": 40}
    engine = make_engine(database)
    with engine.begin() as conn:
        upsert_window_stats(conn, first)
        upsert_window_stats(conn, further)  # the next owner re-read it after a failed commit
        upsert_window_stats(conn, first)  # a redelivered task of the first version changes nothing
        assert conn.execute(select(window_stats.c.comments_in, window_stats.c.last_offset,
                                   window_stats.c.close_reason)).all() == [(40, 60, "size")]


def test_a_late_older_stock_update_does_not_overwrite_a_newer_one(database: str) -> None:
    engine = make_engine(database)
    with engine.begin() as conn:
        load_catalogue(conn, Catalogue.load())
        assert apply_stock(conn, "SKU-LIPSTICK-04", 5, T0, "s2")
        assert not apply_stock(conn, "SKU-LIPSTICK-04", 9, T0 - timedelta(seconds=1), "s1")  # late, older
        assert not apply_stock(conn, "SKU-LIPSTICK-04", 9, T0, "s1-dup")  # same time: first one stays
        assert stock_levels(conn)["SKU-LIPSTICK-04"] == 5
        assert apply_stock(conn, "SKU-LIPSTICK-04", 0, T0 + timedelta(seconds=1), "s3")
        assert stock_levels(conn)["SKU-LIPSTICK-04"] == 0


def test_reloading_the_catalogue_keeps_stock_set_by_erp(database: str) -> None:
    engine = make_engine(database)
    with engine.begin() as conn:
        load_catalogue(conn, Catalogue.load())
        apply_stock(conn, "SKU-SERUM-01", 7, T0, "s1")
        load_catalogue(conn, Catalogue.load())
        assert stock_levels(conn)["SKU-SERUM-01"] == 7
        assert conn.scalar(select(func.count()).select_from(products)) == len(Catalogue.load().products)


def test_room_minute_view_adds_windows_and_answers(database: str) -> None:
    engine = make_engine(database)
    with engine.begin() as conn:
        insert_ignore(conn, window_stats, [{
            "window_id": "w1", "room_id": "room", "kafka_partition": 0, "first_offset": 0, "last_offset": 9,
            "opened_at": T0, "closed_at": T0, "close_reason": "age", "comments_in": 10, "moderated": 2,
            "spam": 1, "clustered": 7,
        }])
        row = conn.execute(text("SELECT comments_in, moderated, answered FROM room_minute_stats")).one()
        insert_ignore(conn, unanswered_questions, [
            {"unanswered_id": f"u{n}", "room_id": "room", "window_id": f"w{n}", "cluster_id": "c",
             "question_text": "能便宜点吗", "cluster_size": 4, "distinct_viewers": 4, "reason": "below_top_k",
             "first_event_at": T0} for n in range(3)])
        top = conn.execute(text("SELECT question_text, windows_unanswered, asked_by FROM top_unanswered_questions")).one()
    assert tuple(row) == (10, 3, 0)
    assert tuple(top) == ("能便宜点吗", 3, 12)
