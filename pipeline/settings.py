"""One settings object for every livebot process, read from `LIVEBOT_*` environment variables.

Every knob an operator may want to turn lives here, with its default; the README's
configuration table is generated from the field descriptions (`livebot config --markdown`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED = "embedded"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEBOT_", extra="ignore", frozen=True)

    # --- connections -----------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        EMBEDDED,
        description="Kafka bootstrap servers, or `embedded` for librdkafka's in-process mock cluster",
    )
    database_url: str = Field(
        "sqlite:///var/livebot.db",
        description="SQLAlchemy URL of the conversation database (SQLite file by default; "
        "`postgresql+psycopg://...` in production)",
    )
    celery_broker: str = Field(
        EMBEDDED,
        description="Celery broker URL (`redis://host:6379/0`), or `embedded` to run tasks in-process",
    )
    celery_result_backend: str = Field(
        "", description="Celery result backend URL; empty means none (tasks publish their own results)"
    )
    task_visibility_timeout_s: int = Field(
        300, description="a task unacknowledged this long (its worker died) is redelivered"
    )

    # --- topics ----------------------------------------------------------------------------
    topic_danmaku: str = Field("live.danmaku", description="viewer comments in")
    topic_asr: str = Field("live.asr", description="host-speech transcripts in")
    topic_stock: str = Field("erp.stock", description="ERP stock updates in")
    topic_reply: str = Field("live.actions.reply", description="text replies out")
    topic_product: str = Field("live.actions.product", description="product cards out")
    topic_moderation: str = Field("live.actions.moderation", description="hide/block actions out")
    topic_alert: str = Field("live.actions.alert", description="alerts to a human operator out")
    topic_deadletter: str = Field("live.deadletter", description="records that failed their contract")
    consumer_group_prefix: str = Field("livebot", description="consumer group id is `<prefix>.<kind>`")

    # --- consumer loop ---------------------------------------------------------------------
    consume_batch: int = Field(500, description="records taken from Kafka per poll")
    consume_timeout_s: float = Field(
        0.05, description="longest wait for a batch, seconds (a poll returns early only with a full batch)"
    )
    fetch_wait_max_ms: int = Field(
        20, ge=0, le=10_000,
        description="librdkafka fetch.wait.max.ms: how long a broker may hold a fetch that has no data (Kafka's 500 adds up to 0.5 s)",
    )

    # --- contracts -------------------------------------------------------------------------
    max_record_bytes: int = Field(16_384, description="records larger than this are dead-lettered")
    max_text_chars: int = Field(500, description="comment / transcript text longer than this is dead-lettered")
    max_future_skew_s: float = Field(300.0, description="event time this far ahead of the clock is rejected")
    max_event_age_s: float = Field(
        7 * 86_400.0, description="event time older than this is rejected as absurd past"
    )

    # --- windows and policy ----------------------------------------------------------------
    window_max_size: int = Field(200, description="a room's window closes at this many comments")
    window_max_age_s: float = Field(2.0, description="... or this many seconds after its first comment")
    dedup_window_s: float = Field(30.0, description="same viewer, same text within this many seconds counts once")
    reply_cooldown_s: float = Field(3.0, description="least time between two replies in one room")
    replies_per_minute: int = Field(20, description="cap on replies per room per minute")
    stale_after_s: float = Field(30.0, description="a question last asked longer ago than this is not answered")
    card_cooldown_s: float = Field(60.0, description="least time between two cards for the same product in a room")
    low_stock_threshold: int = Field(20, description="stock at or below this is low: urgency, and an alert on crossing")
    window_tasks: Literal["chain", "fused"] = Field(
        "chain",
        description="chain: understand, recommend (nlp), generate (llm), publish (io) as four tasks; "
        "fused: one task on nlp (fewer hops where one worker serves every queue)",
    )
    top_k_per_window: int = Field(
        30, description="clusters per window sent on to the models (the reply policy still caps replies per minute)"
    )
    max_open_comments: int = Field(
        50_000, description="comments held in open windows per consumer process; past it the lowest-value are shed"
    )
    cluster_eps: float = Field(0.5, description="DBSCAN radius as cosine distance (tuned for the default embedder)")
    cluster_min_samples: int = Field(2, description="comments within the radius that make a DBSCAN core point")
    lone_min_cue_strength: float = Field(
        0.6, ge=0.0, le=1.0,
        description="a comment in no cluster is answered alone only if its cue is this strong (多少钱 1.0, a bare ? 0.5)",
    )
    repeat_ttl_s: float = Field(180.0, description="a question answered in a room this recently is not answered again")
    repeat_similarity: float = Field(0.6, description="cosine similarity at which a question counts as answered already")
    lexicon_dir: str = Field("", description="prefilter lexicon folder; empty = the lexicons shipped in pipeline/lexicons")
    lexicon_reload_s: float = Field(5.0, description="how often lexicon files are checked for changes, seconds")

    # --- models ----------------------------------------------------------------------------
    torch_threads: int = Field(
        1, ge=0,
        description="CPU threads for torch inference per process (0 = torch's default, one per core); "
        "several worker processes on one CPU box use it best with 1 each",
    )
    understand_model_dir: str = Field(
        "", description="folder with the `intent/` model (with a sentiment head, or a `sentiment/` model beside "
        "it); a new version there is loaded and swapped in while serving; empty = the project's own, in models/default"
    )
    model_reload_check_s: float = Field(30.0, description="how often workers look for a new model version, seconds")
    embedder_path: str = Field("", description="sentence-transformers directory; empty = character n-grams")
    llm_path: str = Field(
        "", description="ChatGLM/GLM model directory, or an OpenAI-compatible URL (`http://host:8000/v1#model`); "
        "empty = Jinja2 templates"
    )
    llm_trust_remote_code: bool = Field(False, description="let the model directory run its own code (ChatGLM3 needs it)")
    llm_max_new_tokens: int = Field(64, description="longest generated reply, in tokens")
    persona_path: str = Field("", description="persona YAML; empty = the sample room's persona")
    templates_dir: str = Field("", description="folder of reply templates overriding the shipped ones; empty = none")
    catalogue_path: str = Field("", description="catalogue YAML; empty = the sample room's catalogue")
    data_dir: str = Field(
        "", description="real data for training, evaluation and benchmarks; empty = ../shared/data beside the repository"
    )

    # --- observability ---------------------------------------------------------------------
    log_level: str = Field("INFO", description="Python log level")
    metrics_port: int = Field(0, description="Prometheus /metrics port per process; 0 = off")

    @property
    def catalogue_file(self) -> Path:
        from pipeline.catalogue import SAMPLE_CATALOGUE

        return Path(self.catalogue_path) if self.catalogue_path else SAMPLE_CATALOGUE

    @property
    def action_topics(self) -> dict[str, str]:
        return {
            "reply": self.topic_reply,
            "product": self.topic_product,
            "moderation": self.topic_moderation,
            "alert": self.topic_alert,
        }

    def group_id(self, kind: str) -> str:
        return f"{self.consumer_group_prefix}.{kind}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def env_names() -> dict[str, str]:
    """Map of every `LIVEBOT_*` variable to its field name (docker-compose is checked against it)."""
    return {f"LIVEBOT_{name.upper()}": name for name in Settings.model_fields}
