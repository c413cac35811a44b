"""Reduce benchmark: livebot's `Reducer` against the seed article's clustering, one run, same input.

The baseline (implemented here) is the seed article's approach applied to the same per-room
windows livebot forms (same size and age bounds, same ticks): every comment of the window,
TF-IDF character n-grams (`TfidfVectorizer(analyzer="char", ngram_range=(1, 3))`), the full
n x n cosine similarity matrix, `DBSCAN(metric="precomputed")` on 1 - similarity, the
*shortest* member as representative, and every cluster and every noise point sent to the model.

livebot is `pipeline.reduce.Reducer`, built as the consumer builds it (defaults of `Settings`,
shipped lexicons, character n-gram embedder), fed as the consumer feeds it: `add` per comment,
`due` + `take_moderations` once per poll (500 comments or 0.05 s of event time, whichever first),
with the comments' event time as the clock.

Figures, all measured in this run:
  1. throughput per core: the process is pinned to one CPU (BLAS/OpenMP threads = 1) and timed
     by its CPU time (wall time shown too; the machine may be shared), caches cold at the start:
     - embedding excluded: `Reducer.add` with windows that never close (normalise + PII mask +
       Aho-Corasick prefilter + same-viewer dedup + windowing), best of --repeats, on the
       generated flood and on the larger real file; target >= 100,000 comments/s;
     - embedding included: one pass of the full reducer (windows close: embed, DBSCAN, rank,
       repeat suppression), with the share of its time each stage takes;
     - the baseline's whole path, one pass over the same stream;
     - a sustained-rate check: the embedding-excluded path over a long stream at --high-rate
       comments/s, timed in chunks, reporting a cliff if throughput collapses;
  2. model calls per comment (representatives sent / comments in) on the real Bilibili live
     danmaku replayed at real speed and at 10x (event times compressed by 10), and on a
     generated live-shopping flood (`livebot.traffic`): target <= 0.10 (>= 90 % fewer calls);
  3. coverage on the generated flood: share of distinct (room, question_id) pairs for which a
     sent cluster contains a comment of that question (target >= 95 %), the same counting only
     the representative's own question, and purity of the sent clusters (share of members whose
     question_id, or kind for non-questions, is the cluster's majority); then the prefilter's
     verdicts against the generated truth, with the question phrasings and spam it misses;
  4. clustering time per window (p50 / p95) for windows of 100, 500 and 2,000 cued comments of the
     generated flood (livebot: `cluster_window` + `rank`; baseline: TF-IDF + n x n + DBSCAN +
     shortest), and peak memory per method and size (tracemalloc peak; ru_maxrss growth of a
     forked child that runs only that clustering);
  5. with --sweep: livebot with other settings (eps, min_samples, top K, window size and age,
     the cue strength a lone comment needs) and one policy that is not a setting (lone comments
     never answered), on every flood stream; `--extra-lexicon` measures a candidate
     lexicon file beside the shipped ones.
The last line is one JSON object. The real-data figures are skipped (and the output says so)
when ../shared/data is absent. A run takes about 3 minutes; `--sweep` adds about 30.

    .venv/bin/python bench/reduce.py [--rooms 40 --rate 2000 --duration 60 --seed 7] [--cpu N]
                                     [--repeats 3] [--data ../shared/data] [--high-rate 10000]
                                     [--sweep [IDS]] [--extra-lexicon FILE] [--quick]
"""

from __future__ import annotations

import os

# One core means one thread: set before numpy / scipy / sklearn load their BLAS and OpenMP.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from itertools import islice  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.cluster import DBSCAN  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

import pipeline.reduce as reduce_module  # noqa: E402
import pipeline.text as text_module  # noqa: E402
from livebot.inspect import read_comments  # noqa: E402
from livebot.traffic import LabelledComment, TrafficConfig, generate  # noqa: E402
from pipeline.catalogue import Catalogue  # noqa: E402
from pipeline.cluster import Clustering, Item, cluster_window, rank, viewer_value  # noqa: E402
from pipeline.contracts import Danmaku  # noqa: E402
from pipeline.embed import CharNgramEmbedder  # noqa: E402
from pipeline.prefilter import LEXICON_DIR, WINDOWED, Prefilter, PrefilterCache  # noqa: E402
from pipeline.reduce import ReduceConfig, Reducer, WindowResult, product_finder  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.text import mask_pii, normalize  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
REAL_FILES = ("bili_live_2020-12-11.csv", "bili_live_2020-12-12.csv")
POLL_BATCH = Settings.model_fields["consume_batch"].default
POLL_TIMEOUT_S = Settings.model_fields["consume_timeout_s"].default
NEVER = 10**9  # a window bound that is never reached
WINDOW_SIZES = (100, 500, 2000)
TARGET_PER_S = 100_000
TARGET_CALLS = 0.10
TARGET_COVERAGE = 0.95
lexicon_dir: Path = LEXICON_DIR  # the lexicons measured: --lexicon-dir, plus any --extra-lexicon files


# ---------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------


def pin_to_one_core(cpu: int | None) -> int:
    """Pin this process (and the forked children) to one CPU; returns it."""
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu is not None else allowed[-1]
    os.sched_setaffinity(0, {chosen})
    return chosen


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "ram_gib": round(ram_gib, 1),
            "python": platform.python_version()}


def clear_text_caches() -> None:
    """Empty the normaliser's and PII masker's caches, so a repeat starts cold."""
    for name in ("_normalize_cached", "_mask_cached"):
        cached = getattr(text_module, name, None)
        if cached is not None:
            cached.cache_clear()


def default_config(**overrides: Any) -> ReduceConfig:
    """The consumer's configuration: `Settings` defaults (not the environment), as `from_settings` maps them."""
    fields = Settings.model_fields
    config = ReduceConfig(
        window_max_size=fields["window_max_size"].default,
        window_max_age_s=fields["window_max_age_s"].default,
        dedup_window_s=fields["dedup_window_s"].default,
        top_k=fields["top_k_per_window"].default,
        cluster_eps=fields["cluster_eps"].default,
        cluster_min_samples=fields["cluster_min_samples"].default,
        lone_min_cue_strength=fields["lone_min_cue_strength"].default,
        repeat_ttl_s=fields["repeat_ttl_s"].default,
        repeat_similarity=fields["repeat_similarity"].default,
        max_open_comments=fields["max_open_comments"].default,
    )
    return replace(config, **overrides)


def new_reducer(config: ReduceConfig, *, scoped: bool = True) -> Reducer:
    # What Reducer.from_settings builds with the defaults: the shipped lexicons behind a
    # reloading cache, the character n-gram embedder, repeat suppression scoped by the products
    # the sample catalogue names (the generated traffic asks about that catalogue).
    return Reducer(config, prefilter=PrefilterCache(lexicon_dir, check_every_s=5.0), embedder=CharNgramEmbedder(),
                   products=product_finder(Catalogue.load()) if scoped else None)


@dataclass
class Stream:
    name: str
    events: list[Danmaku]
    truth: dict[str, LabelledComment] | None = None  # event_id → labelled comment, for generated traffic


def compressed(events: list[Danmaku], speed: float) -> list[Danmaku]:
    """The same comments with event times compressed by `speed` around the first one."""
    if speed == 1.0 or not events:
        return events
    t0 = float(events[0].ts)
    return [Danmaku(e.event_id, e.room_id, e.user_id, e.text, t0 + (float(e.ts) - t0) / speed, e.platform, e.user)
            for e in events]


def load_real(data: Path) -> list[tuple[str, list[Danmaku]]]:
    out = []
    for name in REAL_FILES:
        errors: list[str] = []
        with (data / "danmaku" / name).open(encoding="utf-8", newline="") as fh:
            events = list(read_comments(fh, errors))
        if errors:
            print(f"  {name}: {len(errors)} unreadable rows skipped (first: {errors[0]})")
        out.append((name.removesuffix(".csv"), events))
    return out


class Poller:
    """When the consumer would tick: after `batch` comments or `timeout_s` of event time."""

    def __init__(self, batch: int = POLL_BATCH, timeout_s: float = POLL_TIMEOUT_S) -> None:
        self.batch = batch
        self.timeout_s = timeout_s
        self.count = 0
        self.last: float | None = None

    def tick(self, clock: float) -> bool:
        self.count += 1
        if self.last is None:
            self.last = clock
        if self.count >= self.batch or clock - self.last >= self.timeout_s:
            self.count = 0
            self.last = clock
            return True
        return False


# ---------------------------------------------------------------------------------------------
# livebot
# ---------------------------------------------------------------------------------------------


@dataclass
class SentCluster:
    room_id: str
    members: tuple[str, ...]  # event ids
    representative: str  # event id
    outcome: str = "sent"  # livebot's clusters that were not sent: "suppressed" or "below_top_k"


@dataclass
class Run:
    comments: int
    cpu_s: float
    wall_s: float
    sent: list[SentCluster] = field(default_factory=list)
    unsent: list[SentCluster] = field(default_factory=list)  # livebot only: suppressed or below top K
    clusters: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_comment(self) -> float:
        return len(self.sent) / self.comments if self.comments else 0.0

    @property
    def per_s(self) -> float:
        return self.comments / self.cpu_s if self.cpu_s > 0 else float("inf")


class Stopwatch:
    """Where the time of a reducer run goes: wraps the stages `Reducer._reduce` calls.

    The wrappers cost about a microsecond per call, against milliseconds per call wrapped.
    Embedding time is attributed to the stage that asked for it.
    """

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._stage: list[str] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            label = f"{name} in {self._stage[-1]}" if name == "encode" and self._stage else name
            self._stage.append(name)
            started = time.process_time()  # CPU time, like the run it is a share of
            try:
                return fn(*args, **kwargs)
            finally:
                self.totals[label] += time.process_time() - started
                self.calls[label] += 1
                self._stage.pop()
        return timed


def run_livebot(events: Sequence[Danmaku], config: ReduceConfig, *, stopwatch: Stopwatch | None = None,
                cluster: Callable[..., Any] | None = None) -> Run:
    """The consumer's reduction over `events`; timed as a whole, windows closing as they would.

    `cluster` replaces the `cluster_window` the reducer calls (to measure a policy that is not a
    setting yet); `stopwatch` records where the time goes.
    """
    reducer = new_reducer(config)
    saved = (reduce_module.cluster_window, reduce_module.rank)
    if cluster is not None:
        reduce_module.cluster_window = cluster
    if stopwatch is not None:
        reduce_module.cluster_window = stopwatch.wrap("cluster_window", reduce_module.cluster_window)
        reduce_module.rank = stopwatch.wrap("rank", reduce_module.rank)
        reducer.recent.screen = stopwatch.wrap("repeat suppression", reducer.recent.screen)  # type: ignore[method-assign]
        reducer.recent.remember = stopwatch.wrap("repeat suppression", reducer.recent.remember)  # type: ignore[method-assign]
        reducer.embedder.encode = stopwatch.wrap("encode", reducer.embedder.encode)  # type: ignore[method-assign]
    try:
        return _run_livebot(reducer, events, config)
    finally:
        reduce_module.cluster_window, reduce_module.rank = saved


def _run_livebot(reducer: Reducer, events: Sequence[Danmaku], config: ReduceConfig) -> Run:
    poller = Poller()
    results: list[WindowResult] = []
    clock = 0.0
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for offset, event in enumerate(events):
        clock = max(clock, float(event.ts))
        results += reducer.add(event, 0, offset, clock)
        if poller.tick(clock):
            results += reducer.due(clock)
            reducer.take_moderations()
    results += reducer.flush(clock + config.window_max_age_s, reason="shutdown")
    reducer.take_moderations()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    run = Run(len(events), cpu, wall)
    totals: Counter[str] = Counter()
    for result in results:
        stats = result.batch.stats
        for name in ("comments_in", "deduplicated", "moderated", "spam", "chatter", "clustered", "shed",
                     "clusters", "sent", "suppressed"):
            totals[name] += getattr(stats, name)
        for ranked in result.clusters:
            cluster = ranked.cluster
            entry = SentCluster(result.batch.room_id, cluster.event_ids, cluster.representative.event_id,
                                ranked.outcome)
            (run.sent if ranked.outcome == "sent" else run.unsent).append(entry)
    run.clusters = totals["clusters"]
    run.stats = dict(totals)
    assert totals["comments_in"] == len(events), (totals, len(events))
    assert len(run.sent) == totals["sent"]
    return run


def run_livebot_open(events: Sequence[Danmaku]) -> Run:
    """Normalise + PII + prefilter + dedup + windowing: `add` with windows that never close."""
    config = default_config(window_max_size=NEVER, window_max_age_s=float(NEVER), max_open_comments=NEVER)
    clear_text_caches()
    reducer = new_reducer(config)
    poller = Poller()
    clock = 0.0
    closed = 0
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for offset, event in enumerate(events):
        clock = max(clock, float(event.ts))
        closed += len(reducer.add(event, 0, offset, clock))
        if poller.tick(clock):
            closed += len(reducer.due(clock))
            reducer.take_moderations()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert closed == 0, "a window closed during the embedding-excluded loop"
    return Run(len(events), cpu, wall)


# ---------------------------------------------------------------------------------------------
# The seed article's approach
# ---------------------------------------------------------------------------------------------


def baseline_cluster(texts: Sequence[str], eps: float, min_samples: int) -> list[tuple[list[int], int]]:
    """TF-IDF char 1-3-grams, full n x n cosine, DBSCAN on 1 - cos, shortest member; noise alone.

    Returns (member indices, representative index) per thing sent to the model.
    """
    n = len(texts)
    if n == 0:
        return []
    try:
        matrix = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform(texts)
    except ValueError:  # nothing but empty texts: no vocabulary, every comment is noise
        return [([i], i) for i in range(n)]
    similarity = (matrix @ matrix.T).toarray()  # rows are L2-normalised: this is the cosine
    distance = np.clip(1.0 - similarity, 0.0, None)
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(distance).labels_
    groups: dict[int, list[int]] = defaultdict(list)
    sent: list[tuple[list[int], int]] = []
    for i, label in enumerate(labels.tolist()):
        if label < 0:
            sent.append(([i], i))
        else:
            groups[label].append(i)
    for members in groups.values():
        sent.append((members, min(members, key=lambda i: (len(texts[i]), i))))
    return sent


def run_baseline(events: Sequence[Danmaku], max_size: int, max_age_s: float, eps: float, min_samples: int) -> Run:
    """Per-room windows with livebot's bounds and ticks, every comment in them, clustered on close."""
    open_windows: dict[str, tuple[float, list[int]]] = {}
    sent: list[SentCluster] = []
    clusters = 0

    def close(room: str) -> None:
        nonlocal clusters
        _, members = open_windows.pop(room)
        for group, rep in baseline_cluster([events[i].text for i in members], eps, min_samples):
            clusters += 1
            sent.append(SentCluster(room, tuple(events[members[i]].event_id for i in group),
                                    events[members[rep]].event_id))

    poller = Poller()
    clock = 0.0
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for index, event in enumerate(events):
        clock = max(clock, float(event.ts))
        window = open_windows.get(event.room_id)
        if window is None:
            window = open_windows[event.room_id] = (clock, [])
        window[1].append(index)
        if len(window[1]) >= max_size:
            close(event.room_id)
        if poller.tick(clock):
            for room in [r for r, (opened, _) in open_windows.items() if clock - opened >= max_age_s]:
                close(room)
    for room in list(open_windows):
        close(room)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    run = Run(len(events), cpu, wall, sent=sent, clusters=clusters)
    assert sum(len(s.members) for s in sent) == len(events)
    return run


# ---------------------------------------------------------------------------------------------
# Scoring against the generated ground truth
# ---------------------------------------------------------------------------------------------


def label_of(comment: LabelledComment) -> str:
    return comment.question_id or f"<{comment.kind}>"


def score(run: Run, stream: Stream) -> dict[str, Any]:
    truth = stream.truth
    assert truth is not None
    asked: dict[tuple[str, str], set[str]] = defaultdict(set)
    for comment in truth.values():
        if comment.question_id:
            asked[(comment.danmaku.room_id, comment.question_id)].add(comment.danmaku.user_id)
    covered: set[tuple[str, str]] = set()
    covered_rep: set[tuple[str, str]] = set()
    majority_members = members = 0
    question_majority = question_members = 0
    for cluster in run.sent:
        labels = Counter(label_of(truth[e]) for e in cluster.members)
        for label in labels:
            if not label.startswith("<"):
                covered.add((cluster.room_id, label))
        rep = truth[cluster.representative].question_id
        if rep:
            covered_rep.add((cluster.room_id, rep))
        top_label, top = labels.most_common(1)[0]
        majority_members += top
        members += labels.total()
        if not top_label.startswith("<"):
            question_majority += top
            question_members += labels.total()
    popular = {pair for pair, viewers in asked.items() if len(viewers) >= 3}
    # Why a question was missed: it reached no window, or each of its clusters was suppressed as
    # a repeat of an answered question (at least once) or ranked below the top K.
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cluster in run.unsent:
        for e in cluster.members:
            question = truth[e].question_id
            if question:
                outcomes[(cluster.room_id, question)].add(cluster.outcome)
    missed_why: Counter[str] = Counter()
    for pair in asked.keys() - covered:
        seen = outcomes.get(pair, set())
        missed_why["suppressed as a repeat" if "suppressed" in seen else "below top K" if seen else
                   "never clustered"] += 1
    return {
        "distinct_questions": len(asked),
        "coverage": len(covered & asked.keys()) / len(asked) if asked else None,
        "coverage_by_representative": len(covered_rep & asked.keys()) / len(asked) if asked else None,
        "popular_questions": len(popular),
        "coverage_popular": len(covered & popular) / len(popular) if popular else None,
        "coverage_popular_by_representative": len(covered_rep & popular) / len(popular) if popular else None,
        "purity": majority_members / members if members else None,
        "purity_question_clusters": question_majority / question_members if question_members else None,
        "missed_why": dict(missed_why),
        "missed": sorted(asked.keys() - covered, key=lambda pair: -len(asked[pair])),
        "asked": asked,
    }


def prefilter_report(stream: Stream) -> dict[str, Any]:
    """The prefilter's label for each generated comment against its true kind."""
    assert stream.truth is not None
    prefilter = Prefilter.from_dir(lexicon_dir)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    missed: Counter[str] = Counter()
    missed_spam: Counter[str] = Counter()
    missed_pairs: set[tuple[str, str]] = set()
    reached_pairs: set[tuple[str, str]] = set()
    for comment in stream.truth.values():
        verdict = prefilter.check(comment.danmaku.text)
        table[comment.kind][verdict.label] += 1
        if comment.kind == "spam" and not verdict.moderated:
            missed_spam[_ID_RUN.sub("#", comment.danmaku.text)] += 1
        if comment.question_id:
            pair = (comment.danmaku.room_id, comment.question_id)
            if verdict.label in WINDOWED:
                reached_pairs.add(pair)
            else:
                missed_pairs.add(pair)
                missed[f"{normalize(comment.danmaku.text).key} → {verdict.label}"] += 1
    questions = sum(table["question"].values())
    windowed_questions = sum(table["question"][label] for label in WINDOWED)
    spam = sum(table["spam"].values())
    moderated_spam = table["spam"]["spam"] + table["spam"]["sensitive"]
    others = sum(sum(c.values()) for kind, c in table.items() if kind != "spam")
    wrongly_moderated = sum(c["spam"] + c["sensitive"] for kind, c in table.items() if kind != "spam")
    all_pairs = reached_pairs | missed_pairs
    return {
        "table": {kind: dict(counts) for kind, counts in table.items()},
        "question_recall": windowed_questions / questions if questions else None,
        "question_pairs_never_windowed": len(all_pairs - reached_pairs) / len(all_pairs) if all_pairs else None,
        "spam_recall": moderated_spam / spam if spam else None,
        "false_moderation": wrongly_moderated / others if others else None,
        "missed_phrasings": missed.most_common(15),
        "missed_spam": missed_spam.most_common(10),
    }


_ID_RUN = re.compile(r"[A-Za-z0-9_\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]{3,}|[一二三四五六七八九零]{5,}")


# ---------------------------------------------------------------------------------------------
# Clustering per window
# ---------------------------------------------------------------------------------------------


def cued_windows(stream: Stream, size: int, limit: int) -> list[list[tuple[Item, str]]]:
    """Consecutive windows of `size` cued comments (each as livebot's Item and its raw text).

    Comments are taken room by room, largest room first, in time order: what a busy room's
    window holds. Windows overlap by half when there are too few comments for `limit` of them.
    """
    prefilter = Prefilter.from_dir(lexicon_dir)
    by_room: dict[str, list[tuple[Item, str]]] = defaultdict(list)
    for event in stream.events:
        norm = normalize(event.text)
        masked = mask_pii(norm.text)
        verdict = prefilter.classify(norm, masked.kinds)
        if not verdict.windowed:
            continue
        user = event.user
        value = viewer_value(user.level, user.is_member, user.spend_tier, user.new_viewer) if user else 0.0
        by_room[event.room_id].append((Item(event.event_id, event.user_id, masked.text, norm.key, verdict.label,
                                            float(event.ts), verdict.strength, value), event.text))
    cued = [pair for room in sorted(by_room, key=lambda r: -len(by_room[r])) for pair in by_room[room]]
    stride = size if len(cued) >= size * limit else max(1, size // 2)
    windows = [cued[i:i + size] for i in range(0, len(cued) - size + 1, stride)]
    return windows[:limit]


def time_livebot_window(window: list[tuple[Item, str]], embedder: CharNgramEmbedder, config: ReduceConfig) -> float:
    items = [item for item, _ in window]
    now = max(item.ts for item in items)
    started = time.perf_counter()
    clustering = cluster_window(items, embedder, eps=config.cluster_eps, min_samples=config.cluster_min_samples)
    rank(clustering.clusters, now, top_k=len(clustering.clusters), weights=config.rank_weights)
    return time.perf_counter() - started


def time_baseline_window(window: list[tuple[Item, str]], eps: float, min_samples: int) -> float:
    texts = [raw for _, raw in window]
    started = time.perf_counter()
    baseline_cluster(texts, eps, min_samples)
    return time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    lo, hi = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


def memory_in_child(work: Callable[[], None]) -> dict[str, float]:
    """Run `work` in a forked child: tracemalloc peak, and ru_maxrss at the start and the end."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read)
            start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
            work()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            end_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            os.write(write, json.dumps({"tracemalloc_peak_mib": peak / 2**20, "maxrss_mib": end_rss / 1024,
                                        "maxrss_growth_mib": (end_rss - start_rss) / 1024}).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"{}")


# ---------------------------------------------------------------------------------------------
# Policies that are not settings yet, and the sustained-rate check
# ---------------------------------------------------------------------------------------------


def noise_cues(cues: tuple[str, ...]) -> Callable[..., Clustering]:
    """`cluster_window` answering DBSCAN noise only for these cues (its `answer_noise_cues`)."""

    def clustered(*args: Any, **kwargs: Any) -> Clustering:
        return cluster_window(*args, answer_noise_cues=cues, **kwargs)
    return clustered


def sustained_rate(rate: float, rooms: int, seed: int, max_comments: int, chunk: int = 200,
                   slow_chunk_s: float = 0.2, give_up_after: int = 3) -> dict[str, Any]:
    """The embedding-excluded path over a long stream at `rate`, timed chunk by chunk.

    A chunk slower than `slow_chunk_s` of CPU (under 1,000 comments/s) is slow; after
    `give_up_after` slow chunks in a row the run stops and the first of them is the cliff. A
    single slow chunk (a full garbage collection) is not a cliff.
    """
    labelled = islice(generate(rooms=rooms, rate=rate, duration_s=max_comments / rate * 2 + 10, seed=seed),
                      max_comments)
    events = [c.danmaku for c in labelled]
    config = default_config(window_max_size=NEVER, window_max_age_s=float(NEVER), max_open_comments=NEVER)
    clear_text_caches()
    reducer = new_reducer(config)
    poller = Poller()
    clock = 0.0
    chunks: list[tuple[int, float, float]] = []  # (end position, comments/s, CPU s)
    gc.collect()
    gc.freeze()  # the input, as in main()
    slow_run = 0
    for start in range(0, len(events), chunk):
        end = min(start + chunk, len(events))
        cpu0 = time.process_time()
        for offset in range(start, end):
            event = events[offset]
            clock = max(clock, float(event.ts))
            reducer.add(event, 0, offset, clock)
            if poller.tick(clock):
                reducer.due(clock)
                reducer.take_moderations()
        spent = time.process_time() - cpu0
        chunks.append((end, (end - start) / max(spent, 1e-9), spent))
        slow_run = slow_run + 1 if spent > slow_chunk_s else 0
        if slow_run >= give_up_after:
            break
    cliff = len(chunks) - slow_run if slow_run >= give_up_after else None
    before = chunks[:cliff] if cliff is not None else chunks
    timed = sum(end - (chunks[i - 1][0] if i else 0) for i, (end, _, _) in enumerate(before))
    return {
        "rate": rate, "rooms": rooms,
        "comments_timed": chunks[-1][0] if chunks else 0,
        "per_s_before_cliff": round(timed / sum(spent for _, _, spent in before)) if before else None,
        "cliff_at_comment": (chunks[cliff - 1][0] if cliff else 0) if cliff is not None else None,
        "cliff_at_traffic_s": (round(float(events[chunks[cliff - 1][0] - 1].ts) - float(events[0].ts), 1) if cliff
                               else 0.0) if cliff is not None else None,
        "per_s_after_cliff": round(statistics.mean(per_s for _, per_s, _ in chunks[cliff:])) if cliff is not None else None,
        # Read for the diagnosis only: the size of the same-viewer dedup memory at the end.
        "dedup_keys": len(getattr(reducer, "_last_seen", {})),
    }


def with_extra_lexicons(directory: Path, extra: Sequence[Path]) -> Path:
    """`directory`, or a temporary copy of it with the candidate lexicon files added."""
    if not extra:
        return directory
    for path in extra:
        if not path.is_file() or not path.name.endswith(".txt"):
            raise SystemExit(f"--extra-lexicon {path}: not a lexicon file (<label>.<name>.txt)")
    combined = Path(tempfile.mkdtemp(prefix="livebot-bench-lexicons-"))
    for path in [*directory.iterdir(), *extra]:
        if path.is_file():
            shutil.copy(path, combined / path.name)
    return combined


SWEEP: list[tuple[str, str, dict[str, Any], Callable[..., Any] | None]] = [
    ("defaults", "defaults", {}, None),
    ("eps0.4", "eps 0.4", {"cluster_eps": 0.4}, None),
    ("eps0.6", "eps 0.6", {"cluster_eps": 0.6}, None),
    ("min3", "min_samples 3", {"cluster_min_samples": 3}, None),
    ("k5", "top K 5", {"top_k": 5}, None),
    ("k10", "top K 10", {"top_k": 10}, None),
    ("k20", "top K 20", {"top_k": 20}, None),
    ("lone0", "lone comments always answered (lone cue >= 0)", {"lone_min_cue_strength": 0.0}, None),
    ("lone0.8", "lone cue >= 0.8", {"lone_min_cue_strength": 0.8}, None),
    ("lone-never", "lone comments never answered*", {}, noise_cues(())),
    ("age5", "window age 5 s", {"window_max_age_s": 5.0}, None),
    ("size500", "window size 500", {"window_max_size": 500}, None),
    ("old-defaults", "eps 0.4, top K 5, lone cue >= 0 (before 2026-11-21)",
     {"cluster_eps": 0.4, "top_k": 5, "lone_min_cue_strength": 0.0}, None),
]
"""Settings (and policies, marked *) that `--sweep` measures besides the defaults: id, label, overrides."""


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> None:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=40, help="rooms of the generated flood")
    parser.add_argument("--rate", type=float, default=2000.0, help="comments/s overall (long run) of the generated flood")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of generated traffic")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--price-reveal-every", type=float, default=30.0,
                        help="mean seconds between price reveals (floods) per room in the generated traffic")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the embedding-excluded measurement (best kept)")
    parser.add_argument("--windows", type=int, default=20, help="windows per size for the clustering times")
    parser.add_argument("--high-rate", type=float, default=10_000.0,
                        help="comments/s of the sustained-rate check of the arrival path (0 = skip)")
    parser.add_argument("--high-rate-comments", type=int, default=300_000)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last one allowed)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (real danmaku)")
    parser.add_argument("--lexicon-dir", type=Path, default=LEXICON_DIR,
                        help="prefilter lexicons to measure (default: the shipped pipeline/lexicons)")
    parser.add_argument("--baseline-eps", type=float, default=0.5, help="the baseline's DBSCAN eps (1 - cosine)")
    parser.add_argument("--baseline-min-samples", type=int, default=2)
    parser.add_argument("--sweep", nargs="?", const="all", default=None, metavar="IDS",
                        help="also run livebot with other settings and policies on every flood stream: all of them "
                             f"(about 30 min), or the comma-separated ids among {', '.join(v[0] for v in SWEEP)}")
    parser.add_argument("--extra-lexicon", type=Path, action="append", default=[], metavar="FILE",
                        help="a candidate lexicon file (<label>.<name>.txt) to measure beside the lexicons")
    parser.add_argument("--quick", action="store_true", help="a small run to check the benchmark itself")
    args = parser.parse_args()
    unknown = set((args.sweep or "").split(",")) - {v[0] for v in SWEEP} - {"all", ""}
    if unknown:
        parser.error(f"--sweep: unknown ids {sorted(unknown)}; known: {', '.join(v[0] for v in SWEEP)}")
    if args.quick:
        args.rooms, args.rate, args.duration, args.repeats, args.windows = 10, 500.0, 20.0, 1, 4
        args.high_rate_comments = min(args.high_rate_comments, 20_000)

    global lexicon_dir
    lexicon_dir = with_extra_lexicons(args.lexicon_dir, args.extra_lexicon)
    cpu = pin_to_one_core(args.cpu)
    host = machine()
    started = time.perf_counter()
    print(f"reduce benchmark: pinned to CPU {cpu} of {host['nproc']} ({host['cpu']}, {host['ram_gib']} GiB RAM), "
          f"Python {host['python']}; BLAS/OpenMP threads = 1")
    base = default_config()
    print(f"livebot defaults: window {base.window_max_size} comments / {base.window_max_age_s} s, eps {base.cluster_eps}, "
          f"min_samples {base.cluster_min_samples}, top K {base.top_k}, lone cue >= {base.lone_min_cue_strength}, "
          f"dedup {base.dedup_window_s} s, "
          f"repeat TTL {base.repeat_ttl_s} s; lexicons {args.lexicon_dir}"
          + (f" + {', '.join(str(p) for p in args.extra_lexicon)}" if args.extra_lexicon else ""))
    print(f"baseline: TF-IDF char (1,3) + n x n cosine + DBSCAN(eps={args.baseline_eps}, "
          f"min_samples={args.baseline_min_samples}, precomputed) + shortest member, every cluster and noise point sent")

    # ---- input -------------------------------------------------------------------------------
    traffic_config = TrafficConfig(price_reveal_every_s=args.price_reveal_every)
    labelled = list(generate(rooms=args.rooms, rate=args.rate, duration_s=args.duration, seed=args.seed,
                             config=traffic_config))
    generated = Stream("generated", [c.danmaku for c in labelled], {c.danmaku.event_id: c for c in labelled})
    kinds = Counter(c.kind for c in labelled)
    print(f"\ngenerated flood: {len(labelled):,} comments, {args.rooms} rooms (Zipf), rate {args.rate:,.0f}/s for "
          f"{args.duration:.0f} s, seed {args.seed}, price reveal every {args.price_reveal_every:.0f} s per room; "
          + ", ".join(f"{k} {v / len(labelled):.0%}" for k, v in kinds.most_common()))
    real: list[Stream] = []
    if args.data.is_dir() and all((args.data / "danmaku" / name).is_file() for name in REAL_FILES):
        for name, events in load_real(args.data):
            real.append(Stream(f"{name} 1x", events))
            real.append(Stream(f"{name} 10x", compressed(events, 10.0)))
        print("real danmaku: " + ", ".join(f"{s.name.removesuffix(' 1x')} {len(s.events):,}"
                                           for s in real if s.name.endswith("1x")))
    else:
        print(f"real danmaku: SKIPPED, {args.data / 'danmaku'} is absent (the real-data figures are null)")

    # The benchmark holds every input comment in memory, which a consumer never does; frozen, they
    # stay out of the garbage collector's full passes, which would otherwise be charged to the
    # reducer. What the reducer itself allocates is collected as in the consumer.
    gc.collect()
    gc.freeze()

    # ---- 1. throughput -----------------------------------------------------------------------
    print("\n== 1. throughput per core (CPU seconds of the pinned process; caches cold at the start)")
    excluded = min((run_livebot_open(generated.events) for _ in range(args.repeats)), key=lambda r: r.cpu_s)
    excluded_real = None
    biggest = max((s for s in real if s.name.endswith("1x")), key=lambda s: len(s.events), default=None)
    if biggest is not None:
        excluded_real = min((run_livebot_open(biggest.events) for _ in range(args.repeats)), key=lambda r: r.cpu_s)
    clear_text_caches()
    stopwatch = Stopwatch()
    included = run_livebot(generated.events, base, stopwatch=stopwatch)
    baseline = run_baseline(generated.events, base.window_max_size, base.window_max_age_s, args.baseline_eps,
                            args.baseline_min_samples)
    rows = [("livebot, embedding excluded (generated)", fmt(excluded.per_s), fmt(excluded.comments / excluded.wall_s),
             "PASS" if excluded.per_s >= TARGET_PER_S else "FAIL", f"{ratio(excluded.per_s, baseline.per_s):.2f}x")]
    if excluded_real is not None and biggest is not None:
        rows.append((f"livebot, embedding excluded ({biggest.name})", fmt(excluded_real.per_s),
                     fmt(excluded_real.comments / excluded_real.wall_s),
                     "PASS" if excluded_real.per_s >= TARGET_PER_S else "FAIL", ""))
    rows += [
        ("livebot, embedding included (generated)", fmt(included.per_s), fmt(included.comments / included.wall_s), "",
         f"{ratio(included.per_s, baseline.per_s):.2f}x"),
        ("baseline, whole path (generated)", fmt(baseline.per_s), fmt(baseline.comments / baseline.wall_s), "", "1.00x"),
    ]
    table(rows, ("path", "comments/s (CPU)", "comments/s (wall)", f"target {TARGET_PER_S:,}", "vs baseline"))
    print(f"  (embedding excluded: best of {args.repeats}; the included and baseline runs are one pass each over "
          f"{len(labelled):,} comments)")
    wrapped = sum(t for name, t in stopwatch.totals.items() if not name.startswith("encode in"))
    breakdown = {name: round(t / included.cpu_s, 4) for name, t in stopwatch.totals.items()}
    breakdown["arrival, windows and the rest"] = round(max(0.0, 1 - wrapped / included.cpu_s), 4)
    print("  where the included time goes: " + ", ".join(
        f"{name} {share:.0%}" + (f" (of which encode {breakdown[f'encode in {name}']:.0%})"
                                  if f"encode in {name}" in breakdown else "")
        for name, share in sorted(breakdown.items(), key=lambda kv: -kv[1]) if not name.startswith("encode in")))
    print(f"    ({stopwatch.calls['cluster_window']:,} windows clustered, "
          f"{stopwatch.calls['repeat suppression']:,} calls to RecentAnswers.screen / remember)")
    cliff: dict[str, Any] | None = None
    if args.high_rate > 0:
        cliff = sustained_rate(args.high_rate, args.rooms, args.seed, args.high_rate_comments)
        if cliff["cliff_at_comment"] is not None:
            cause = (f"the same-viewer dedup memory holds {cliff['dedup_keys']:,} keys, over its 200,000 bound and "
                     f"all inside the {base.dedup_window_s:.0f} s dedup window, so it is rebuilt on every comment"
                     if cliff["dedup_keys"] > 200_000 else "cause not identified by this benchmark")
            print(f"  sustained {args.high_rate:,.0f} comments/s over {args.rooms} rooms (embedding excluded): "
                  f"{fmt(cliff['per_s_before_cliff'])} comments/s up to comment {cliff['cliff_at_comment']:,} "
                  f"({cliff['cliff_at_traffic_s']} s of traffic), then {cliff['per_s_after_cliff']:,} comments/s: "
                  f"{cause}")
        else:
            print(f"  sustained {args.high_rate:,.0f} comments/s (embedding excluded): {cliff['per_s_before_cliff']:,} "
                  f"comments/s over {cliff['comments_timed']:,} comments, no cliff")

    # ---- 2. model calls ----------------------------------------------------------------------
    print(f"\n== 2. model calls per comment (target <= {TARGET_CALLS:.2f}, i.e. >= 90 % fewer calls than comments)")
    calls: dict[str, dict[str, Any]] = {}
    streams = [*real, generated]
    runs: dict[str, tuple[Run, Run]] = {}
    for stream in streams:
        if stream is generated:
            live, seed_run = included, baseline
        else:
            live = run_livebot(stream.events, base)
            seed_run = run_baseline(stream.events, base.window_max_size, base.window_max_age_s, args.baseline_eps,
                                    args.baseline_min_samples)
        runs[stream.name] = (live, seed_run)
        calls[stream.name] = {
            "comments": live.comments, "livebot_sent": len(live.sent), "livebot_clusters": live.clusters,
            "livebot_suppressed": live.stats.get("suppressed", 0),
            "livebot_calls_per_comment": round(live.calls_per_comment, 4),
            "livebot_reduction": round(1 - live.calls_per_comment, 4),
            "baseline_sent": len(seed_run.sent),
            "baseline_calls_per_comment": round(seed_run.calls_per_comment, 4),
            "baseline_reduction": round(1 - seed_run.calls_per_comment, 4),
        }
        if stream is not generated:
            calls[stream.name]["livebot_per_s"] = round(live.per_s)
            calls[stream.name]["baseline_per_s"] = round(seed_run.per_s)
    table([(name, f"{c['comments']:,}", f"{c['livebot_sent']:,}", f"{c['livebot_calls_per_comment']:.4f}",
            pct(c["livebot_reduction"]), "PASS" if c["livebot_calls_per_comment"] <= TARGET_CALLS else "FAIL",
            f"{c['baseline_sent']:,}", f"{c['baseline_calls_per_comment']:.4f}", pct(c["baseline_reduction"]),
            f"{ratio(c['baseline_calls_per_comment'], c['livebot_calls_per_comment']) or 0:.1f}x")
           for name, c in calls.items()],
          ("stream", "comments", "livebot sent", "calls/comment", "fewer calls", "target", "baseline sent",
           "calls/comment", "fewer calls", "baseline/livebot"))
    for name in calls:
        stats = runs[name][0].stats
        print(f"  {name}: livebot outcomes " + ", ".join(f"{k} {v:,}" for k, v in stats.items()))

    # ---- 3. coverage and purity --------------------------------------------------------------
    print(f"\n== 3. coverage of distinct questions on the generated flood (target >= {TARGET_COVERAGE:.0%}) and purity")
    live_score = score(included, generated)
    seed_score = score(baseline, generated)
    table([(who, s["distinct_questions"], pct(s["coverage"]), pct(s["coverage_by_representative"]),
            s["popular_questions"], pct(s["coverage_popular"]), pct(s["purity"]), pct(s["purity_question_clusters"]))
           for who, s in (("livebot", live_score), ("baseline", seed_score))],
          ("method", "distinct (room, question)", "coverage", "by representative", "asked by >= 3 viewers",
           "coverage of those", "purity", "purity (question clusters)"))
    sent_kinds = Counter(generated.truth[c.representative].kind for c in included.sent)  # type: ignore[index]
    print("  livebot's sent representatives by true kind: " + ", ".join(
        f"{kind} {n / len(included.sent):.0%}" for kind, n in sent_kinds.most_common()))
    missed = live_score["missed"]
    if missed:
        print(f"  livebot missed {len(missed)} questions (" + ", ".join(
            f"{why} {n}" for why, n in sorted(live_score["missed_why"].items(), key=lambda kv: -kv[1]))
            + "); the most asked: " + ", ".join(
            f"{room}/{q} ({len(live_score['asked'][(room, q)])} viewers)" for room, q in missed[:6]))
    verdicts = prefilter_report(generated)
    print(f"  prefilter against the generated truth: question comments reaching a window "
          f"{pct(verdicts['question_recall'])}, (room, question) pairs never windowed "
          f"{pct(verdicts['question_pairs_never_windowed'])}, spam moderated {pct(verdicts['spam_recall'])}, "
          f"other kinds moderated {pct(verdicts['false_moderation'])}")
    for kind, counts in verdicts["table"].items():
        total = sum(counts.values())
        print(f"    {kind:9s} → " + ", ".join(f"{label} {n / total:.1%}" for label, n in
                                             sorted(counts.items(), key=lambda kv: -kv[1])))
    print("  question phrasings not windowed (key → label, count): " + "; ".join(
        f"{k} ({n})" for k, n in verdicts["missed_phrasings"][:12]))
    print("  spam shapes not moderated (letters/digits of ids as #, count): " + "; ".join(
        f"{k} ({n})" for k, n in verdicts["missed_spam"][:8]))

    # ---- 4. clustering time and memory per window ----------------------------------------------
    print("\n== 4. clustering one window (cued comments of the generated flood, busiest rooms first)")
    embedder = CharNgramEmbedder()
    per_size: dict[str, dict[str, Any]] = {}
    rows = []
    for size in WINDOW_SIZES:
        windows = cued_windows(generated, size, args.windows)
        if not windows:
            print(f"  {size}: not enough cued comments for one window; skipped")
            continue
        time_livebot_window(windows[0], embedder, base)  # warm-up: lazy imports and first-call costs
        time_baseline_window(windows[0], args.baseline_eps, args.baseline_min_samples)
        live_times = [time_livebot_window(w, embedder, base) for w in windows]
        seed_times = [time_baseline_window(w, args.baseline_eps, args.baseline_min_samples) for w in windows]
        live_memory = memory_in_child(lambda: [time_livebot_window(w, embedder, base) for w in windows])
        seed_memory = memory_in_child(lambda: [time_baseline_window(w, args.baseline_eps, args.baseline_min_samples)
                                               for w in windows])
        distinct = statistics.mean(len({item.key or item.text for item, _ in w}) for w in windows)
        entry = {
            "windows": len(windows), "distinct_keys_mean": round(distinct, 1),
            "livebot_p50_ms": percentile(live_times, 0.5) * 1e3, "livebot_p95_ms": percentile(live_times, 0.95) * 1e3,
            "baseline_p50_ms": percentile(seed_times, 0.5) * 1e3, "baseline_p95_ms": percentile(seed_times, 0.95) * 1e3,
            "livebot_memory": live_memory, "baseline_memory": seed_memory,
        }
        per_size[str(size)] = entry
        rows.append((size, len(windows), f"{distinct:.0f}", f"{entry['livebot_p50_ms']:.2f}",
                     f"{entry['livebot_p95_ms']:.2f}", f"{entry['baseline_p50_ms']:.2f}",
                     f"{entry['baseline_p95_ms']:.2f}",
                     f"{ratio(entry['baseline_p50_ms'], entry['livebot_p50_ms']):.1f}x",
                     f"{live_memory.get('tracemalloc_peak_mib', float('nan')):.1f} / "
                     f"{live_memory.get('maxrss_growth_mib', float('nan')):.1f}",
                     f"{seed_memory.get('tracemalloc_peak_mib', float('nan')):.1f} / "
                     f"{seed_memory.get('maxrss_growth_mib', float('nan')):.1f}"))
    table(rows, ("comments", "windows", "distinct keys", "livebot p50 ms", "p95 ms", "baseline p50 ms", "p95 ms",
                 "speed-up p50", "livebot MiB peak / RSS+", "baseline MiB peak / RSS+"))
    print("  MiB peak = tracemalloc peak over the windows; RSS+ = ru_maxrss growth of a forked child running only "
          "that clustering")

    # ---- 5. sweep -----------------------------------------------------------------------------
    sweep: list[dict[str, Any]] = []
    chosen = [(label, overrides, cluster) for key, label, overrides, cluster in SWEEP
              if args.sweep == "all" or key in (args.sweep or "").split(",")]
    if chosen:
        print("\n== 5. livebot with other settings (calls per comment per stream; coverage on the generated flood)")
        rows = []
        for label, overrides, cluster in chosen:
            config = default_config(**overrides)
            entry: dict[str, Any] = {"variant": label, "overrides": overrides}
            for stream in streams:
                if stream is generated and not overrides and cluster is None:
                    run = included
                else:
                    run = run_livebot(stream.events, config, cluster=cluster)
                entry[stream.name] = round(run.calls_per_comment, 4)
                if stream is generated:
                    scored = score(run, generated)
                    for name in ("coverage", "coverage_by_representative", "coverage_popular", "purity"):
                        entry[name] = round(scored[name], 4)
                    entry["generated_included_per_s"] = round(run.per_s)
            sweep.append(entry)
            rows.append((label, *(f"{entry[s.name]:.4f}" for s in streams), pct(entry["coverage"]),
                         pct(entry["coverage_popular"]), pct(entry["purity"]),
                         fmt(entry["generated_included_per_s"])))
            print(f"  ... {label} done", flush=True)
        table(rows, ("variant", *(s.name for s in streams), "coverage", "coverage (>= 3)", "purity",
                     "included comments/s"))
        print("  * a policy, not a setting: measured by wrapping cluster_window (answer_noise_cues=())")

    # ---- summary ------------------------------------------------------------------------------
    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return value

    summary = {
        "bench": "reduce",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {**host, "pinned_cpu": cpu},
        "command": " ".join([".venv/bin/python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "generated": {"rooms": args.rooms, "rate": args.rate, "duration_s": args.duration, "seed": args.seed,
                      "price_reveal_every_s": args.price_reveal_every, "comments": len(labelled),
                      "kinds": dict(kinds)},
        "real_data": "present" if real else "absent",
        "livebot_config": {"window_max_size": base.window_max_size, "window_max_age_s": base.window_max_age_s,
                           "cluster_eps": base.cluster_eps, "cluster_min_samples": base.cluster_min_samples,
                           "top_k": base.top_k, "lone_min_cue_strength": base.lone_min_cue_strength,
                           "dedup_window_s": base.dedup_window_s,
                           "repeat_ttl_s": base.repeat_ttl_s, "repeat_similarity": base.repeat_similarity},
        "lexicon_dir": str(args.lexicon_dir),
        "extra_lexicons": [str(path) for path in args.extra_lexicon],
        "baseline_config": {"eps": args.baseline_eps, "min_samples": args.baseline_min_samples},
        "throughput_per_core": {
            "livebot_embedding_excluded_per_s": round(excluded.per_s),
            "livebot_embedding_excluded_wall_per_s": round(excluded.comments / excluded.wall_s),
            "livebot_embedding_excluded_real_per_s": round(excluded_real.per_s) if excluded_real else None,
            "livebot_embedding_included_per_s": round(included.per_s),
            "baseline_per_s": round(baseline.per_s),
            "ratio_excluded_vs_baseline": round(excluded.per_s / baseline.per_s, 2),
            "ratio_included_vs_baseline": round(included.per_s / baseline.per_s, 2),
            "included_time_shares": breakdown,
            "target_per_s": TARGET_PER_S,
            "target_met": excluded.per_s >= TARGET_PER_S
            and (excluded_real is None or excluded_real.per_s >= TARGET_PER_S),
            "sustained_rate": cliff,
        },
        "model_calls_per_comment": calls,
        "model_calls_target": TARGET_CALLS,
        "model_calls_target_met": {name: c["livebot_calls_per_comment"] <= TARGET_CALLS for name, c in calls.items()},
        "coverage": {who: rounded({k: v for k, v in s.items() if k not in ("missed", "asked")})
                     for who, s in (("livebot", live_score), ("baseline", seed_score))},
        "livebot_sent_by_kind": dict(sent_kinds),
        "coverage_target": TARGET_COVERAGE,
        "coverage_target_met": (live_score["coverage"] or 0) >= TARGET_COVERAGE,
        "prefilter": rounded({k: v for k, v in verdicts.items() if k not in ("table", "missed_phrasings", "missed_spam")}),
        "cluster_window": {size: rounded(entry) for size, entry in per_size.items()},
        "sweep": sweep or None,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(f"\ndone in {summary['elapsed_s']} s")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
