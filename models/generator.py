"""Reply generators: a local ChatGLM / GLM through transformers, or an OpenAI-compatible server.

    generator = load_generator(settings.llm_path)   # None → templates only
    texts = generator.generate([messages_1, messages_2, ...])   # one reply per chat, in order

Both take a whole window's chats at once and return the raw replies; the caller
(`pipeline.respond`) guards every one of them.

- `TransformersGenerator(path)`: `AutoTokenizer` + `AutoModelForCausalLM` from a local
  directory only (`local_files_only=True`: nothing downloads), the model's own chat template
  (`apply_chat_template(..., add_generation_prompt=True)`, with control tokens in the messages
  encoded as plain text where transformers supports it), batched with LEFT padding (a decoder
  continues from the last position, so the padding must come first), greedy decoding by
  default or low-temperature sampling with a fixed seed, under `torch.inference_mode()`.
  The device is chosen automatically (CUDA with bf16 when present, else CPU fp32); the model is
  loaded once, when the object is built. `trust_remote_code` only when the operator asks for
  it: ChatGLM3 ships its modelling code in its folder and needs it; GLM-4 (`glm`, `glm4`
  model types) is built into transformers and does not.
- `HttpGenerator(base_url, model)`: `POST {base_url}/v1/chat/completions` as served by vLLM,
  LMDeploy or SGLang. One request per chat, sent concurrently (the server batches them), each
  with a timeout; connection errors, timeouts, HTTP 429 and 5xx are retried a bounded number
  of times with exponential backoff; anything else, or running out of retries, raises
  `GeneratorError` saying what was sent where and what came back.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

Chat = list[dict[str, str]]

__all__ = [
    "Chat",
    "GenerationStats",
    "Generator",
    "GeneratorError",
    "HttpGenerator",
    "TransformersGenerator",
    "load_generator",
]


@runtime_checkable
class Generator(Protocol):
    """Anything that turns a batch of chats into one reply text each, in order."""

    name: str

    def generate(self, batch: list[Chat]) -> list[str]: ...


class GeneratorError(RuntimeError):
    """The model could not be loaded or did not answer; the message says which and why."""


@dataclass(frozen=True)
class GenerationStats:
    """What the last `generate` call did (for benchmarks and metrics)."""

    chats: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# transformers
# ---------------------------------------------------------------------------------------------


class TransformersGenerator:
    """A causal LM with a chat template, loaded once from a local directory."""

    def __init__(
        self,
        path: str | Path,
        device: str | None = None,
        max_new_tokens: int = 64,
        trust_remote_code: bool = False,
        *,
        temperature: float = 0.0,
        top_p: float = 0.9,
        seed: int = 0,
        batch_size: int = 16,
    ) -> None:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        from models.encoder import pick_device

        self.path = Path(path)
        self.name = str(path)
        if not (self.path / "config.json").is_file():
            raise GeneratorError(f"no model in {self.path} (config.json missing); set the LLM path to a "
                                 "local transformers model directory (nothing is downloaded)")
        self.device, self.dtype = pick_device(device)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.batch_size = max(1, batch_size)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(self.path), local_files_only=True, trust_remote_code=trust_remote_code
            )
            dtype_arg = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
            model = AutoModelForCausalLM.from_pretrained(
                str(self.path), local_files_only=True, trust_remote_code=trust_remote_code, **{dtype_arg: self.dtype}
            )
        except (OSError, ValueError, ImportError, KeyError) as exc:
            hint = ""
            if "trust_remote_code" in str(exc) and not trust_remote_code:
                hint = (" — this directory ships its own modelling code (e.g. ChatGLM3); if you trust it, "
                        "enable trust_remote_code")
            raise GeneratorError(f"cannot load the model in {self.path}: {exc}{hint}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise GeneratorError(f"the tokenizer in {self.path} has no chat template (tokenizer_config.json "
                                 "'chat_template'); a chat model is needed")
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()

        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
            eos_ids.append(tokenizer.eos_token_id)
        sampling = temperature > 0
        self.generation_config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            **({"temperature": temperature, "top_p": top_p} if sampling else {}),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos_ids or None,
        )
        self._sanitize = _supports(tokenizer.apply_chat_template, "sanitize_control_tokens")
        self._lock = threading.Lock()
        self._torch = torch
        self.last_stats = GenerationStats()
        log.info("generator loaded", extra={"model": self.name, "device": str(self.device), "dtype": str(self.dtype)})

    def encode(self, batch: Sequence[Chat]) -> dict[str, Any]:
        """The chats through the chat template, tokenized and left-padded into one batch."""
        kwargs: dict[str, Any] = dict(
            add_generation_prompt=True, tokenize=True, return_dict=True, padding=True, return_tensors="pt"
        )
        if self._sanitize:
            kwargs["sanitize_control_tokens"] = True
        return self.tokenizer.apply_chat_template([list(chat) for chat in batch], **kwargs)

    def generate(self, batch: list[Chat]) -> list[str]:
        if not batch:
            return []
        started = time.perf_counter()
        texts: list[str] = []
        prompt_tokens = new_tokens = 0
        with self._lock:
            for i in range(0, len(batch), self.batch_size):
                chunk_texts, p, n = self._generate(batch[i:i + self.batch_size])
                texts += chunk_texts
                prompt_tokens += p
                new_tokens += n
        self.last_stats = GenerationStats(len(batch), prompt_tokens, new_tokens, time.perf_counter() - started)
        return texts

    def _generate(self, chunk: list[Chat]) -> tuple[list[str], int, int]:
        torch = self._torch
        enc = self.encode(chunk)
        input_ids = enc["input_ids"].to(self.device)
        attention_mask = enc["attention_mask"].to(self.device)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.inference_mode(), torch.random.fork_rng(devices=devices):
            # The seed only matters when sampling; fork_rng keeps it from leaking into the process.
            torch.manual_seed(self.seed)
            output = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, generation_config=self.generation_config
            )
        new = output[:, input_ids.shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        new_tokens = int((new != pad).sum()) if pad is not None else int(new.numel())
        return [t.strip() for t in texts], int(attention_mask.sum()), new_tokens

    def warm_up(self) -> None:
        """One short generation, so the first window does not pay for kernel selection."""
        self.generate([[{"role": "user", "content": "你好"}]])


def _supports(fn: Any, parameter: str) -> bool:
    import inspect

    try:
        return parameter in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP
# ---------------------------------------------------------------------------------------------

_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpGenerator:
    """A model behind an OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, LMDeploy)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 2,
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int = 0,
        concurrency: int = 8,
        backoff_s: float = 0.25,
    ) -> None:
        if not model:
            raise GeneratorError(f"no model name for {base_url}; give one (the served model's id)")
        self.url = chat_completions_url(base_url)
        self.model = model
        self.name = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.concurrency = max(1, concurrency)
        self.backoff_s = backoff_s
        self.last_stats = GenerationStats()

    def generate(self, batch: list[Chat]) -> list[str]:
        if not batch:
            return []
        started = time.perf_counter()
        workers = min(self.concurrency, len(batch))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-http") as pool:
            results = list(pool.map(self._complete, batch))
        self.last_stats = GenerationStats(
            len(batch),
            sum(r[1] for r in results),
            sum(r[2] for r in results),
            time.perf_counter() - started,
        )
        return [r[0] for r in results]

    def _complete(self, chat: Chat) -> tuple[str, int, int]:
        body = {
            "model": self.model,
            "messages": chat,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": False,
        }
        doc = self._post(body)
        try:
            text = doc["choices"][0]["message"]["content"]
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}")
        except (KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"POST {self.url}: unexpected response ({exc}): {json.dumps(doc)[:300]}") from exc
        usage = doc.get("usage") or {}
        return text.strip(), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempts = self.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                return json.loads(raw)
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                last = f"HTTP {exc.code}: {detail}"
                if exc.code not in _RETRYABLE_STATUS:
                    raise GeneratorError(f"POST {self.url} (model {self.model}) was refused: {last}") from exc
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"timed out after {self.timeout_s}s" if isinstance(reason, (TimeoutError, socket.timeout)) \
                    else f"{type(reason).__name__}: {reason}"
            except json.JSONDecodeError as exc:
                raise GeneratorError(f"POST {self.url} (model {self.model}) answered with invalid JSON: {exc}") from exc
            log.warning("LLM request failed", extra={"url": self.url, "attempt": attempt + 1, "error": last})
        raise GeneratorError(f"POST {self.url} (model {self.model}) failed after {attempts} attempts: {last}")


def chat_completions_url(base_url: str) -> str:
    """'http://h:8000' / 'http://h:8000/v1' / the full path → the chat completions endpoint."""
    base = base_url.split("#", 1)[0].rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


def served_model(base_url: str, api_key: str | None = None, timeout_s: float = 5.0) -> str:
    """The id of the first model the server lists at `/v1/models` (vLLM serves one)."""
    url = chat_completions_url(base_url).removesuffix("/chat/completions") + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            models = json.loads(response.read()).get("data") or []
        return str(models[0]["id"])
    except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, ValueError, KeyError, IndexError,
            AttributeError) as exc:
        raise GeneratorError(f"cannot ask {url} which model it serves ({exc}); name the model: "
                             f"{base_url.split('#', 1)[0]}#<model id>") from exc


def load_generator(path_or_url: str | None, **options: Any) -> Generator | None:
    """None or "" → None (templates only); "http(s)://host:port[/v1][#model]" → `HttpGenerator`
    (model from the fragment, `model=`, or the server's `/v1/models`); anything else → a local
    `TransformersGenerator` directory. `options` go to the constructor."""
    if not path_or_url:
        return None
    if path_or_url.startswith(("http://", "https://")):
        parsed = urllib.parse.urlsplit(path_or_url)
        model = options.pop("model", None) or urllib.parse.unquote(parsed.fragment)
        base = urllib.parse.urlunsplit(parsed._replace(fragment=""))
        if not model:
            model = served_model(base, options.get("api_key"), options.get("timeout_s", 5.0))
        return HttpGenerator(base, model, **options)
    return TransformersGenerator(path_or_url, **options)
