"""`make demo` end to end, in-process, on a synthetic fortunes folder and a tiny BERT.

The demo's own experiment config runs through ``run_experiment`` (as ``make demo`` does) with
``--set``-style overrides for only what a test cannot afford (MiniLM, four epochs) or
must redirect (the folders); then every output the demo promises is checked. The
synthetic topics are separable by their words, so the run must also learn: dev
accuracy far above the majority-class baseline (a broken training step, label mix-up
or head that is never trained would sit at or near it).
"""

import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import ROOT
from tfmodels import demo as demo_task
from tfmodels.datasets.fortunes import DEFAULT_TOPICS, FORTUNES_DIR
from tfmodels.models import bert
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import load_experiment

CONFIG = os.path.join(ROOT, "configs", "experiments", "demo_minilm_fortunes.yaml")
# Each topic's own words, shared by none of the others.
WORDS = {
    "computers": "compiler kernel server software keyboard program memory disk network "
    "laptop monitor printer".split(),
    "food": "pizza cheese bread soup garlic butter kitchen dinner recipe onion sauce "
    "bakery".split(),
    "law": "judge lawyer court verdict jury statute attorney trial appeal prison witness "
    "lawsuit".split(),
    "politics": "senator taxes voters election ballot congress campaign president "
    "parliament minister governor mayor".split(),
    "science": "atom molecule physics telescope laboratory experiment chemistry biology "
    "theory particle gravity scientist".split(),
    "sports": "football soccer tennis goal stadium referee coach team player baseball "
    "league match".split(),
}
FILLER = "the a of and it was is quite very often said then every when".split()
# Distinct entries per topic: unequal, so the majority baseline is not just 1/6, and
# multiples of 20 so the 0.7/0.15/0.15 split is exact (14/3/3 per 20).
UNIQUE = {"computers": 60, "food": 40, "law": 40, "politics": 40, "science": 20, "sports": 20}
AUTHORS = ["Zebediah Quillfeather", "Ottoline Brackwater", "Peregrine Thistlewood"]
SPLITS = {"train": 0.7, "dev": 0.15, "test": 0.15}
STEPS = 200


def _key(text):
    return re.sub(r"\W+", " ", text.lower()).strip()


def write_fortunes(folder, seed=0):
    """Fortune files named like the default topics, in the real files' format, with
    what the builder must clean away; returns ``{topic: [expected texts]}``."""
    rng = np.random.default_rng(seed)
    expected, seen = {}, set()
    os.makedirs(folder)
    for t, topic in enumerate(DEFAULT_TOPICS):
        texts = []
        while len(texts) < UNIQUE[topic]:
            words = list(rng.choice(WORDS[topic], 5)) + list(rng.choice(FILLER, 5))
            text = " ".join(words[i] for i in rng.permutation(10)).capitalize() + "."
            if _key(text) not in seen:
                seen.add(_key(text))
                texts.append(text)
        expected[topic] = texts
        entries = []
        for i, text in enumerate(texts):
            words = text.split()  # two lines, a tab inside, sometimes an attribution
            lines = [" ".join(words[:3]) + "\t" + " ".join(words[3:6]), " ".join(words[6:])]
            if i % 3 == 0:
                lines.append(f'\t\t-- {AUTHORS[i % len(AUTHORS)]}, "Collected Sayings"')
            entries.append("\n".join(lines))
            if i % 10 == 0:  # a duplicate: the same entry, or in other case and punctuation
                entries.append(text if i % 20 else text.upper().replace(".", "!"))
        if t:  # the previous topic's first fortune again: it stays there, the first seen
            entries.append(expected[DEFAULT_TOPICS[t - 1]][0])
        entries.append("Too short.")  # under 20 characters: dropped
        with open(os.path.join(folder, topic), "w", encoding="utf-8") as f:
            f.write("\n%\n".join(entries) + "\n%\n")
    return expected


def write_checkpoint(folder, minilm_path):
    """A tiny random BERT (HF layout, the real vocabulary) made from a fixed seed. Not
    conftest's ``tiny_checkpoint``: its weights depend on the random state where it is
    first requested, and at its hidden size 16 one init in six reached only 0.55 dev
    accuracy in 400 steps; at 32 all of eight inits reached >= 0.93 in 200 steps."""
    tf.keras.utils.set_random_seed(0)
    config = bert.Config(
        vocab_size=30522,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    tfmodels.save_pretrained(bert.BertModel(config), folder)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(minilm_path, name), folder)
    return folder


@pytest.fixture(scope="module")
def demo(tmp_path_factory, minilm_path):
    """The demo config run once: ``(report, model_dir, data_dir, expected texts)``."""
    tmp = tmp_path_factory.mktemp("demo")
    expected = write_fortunes(str(tmp / "fortunes"))
    checkpoint = write_checkpoint(str(tmp / "tiny_bert"), minilm_path)
    cfg = load_experiment(
        CONFIG,
        [
            f"task.fortunes_dir={tmp / 'fortunes'}",
            f"task.data_dir={tmp / 'data'}",
            f"model.init_from={checkpoint}",
            "model.seq_length=32",
            "data.train_batch_size=16",
            f"trainer.train_steps={STEPS}",
            "optimizer.lr=5e-3",
            f"trainer.checkpoint_every={STEPS // 2}",
            "trainer.seed=0",  # the head, dropout and shuffle: see the accuracy test
        ],
    )
    assert cfg.task.type == "fortunes_topics" and cfg.task.baselines and cfg.task.saved_model
    report = run_experiment(cfg, str(tmp / "run"))
    return report, tmp / "run", tmp / "data", expected


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def test_demo_builds_the_topic_dataset(demo):
    _, _, data_dir, expected = demo
    rows = {}
    for split, fraction in SPLITS.items():
        header, *rows[split] = read_tsv(data_dir / f"{split}.tsv")
        assert header == ["text", "label"]
        assert all(len(row) == 2 for row in rows[split])  # no tab left inside a text
        for topic, texts in expected.items():
            count = sum(label == topic for _, label in rows[split])
            assert count == pytest.approx(fraction * len(texts))
    built = sorted(tuple(row) for split in SPLITS for row in rows[split])
    # Exactly the distinct fortunes under their first topic: no attribution, duplicate
    # or short entry, lines joined with single spaces.
    assert built == sorted((text, topic) for topic, texts in expected.items() for text in texts)
    assert not [t for t, _ in built if "--" in t or any(a.split()[0] in t for a in AUTHORS)]


@pytest.mark.slow
def test_demo_reports_baselines_and_learns(demo):
    report, model_dir, _, _ = demo
    with open(model_dir / "metrics.json") as f:
        assert json.load(f) == json.loads(json.dumps(report))
    with open(model_dir / "eval_results.json") as f:
        assert json.load(f) == report["eval"]
    assert report["steps"] == STEPS and report["train_examples"] == pytest.approx(
        0.7 * sum(UNIQUE.values())
    )
    baselines, results = report["baselines"], report["eval"]
    assert set(baselines) == {
        f"{s}/{b}" for s in ("dev", "test") for b in ("majority_accuracy", "bow_logreg_accuracy")
    }
    majority = max(UNIQUE.values()) / sum(UNIQUE.values())  # computers: 9 of 33 dev rows
    assert baselines["dev/majority_accuracy"] == pytest.approx(majority)
    assert baselines["dev/bow_logreg_accuracy"] > 0.9  # the words do separate the topics
    # trainer.seed=0 gives 1.0 on dev and test (33/33 each). The tiny random BERT at
    # lr 5e-3 is seed-sensitive: of seeds 0-6 and 42, six reach >= 0.77 on dev (0 and 5:
    # 1.0), seed 6 gives 0.76 and seed 42 0.73.
    assert results["dev/accuracy"] >= majority + 0.5
    assert results["test/accuracy"] >= majority + 0.5
    assert os.path.isfile(results["checkpoint"] + ".index")


def test_demo_exports_a_saved_model_and_an_hf_model(demo):
    report, model_dir, data_dir, _ = demo
    topics = sorted(DEFAULT_TOPICS)
    samples, dev = report["sample_predictions"], read_tsv(data_dir / "dev.tsv")[1:]
    assert [s["text"] for s in samples] == load_experiment(CONFIG).task.sample_texts
    assert report["saved_model"] == str(model_dir / "saved_model")
    texts = [s["text"] for s in samples] + [text for text, _ in dev]
    out = tf.saved_model.load(report["saved_model"]).signatures["serving_default"](
        text=tf.constant(texts)
    )
    probabilities, labels = out["probabilities"].numpy(), out["label"].numpy().astype(str)
    assert probabilities.shape == (len(texts), len(topics))
    assert np.all(probabilities > 0) and np.all(probabilities <= 1)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    assert list(labels) == [topics[i] for i in probabilities.argmax(-1)]
    for sample, p, label in zip(samples, probabilities, labels):
        assert sample["label"] == label
        assert sample["probability"] == pytest.approx(float(p.max()))
    # The export is the evaluated model: the same dev accuracy from raw text.
    assert np.mean(
        labels[len(samples) :] == np.array([label for _, label in dev])
    ) == pytest.approx(report["eval"]["dev/accuracy"])

    hf_dir = model_dir / "hf_model"
    assert os.path.isfile(hf_dir / "vocab.txt")
    model = tfmodels.from_pretrained(str(hf_dir), architecture="classification")
    assert model.label_names == topics
    features = tfmodels.preprocessor_from_pretrained(str(hf_dir), seq_length=32)(tf.constant(texts))
    np.testing.assert_allclose(
        model(features, training=False)["logits"].numpy(), out["logits"].numpy(), atol=1e-5
    )


def test_demo_writes_curves_and_leaves_no_temporary_files(demo):
    _, model_dir, data_dir, _ = demo
    with open(model_dir / "training_curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    left = [
        os.path.join(d, n)
        for folder in (model_dir, data_dir)
        for d, dirs, files in os.walk(folder)
        for n in dirs + files
        if ".tmp" in n
    ]
    assert not left


def test_demo_reads_debians_fortunes_by_default(tmp_path, monkeypatch):
    """``make demo`` sets no ``task.fortunes_dir``: the build reads Debian's folder."""
    cfg = load_experiment(CONFIG, [f"task.data_dir={tmp_path}"])
    assert cfg.task.fortunes_dir is None
    calls = []
    monkeypatch.setattr(
        demo_task,
        "build_fortunes_dataset",
        lambda out_dir, source_dir: calls.append(source_dir) or {},
    )
    demo_task.ensure_fortunes_data(cfg.task)
    assert calls == [FORTUNES_DIR] == ["/usr/share/games/fortunes"]
