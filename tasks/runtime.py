"""What a worker process loads once and keeps: settings, catalogue, database, Kafka, models.

Built lazily on first use and again after a fork (the pid is checked), so a CUDA context or a
librdkafka handle is never shared across processes. `warm_up` runs when a worker starts so
the first window does not pay for loading models.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from pipeline.answer import AnswerConfig
from pipeline.catalogue import Catalogue
from pipeline.generate import Templates, templates
from pipeline.host import HostContext
from pipeline.kafka import Publisher, resolve_bootstrap
from pipeline.persona import Persona
from pipeline.prefilter import Prefilter, current_prefilter
from pipeline.settings import Settings, get_settings
from pipeline.storage import make_engine
from pipeline.taxonomy import Understanding

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from models.understand import ModelRegistry


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warm = False
        self._model_stamp: tuple[float, ...] = ()
        self._model_checked = 0.0

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue.load(self.settings.catalogue_file)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def publisher(self) -> Publisher:
        return Publisher(resolve_bootstrap(self.settings))

    @cached_property
    def host_context(self) -> HostContext:
        return HostContext(self.catalogue, self.answer_config.host)

    @cached_property
    def answer_config(self) -> AnswerConfig:
        return AnswerConfig.from_settings(self.settings)

    @cached_property
    def persona(self) -> Persona:
        return Persona.load(self.settings.persona_path or None)

    @cached_property
    def templates(self) -> Templates:
        return templates(self.settings.templates_dir or None)

    @cached_property
    def generator(self):  # type: ignore[no-untyped-def]
        """The LLM (a local model or an OpenAI-compatible server), or None for templates."""
        from models.generator import load_generator

        if not self.settings.llm_path:
            return None
        options: dict[str, object] = {"max_new_tokens": self.settings.llm_max_new_tokens}
        if not self.settings.llm_path.startswith(("http://", "https://")):
            options["trust_remote_code"] = self.settings.llm_trust_remote_code
        else:
            options = {"max_tokens": self.settings.llm_max_new_tokens}
        return load_generator(self.settings.llm_path, **options)

    @cached_property
    def models(self) -> ModelRegistry:
        """The intent/slot/sentiment models: loaded and warmed once, swapped when a new version lands."""
        import torch

        from models.understand import ModelRegistry

        if self.settings.torch_threads > 0:
            torch.set_num_threads(self.settings.torch_threads)
        registry = ModelRegistry(self.catalogue)
        registry.load(self.model_dir)
        self._model_stamp = _stamp(self.model_dir)
        self._model_checked = time.monotonic()
        return registry

    @property
    def model_dir(self) -> Path:
        from models.understand import DEFAULT_MODEL_DIR

        return Path(self.settings.understand_model_dir) if self.settings.understand_model_dir else DEFAULT_MODEL_DIR

    def understand(self, texts: list[str]) -> list[Understanding]:
        """Texts → understandings, one batch; looks for a new model version now and then."""
        registry = self.models
        if time.monotonic() - self._model_checked >= self.settings.model_reload_check_s:
            self._model_checked = time.monotonic()
            stamp = _stamp(self.model_dir)
            if stamp != self._model_stamp:  # load and warm beside the live one, then swap
                self._model_stamp = stamp
                registry.reload(self.model_dir)
        return registry.predict(texts)

    def sensitive(self) -> Prefilter:
        """The prefilter whose sensitive lexicon the output guard uses (reloads on change)."""
        return current_prefilter(self.settings.lexicon_dir or None, check_every_s=self.settings.lexicon_reload_s)

    def warm_up(self) -> None:
        """Load everything a task needs now, so the first window does not pay for it."""
        started = time.perf_counter()
        _ = self.catalogue, self.host_context, self.persona, self.templates, self.sensitive()
        self.understand(["这个多少钱"])
        generator = self.generator
        if generator is not None and hasattr(generator, "warm_up"):
            generator.warm_up()
        with self.engine.connect():
            pass
        self.warm = True
        log.info("warmed up", extra={"pid": os.getpid(), "seconds": round(time.perf_counter() - started, 3)})


def _stamp(model_dir: Path) -> tuple[float, ...]:
    """When the model files last changed: a new version is a new stamp."""
    files = [model_dir / sub / "model.safetensors" for sub in ("intent", "sentiment")]
    return tuple(f.stat().st_mtime if f.exists() else 0.0 for f in files)


_lock = threading.Lock()
_runtime: Runtime | None = None
_pid: int | None = None


def runtime() -> Runtime:
    global _runtime, _pid
    with _lock:
        if _runtime is None or _pid != os.getpid():
            _runtime, _pid = Runtime(get_settings()), os.getpid()
        return _runtime


def install(settings: Settings) -> Runtime:
    """Use `settings` for this process's runtime instead of the environment's (`livebot run`)."""
    global _runtime, _pid
    with _lock:
        _runtime, _pid = Runtime(settings), os.getpid()
        return _runtime


def reset_runtime() -> None:
    """Forget the process's resources (tests change settings between cases)."""
    global _runtime
    with _lock:
        _runtime = None
