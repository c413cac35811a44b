"""Training, saving, loading, predicting and hot-swapping livebot's own models.

The models here are tiny (hidden 32, one layer, a few hundred steps on generated data only), so
the module runs in well under a minute on two CPU cores and never needs `../shared/data`; they
still go through the real code paths that build the default models.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
import torch

from models import data as realdata
from models.embedder import load_embedder, train_embedder
from models.evaluate import evaluate_embedder, evaluate_intent, evaluate_sentiment, ngram_cosine
from models.synth import generate
from models.train import train_intent, train_sentiment
from models.understand import ModelRegistry, Understander
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue
from pipeline.taxonomy import INTENTS, SENTIMENTS, Understanding

# one thread: tiny matrices gain nothing from two, and a busy shared machine punishes spinning threads
TINY = {"hidden": 32, "layers": 1, "use_real": False, "threads": 1}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(SAMPLE_CATALOGUE)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, catalogue) -> dict[str, Path]:
    """Two tiny model versions, trained once for the module: v1 in the defaults' shape (one intent
    model with a sentiment head), v2 in an operator's (a sentiment model of its own beside it)."""
    root = tmp_path_factory.mktemp("models")
    dirs = {}
    for version, seed, steps in (("v1", 0, 400), ("v2", 1, 40)):
        base = root / version
        train_intent(base / "intent", seed=seed, catalogue=catalogue, n_synth=2200, max_steps=steps, batch_size=32,
                     lr=3e-3, n_heldout=330, **TINY)
        if version == "v2":
            train_sentiment(base / "sentiment", seed=seed, catalogue=catalogue, n_synth=1500, max_steps=steps // 2,
                            batch_size=32, lr=3e-3, **TINY)
        dirs[version] = base
    return dirs


# -- training writes a complete, reproducible folder ---------------------------------------------


def test_training_writes_safetensors_tokenizer_and_meta(model_dirs):
    folder = model_dirs["v1"] / "intent"
    for name in ("model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "meta.json"):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["labels"] == list(INTENTS)
    assert meta["seed"] == 0
    assert meta["data"][0]["generated"] and meta["data"][0]["seed"] == 0
    assert meta["slot_tagger"] in ("rules", "hybrid", "token_head")
    assert 0.0 <= meta["metrics"]["generated_heldout"]["macro_f1"] <= 1.0


def test_tiny_intent_model_learns_the_generated_task(model_dirs):
    meta = json.loads((model_dirs["v1"] / "intent" / "meta.json").read_text(encoding="utf-8"))
    # chance is 1/11; 400 steps of a 1-layer model get far above it
    assert meta["metrics"]["generated_heldout"]["accuracy"] > 0.6
    # and its sentiment head learns the generated moods in the same run (the majority, neu, is ~0.6)
    assert meta["sentiment_labels"] == list(SENTIMENTS)
    assert meta["metrics"]["sentiment"]["generated_heldout"]["accuracy"] > 0.7


def test_a_batch_with_no_label_for_a_head_trains_the_other_heads_only(catalogue):
    """Intent training mixes in reviews (no intent label) and chatter (no sentiment label): a batch
    made only of such examples must give a finite loss from the heads that do have labels."""
    from models.encoder import BertForUnderstanding, tiny_config

    config = tiny_config(50, hidden=32, layers=1, heads=2)
    config.update({"num_labels": 3, "sentiment_labels": list(SENTIMENTS)})
    model = BertForUnderstanding(config)
    ids, mask = torch.randint(5, 50, (4, 6)), torch.ones(4, 6, dtype=torch.long)
    reviews = model(input_ids=ids, attention_mask=mask, labels=torch.full((4,), -100),
                    sentiment_targets=torch.tensor([0, 2, 2, 0]))
    assert torch.isfinite(reviews.loss)
    reviews.loss.backward()
    assert model.sentiment_classifier.weight.grad.abs().sum() > 0
    assert model.classifier.weight.grad is None or model.classifier.weight.grad.abs().sum() == 0
    nothing = model(input_ids=ids, attention_mask=mask, labels=torch.full((4,), -100))
    assert nothing.loss is None


def test_same_seed_trains_the_same_weights(tmp_path, catalogue):
    from safetensors.torch import load_file

    kwargs = dict(seed=3, catalogue=catalogue, n_synth=300, max_steps=5, batch_size=16, n_heldout=22, **TINY)
    train_intent(tmp_path / "a", **kwargs)
    train_intent(tmp_path / "b", **kwargs)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fine_tunes_a_pretrained_checkpoint_given_as_base(tmp_path, model_dirs, catalogue):
    base = model_dirs["v1"] / "intent"  # any BERT folder with a tokenizer serves as a base
    meta = train_sentiment(tmp_path / "ft", base=base, seed=0, catalogue=catalogue, n_synth=200, max_steps=3,
                           batch_size=16, use_real=False)
    assert meta["base"] == str(base)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tmp_path / "ft", local_files_only=True)
    assert config.hidden_size == 32 and config.num_labels == len(SENTIMENTS)
    # sentiment reads 128 characters, but this base has 64 positions: training stays inside them
    assert meta["settings"]["max_length"] == config.max_position_embeddings == 64


def test_fine_tunes_a_plain_bert_checkpoint_such_as_bert_base_chinese(tmp_path, catalogue):
    """An operator's base is a plain BERT (its config knows nothing of livebot's heads), e.g.
    bert-base-chinese on disk or an MLM-pretrained encoder: built here, tiny, with its tokenizer."""
    from transformers import BertForMaskedLM

    from models.encoder import tiny_config
    from models.tokenizer import make_tokenizer, save_tokenizer, vocab_size

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set("".join(e.text for e in generate(catalogue, 300, seed=1))))]
    tokenizer = make_tokenizer(vocab)
    base = tmp_path / "plain-bert"
    BertForMaskedLM(tiny_config(vocab_size(tokenizer), hidden=32, layers=1, heads=2)).save_pretrained(str(base))
    save_tokenizer(tokenizer, vocab, base)

    meta = train_intent(tmp_path / "ft", base=base, seed=0, catalogue=catalogue, n_synth=200, max_steps=3,
                        batch_size=16, use_real=False, n_heldout=22)

    assert meta["base"] == str(base)
    from models.encoder import TextClassifier

    probs = TextClassifier(tmp_path / "ft", device="cpu").predict(["这个多少钱"]).probs
    assert probs.shape == (1, len(INTENTS))


# -- serving ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def understander(model_dirs, catalogue) -> Understander:
    return Understander.load(model_dirs["v1"], catalogue, device="cpu")


def test_one_encoder_pass_answers_intent_and_sentiment_when_the_intent_model_has_the_head(understander, model_dirs):
    from models.encoder import TextClassifier, load_sentiment

    assert understander.joint and understander.sentiment is None
    calls: list[int] = []
    hook = understander.intent.model.bert.register_forward_hook(lambda *_: calls.append(1))
    texts = ["修护霜多少钱", "太差了退货", "谢谢主播", "卫衣有没有L码"]
    try:
        results = understander.predict(texts)
    finally:
        hook.remove()
    assert len(calls) == 1  # one batch, one encoder pass for both answers
    head = load_sentiment(model_dirs["v1"] / "intent", device="cpu")
    assert head.head == "sentiment" and head.labels == SENTIMENTS
    probs = head.predict(texts).probs
    assert [r.sentiment for r in results] == [SENTIMENTS[int(i)] for i in probs.argmax(1)]
    assert all(abs(r.sentiment_confidence - float(p.max())) < 1e-4 for r, p in zip(results, probs))
    # a folder without the head cannot be asked for it; a sentiment folder answers with its own head
    assert load_sentiment(model_dirs["v2"] / "sentiment", device="cpu").head == "main"
    with pytest.raises(ValueError, match="no sentiment head"):
        TextClassifier(model_dirs["v2"] / "sentiment", device="cpu", head="sentiment")


def test_the_sentiment_head_served_as_a_second_model_gives_the_same_answers(understander, model_dirs, catalogue):
    """The two-pass shape (bench.models compares it with one pass) over the same weights: the
    second model must answer with its sentiment head, not its intent head."""
    from models.encoder import TextClassifier

    second = TextClassifier(model_dirs["v1"] / "intent", device="cpu", head="sentiment")
    two = Understander(understander.intent, second, understander.tagger, slot_mode=understander.slot_mode)
    assert not two.joint and two.shared_tokenizer
    texts = [e.text for e in generate(catalogue, 30, seed=12)]
    one_pass, two_passes = understander.predict(texts), two.predict(texts)
    assert [u.sentiment for u in one_pass] == [u.sentiment for u in two_passes]
    assert all(abs(a.sentiment_confidence - b.sentiment_confidence) < 1e-4 for a, b in zip(one_pass, two_passes))


def test_a_sentiment_folder_of_its_own_is_preferred_to_the_intent_models_head(model_dirs, catalogue):
    two = Understander.load(model_dirs["v2"], catalogue, device="cpu", warm_up=False)
    assert not two.joint and two.sentiment is not None and two.sentiment.model_dir == model_dirs["v2"] / "sentiment"


def test_a_joint_model_in_the_sentiment_folder_answers_with_its_sentiment_head(tmp_path, model_dirs, catalogue):
    """An operator pairs a bigger intent model with the defaults' joint model for sentiment: the
    sentiment folder then holds an intent model whose sentiment head must answer."""
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "intent").symlink_to(model_dirs["v2"] / "intent")
    (tmp_path / "set" / "sentiment").symlink_to(model_dirs["v1"] / "intent")
    paired = Understander.load(tmp_path / "set", catalogue, device="cpu")  # warm-up predicts
    assert paired.sentiment.labels == tuple(SENTIMENTS)
    assert {u.sentiment for u in paired.predict(["这个多少钱", "太差了退货"])} <= set(SENTIMENTS)


def test_an_intent_model_without_a_head_and_no_sentiment_folder_is_refused(tmp_path, catalogue):
    train_intent(tmp_path / "m" / "intent", seed=0, catalogue=catalogue, n_synth=200, max_steps=2, batch_size=16,
                 n_heldout=22, sentiment_head=False, **TINY)
    with pytest.raises(FileNotFoundError, match="no sentiment model"):
        Understander.load(tmp_path / "m", catalogue, device="cpu")


def test_predict_returns_one_typed_result_per_comment(understander):
    texts = ["修护霜多少钱", "好的谢谢", "卫衣有没有L码", ""]
    results = understander.predict(texts)
    assert len(results) == len(texts)
    for r in results:
        assert isinstance(r, Understanding)
        assert r.intent in INTENTS and r.sentiment in SENTIMENTS
        assert 0.0 < r.confidence <= 1.0 and 0.0 < r.sentiment_confidence <= 1.0
    assert results[0].slots.get("product") == "SKU-CREAM-02"
    assert results[2].slots.get("size") == "L" and results[2].slots.get("product") == "SKU-HOODIE-05"
    assert understander.predict([]) == []


def test_batched_prediction_matches_one_at_a_time(understander, catalogue):
    texts = [e.text for e in generate(catalogue, 40, seed=21)]
    batched = understander.predict(texts)
    single = [understander.predict([t])[0] for t in texts]
    assert [b.intent for b in batched] == [s.intent for s in single]
    assert [b.slots for b in batched] == [s.slots for s in single]
    assert all(abs(b.confidence - s.confidence) < 1e-4 for b, s in zip(batched, single))


def test_fast_encoding_gives_exactly_what_the_transformers_tokenizer_gives(understander, catalogue):
    """Serving tokenizes with the Rust tokenizer directly; the ids and masks must be the ones the
    transformers wrapper (which training used) produces, long, empty and odd texts included."""
    from models.tokenizer import clip_text, prepare

    clf = understander.intent
    texts = [e.text for e in generate(catalogue, 60, seed=4)] + ["", " ", "好" * 300, "😂🤔 abc DEF 123 [订单x] \u200b"]
    fast = clf.encode(texts, offsets=False)
    prepared = [prepare(clip_text(t, clf.max_length - 2)) for t in texts]
    slow = clf.tokenizer(prepared, padding=True, truncation=True, max_length=clf.max_length, return_tensors="pt")
    assert torch.equal(fast["input_ids"], slow["input_ids"])
    assert torch.equal(fast["attention_mask"], slow["attention_mask"])
    assert fast["input_ids"].shape[1] == clf.max_length  # the 300-character text was cut to the max length


def test_every_head_reads_a_long_text_as_training_clipped_it_head_plus_tail(understander):
    """Training clips long texts to head + tail; serving once cut them to the head whenever the
    model had a token head, so the sentiment head never saw a long review's closing verdict."""
    from models.tokenizer import clip_text, prepare

    clf = understander.intent
    limit = clf.max_length - 2
    long_text = "这款口红颜色很正" * 10 + "总之非常差劲退货了"  # 89 characters, the verdict at the end
    with_offsets = clf.encode([long_text, "多少钱"], offsets=True)
    plain = clf.encode([long_text, "多少钱"], offsets=False)
    assert torch.equal(with_offsets["input_ids"], plain["input_ids"])
    # the ids are those of the clipped text, whose last characters are the verdict's
    wanted = clf.tokenizer([prepare(clip_text(long_text, limit))])["input_ids"][0]
    assert with_offsets["input_ids"][0].tolist()[: len(wanted)] == wanted
    # and every token's offsets point at its own characters in the whole text
    ids, offsets = with_offsets["input_ids"][0].tolist(), with_offsets["offset_mapping"][0].tolist()
    vocab = {i: t for t, i in clf.tokenizer.get_vocab().items()}
    for token_id, (start, end) in zip(ids, offsets):
        if end > start and vocab[token_id] != "[UNK]":
            assert prepare(long_text[start:end]).lower() == vocab[token_id]
    assert offsets[len(wanted) - 2] == [len(long_text) - 1, len(long_text)]  # the last character, before [SEP]
    # predictions do not depend on whether tokens were asked for
    a = clf.predict([long_text], with_tokens=True).probs
    b = clf.predict([long_text]).probs
    assert torch.allclose(torch.from_numpy(a), torch.from_numpy(b), atol=1e-5)


def test_the_one_pass_path_reads_the_token_head_as_the_classifier_does(understander, catalogue):
    texts = [e.text for e in generate(catalogue, 40, seed=6)] + ["这款口红颜色很正" * 10 + "豆沙色有吗"]
    hybrid = Understander(understander.intent, None, understander.tagger, slot_mode="hybrid")
    _, _, tags = hybrid._classify(texts)
    alone = understander.intent.predict(texts, with_tokens=True).token_tags
    assert tags == alone
    assert any(tags) and all(e <= len(t) for t, row in zip(texts, tags) for _, e, _ in row)


def test_runs_under_inference_mode_on_the_chosen_device(understander):
    from models.encoder import pick_device

    assert understander.device.type == "cpu"  # asked for explicitly
    auto_device, auto_dtype = pick_device(None)
    assert auto_device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert auto_dtype == (torch.bfloat16 if auto_device.type == "cuda" else torch.float32)
    modes: list[bool] = []
    hook = understander.intent.model.register_forward_hook(lambda *_: modes.append(torch.is_inference_mode_enabled()))
    try:
        understander.predict(["多少钱", "好的"])
    finally:
        hook.remove()
    assert modes and all(modes)


def test_missing_model_folder_is_reported_with_its_path(tmp_path, catalogue):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        Understander.load(tmp_path, catalogue)


# -- hot reload ---------------------------------------------------------------------------------


def test_registry_keeps_serving_during_a_swap_then_serves_the_new_version(model_dirs, catalogue):
    registry = ModelRegistry(catalogue, device="cpu")
    registry.load(model_dirs["v1"], version="v1")
    texts = [e.text for e in generate(catalogue, 16, seed=5)]
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                served = registry.predict_versioned(texts)
                assert len(served.results) == len(texts)
                seen.append(served.version)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    worker = threading.Thread(target=serve)
    worker.start()
    while not seen:
        time.sleep(0.01)
    future = registry.reload(model_dirs["v2"], version="v2")
    assert future.result(timeout=60) == "v2"
    count_at_swap = len(seen)
    deadline = time.time() + 10
    while len(seen) < count_at_swap + 3 and time.time() < deadline:
        time.sleep(0.01)
    stop.set()
    worker.join(timeout=30)

    assert not errors
    assert seen[0] == "v1" and seen[-1] == "v2"
    first_v2 = seen.index("v2")
    assert set(seen[:first_v2]) == {"v1"} and set(seen[first_v2:]) == {"v2"}  # one clean switch
    direct = Understander.load(model_dirs["v2"], catalogue, device="cpu", warm_up=False)
    assert registry.predict(texts) == direct.predict(texts)


def test_a_failed_reload_keeps_the_old_version(model_dirs, catalogue, tmp_path):
    registry = ModelRegistry(catalogue, device="cpu")
    registry.load(model_dirs["v1"], version="v1")
    future = registry.reload(tmp_path / "nothing-here", version="broken")
    with pytest.raises(FileNotFoundError):
        future.result(timeout=30)
    assert registry.version == "v1"
    assert len(registry.predict(["多少钱"])) == 1


# -- evaluation reports -------------------------------------------------------------------------


def test_evaluation_writes_markdown_png_and_metrics(model_dirs, tmp_path, catalogue):
    metrics = evaluate_intent(model_dirs["v1"] / "intent", tmp_path / "intent", catalogue=catalogue, n_heldout=110,
                              data_dir=tmp_path / "no-data")
    report = (tmp_path / "intent" / "report.md").read_text(encoding="utf-8")
    assert "| price |" in report and "Confusion matrix" in report and "real dev set skipped" in report
    assert (tmp_path / "intent" / "confusion_generated_heldout.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["generated_heldout"]["n"] == 110
    assert sum(map(sum, metrics["generated_heldout"]["confusion"])) == 110
    for folder in (model_dirs["v1"] / "intent", model_dirs["v2"] / "sentiment"):  # a head, a model of its own
        s = evaluate_sentiment(folder, tmp_path / "sent", catalogue=catalogue, data_dir=tmp_path / "no-data")
        assert set(s) == {"generated_heldout"} and s["generated_heldout"]["n"] == 2000


# -- embedder -----------------------------------------------------------------------------------


def test_embedder_trains_saves_and_loads_offline_as_a_sentence_transformer(tmp_path, catalogue):
    from sentence_transformers import SentenceTransformer

    meta = train_embedder(tmp_path / "emb", seed=0, catalogue=catalogue, n_groups=120, max_steps=25, batch_size=16,
                          lr=2e-3, **TINY)
    model = SentenceTransformer(str(tmp_path / "emb"), device="cpu")
    vectors = model.encode(["多少钱", "什么价", "发什么快递"], normalize_embeddings=True)
    assert vectors.shape == (3, 32)
    assert meta["metrics"]["generated_pairs"]["n"] > 0
    assert load_embedder(tmp_path / "emb", device="cpu").encode(["多少钱"]).shape == (1, 32)
    metrics = evaluate_embedder(tmp_path / "emb", tmp_path / "emb-report", catalogue=catalogue, data_dir=tmp_path / "no-data")
    assert 0.0 <= metrics["generated_pairs"]["embedder_auc"] <= 1.0


def test_char_ngram_baseline_scores_shared_characters_higher():
    scores = ngram_cosine(["这个多少钱", "这个多少钱"], ["这个多少钱呀", "什么时候发货"])
    assert scores[0] > 0.8 > 0.1 > scores[1]


# -- the real data, when present ------------------------------------------------------------------


@pytest.mark.skipif(not realdata.data_available(None, realdata.INTENT_DEV), reason="../shared/data is absent")
def test_real_dev_set_reads_with_taxonomy_labels():
    rows = realdata.read_intent_dev()
    assert len(rows) >= 200
    assert {r.intent for r in rows} <= set(INTENTS)
    assert {r.sentiment for r in rows} <= set(SENTIMENTS)
    assert all(r.intent == "other" for r in rows if r.ambiguous)


@pytest.mark.skipif(not realdata.data_available(None, *realdata.DANMAKU_FILES, realdata.INTENT_DEV),
                    reason="../shared/data is absent")
def test_no_dev_line_enters_the_chitchat_training_pool():
    excluded = realdata.dev_exclusion()
    chatter = realdata.read_danmaku_chatter(None, limit=100_000, seed=0, log=None, exclude=excluded)
    assert chatter and not any("".join(t.split()).lower() in excluded for t in chatter)


def test_models_sharing_a_vocabulary_tokenize_once_with_the_same_results(tmp_path, catalogue):
    from models.tokenizer import build_tokenizer

    tok_dir = tmp_path / "tok"
    build_tokenizer([e.text for e in generate(catalogue, 800, seed=2)], tok_dir, min_freq=1)
    kwargs = dict(seed=0, catalogue=catalogue, n_synth=400, max_steps=20, batch_size=16, tokenizer_dir=tok_dir, **TINY)
    train_intent(tmp_path / "m" / "intent", n_heldout=22, **kwargs)
    train_sentiment(tmp_path / "m" / "sentiment", **kwargs)
    shared = Understander.load(tmp_path / "m", catalogue, device="cpu", warm_up=False)
    assert shared.shared_tokenizer
    texts = [e.text for e in generate(catalogue, 30, seed=9)]
    once = shared.predict(texts)
    shared.shared_tokenizer = False  # the two-pass path
    twice = shared.predict(texts)
    assert [u.intent for u in once] == [u.intent for u in twice]
    assert [u.sentiment for u in once] == [u.sentiment for u in twice]
    assert all(abs(a.confidence - b.confidence) < 1e-4 for a, b in zip(once, twice))


# -- the committed default models -----------------------------------------------------------------

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


@pytest.mark.skipif(not (DEFAULT_DIR / "intent" / "config.json").is_file(), reason="models/default not trained")
def test_default_models_load_with_no_configuration_and_answer_plain_questions():
    understander = Understander.load()
    price, thanks, stock, refund = understander.predict(["修护霜多少钱", "谢谢主播", "卫衣还有L码吗", "我要退款"])
    assert (price.intent, price.slots.get("product")) == ("price", "SKU-CREAM-02")
    assert (thanks.intent, thanks.sentiment) == ("chitchat", "pos")
    assert stock.intent == "stock" and stock.slots == {"product": "SKU-HOODIE-05", "size": "L"}
    assert refund.intent == "after_sales"
    assert understander.joint  # the defaults: one encoder pass answers intent and sentiment
    embedder = load_embedder(DEFAULT_DIR / "embedder", device="cpu")
    a, b, c = embedder.encode(["这个多少钱", "这个什么价", "什么时候发货"], normalize_embeddings=True)
    assert float(a @ b) > float(a @ c)


def test_data_log_names_files_by_their_place_in_the_data_folder_not_this_machines_path(tmp_path):
    from models.data import DataLog

    folder = tmp_path / "somewhere" / "paraphrase"
    folder.mkdir(parents=True)
    (folder / "pairs.csv").write_text("a,b,1\n", encoding="utf-8")
    log = DataLog()
    log.file(folder / "pairs.csv", rows_total=1, rows_used=1, role="train")
    [entry] = log.entries
    assert entry["path"] == "paraphrase/pairs.csv" and str(tmp_path) not in json.dumps(entry)
    assert entry["sha256"] == hashlib.sha256(b"a,b,1\n").hexdigest() and entry["bytes"] == 6


def test_mlm_pretraining_writes_a_base_that_intent_training_fine_tunes(tmp_path, catalogue):
    from models.pretrain import pretrain
    from models.tokenizer import build_vocab

    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(build_vocab([e.text for e in generate(catalogue, 400, seed=2)], min_freq=1)),
                          encoding="utf-8")
    meta = pretrain(tmp_path / "mlm", vocab_file=vocab_file, steps=4, batch_size=8, n_synth=200, use_real=False,
                    hidden=32, layers=1, threads=1, catalogue=catalogue)
    assert meta["settings"]["steps"] == 4 and meta["training"]["final_loss"] > 0
    assert meta["data"][0]["generated"]
    for name in ("model.safetensors", "config.json", "vocab.txt", "meta.json"):
        assert (tmp_path / "mlm" / name).is_file(), name

    tuned = train_intent(tmp_path / "intent", base=tmp_path / "mlm", seed=0, catalogue=catalogue,
                         n_synth=200, max_steps=3, batch_size=16, use_real=False, n_heldout=22)
    assert tuned["base"] == str(tmp_path / "mlm")
    # a project pre-trained base is as small as a from-scratch model: it gets the from-scratch rate,
    # and the model folder keeps what the base was pre-trained on (the base may be a temporary folder)
    assert tuned["settings"]["lr"] == 1e-3
    assert (tmp_path / "intent" / "vocab.txt").read_bytes() == (tmp_path / "mlm" / "vocab.txt").read_bytes()
    assert tuned["base_detail"]["pretrain"]["settings"]["steps"] == 4
    assert tuned["base_detail"]["pretrain"]["data"][0]["generated"]
    embedder = train_embedder(tmp_path / "emb", base=tmp_path / "mlm", seed=0, catalogue=catalogue, n_groups=40,
                              max_steps=2, batch_size=8, use_real=False, threads=1)
    assert embedder["settings"]["lr"] == 5e-4 and embedder["base_detail"]["pretrain"]["settings"]["steps"] == 4
    assert load_embedder(tmp_path / "emb", device="cpu").encode(["多少钱"]).shape == (1, 32)
