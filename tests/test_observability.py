"""The Grafana dashboard and the Prometheus scrape config stay true to what the processes export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import pipeline.metrics  # noqa: F401  (registers livebot's metrics)

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "livebot.json").read_text(encoding="utf-8"))
SCRAPE = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _exported() -> set[str]:
    names = set()
    for collector_metric in REGISTRY.collect():
        names.add(collector_metric.name)
        names.update(sample.name for sample in collector_metric.samples)
    # `_bucket`, `_count`, `_sum` and `_total` series of histograms and counters
    return names | {n + suffix for n in names for suffix in ("_bucket", "_count", "_sum", "_total")}


def _queries() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def test_every_dashboard_query_names_a_metric_the_processes_export() -> None:
    exported = _exported()
    used = {name for expr in _queries() for name in re.findall(r"\b((?:livebot|process)_[a-z_]+)\b", expr)}
    assert used, "the dashboard queries no livebot metric"
    assert sorted(used - exported) == []


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    queries = " ".join(_queries())
    for metric in ("livebot_consumer_lag", "livebot_records_total", "livebot_dead_letters_total",
                   "livebot_comments_total", "livebot_windows_total", "livebot_stage_seconds_bucket",
                   "livebot_actions_total", "livebot_handoff_failures_total"):
        assert metric in queries, metric
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    uids = {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p.get("targets", [])}
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert uids == {d["uid"] for d in datasource["datasources"]}


def test_prometheus_scrapes_every_livebot_process_on_its_metrics_port() -> None:
    services = COMPOSE["services"]
    scraped = {name: config["port"] for job in SCRAPE["scrape_configs"] for config in job.get("dns_sd_configs", [])
               for name in config["names"]}
    livebot = {name for name, s in services.items()
               if (s.get("command") or [None])[0] == "livebot" and name != "migrate"}
    assert livebot and set(scraped) == livebot
    for name in livebot:
        port = str(services[name]["environment"]["LIVEBOT_METRICS_PORT"])
        assert scraped[name] == int(port), name
