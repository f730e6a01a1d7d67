"""Source -> target fine-tuning: data, features, metrics, and a Transformer that learns."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import experiment, one_line_error, run_script
from tfmodels.errors import DataError
from tfmodels.pretraining.seq2seq import IGNORE, token_loss
from tfmodels.tasks import glue, seq2seq
from tfmodels.training.driver import run_experiment
from tfmodels.training.optimization import WarmupInverseSqrt

LETTERS = [chr(ord("a") + i) for i in range(16)]
TINY_TRANSFORMER = """family: transformer
vocab_size: 21
hidden_size: 64
num_layers: 2
num_heads: 4
intermediate_size: 128
max_position_embeddings: 32
dropout: 0.0
"""


@pytest.fixture(scope="module")
def reverse_task(tmp_path_factory):
    """A WordPiece vocabulary of 16 letters and pairs (letters, letters reversed)."""
    root = tmp_path_factory.mktemp("reverse")
    (root / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + LETTERS) + "\n"
    )
    (root / "transformer_tiny.yaml").write_text(TINY_TRANSFORMER)
    rng = random.Random(0)
    data = root / "data"
    data.mkdir()
    for split, count in (("train", 2000), ("dev", 60), ("test", 100)):
        rows = []
        for _ in range(count):
            word = [rng.choice(LETTERS) for _ in range(rng.randint(3, 6))]
            rows.append(" ".join(word) + "\t" + " ".join(reversed(word)))
        (data / f"{split}.tsv").write_text("source\ttarget\n" + "\n".join(rows) + "\n")
    return root


def _overrides(root, steps):
    return [
        f"task.data_dir={root / 'data'}",
        f"model.name={root / 'transformer_tiny.yaml'}",
        f"model.vocab_file={root / 'vocab.txt'}",
        "model.seq_length=10",
        "data.train_batch_size=64",
        "data.eval_batch_size=100",
        "optimizer.lr=0.003",
        "optimizer.weight_decay=0.0",
        "schedule.name=inverse_sqrt",
        "schedule.warmup_steps=60",
        f"trainer.train_steps={steps}",
        f"trainer.checkpoint_every={steps}",
        "trainer.log_every=100",
        "task.kind=text2text",
        "task.target_length=8",
        "task.num_beams=3",
        "task.label_smoothing=0.1",
    ]


@pytest.mark.slow
def test_transformer_learns_to_reverse_with_beam_search(reverse_task, tmp_path):
    """The issue's end-to-end check: a tiny Transformer, a few hundred steps, >= 95%
    exact match with beam search; outputs written and the saved model reloads."""
    cfg = experiment(*_overrides(reverse_task, 300), task_type="seq2seq")
    report = run_experiment(cfg, str(tmp_path / "run"))
    assert report["eval"]["test/exact_match"] >= 95.0
    assert report["eval"]["test/bleu"] >= 90.0
    lines = (tmp_path / "run" / "predictions" / "test.txt").read_text().splitlines()
    assert len(lines) == 100
    sources = seq2seq.read_pairs(str(reverse_task / "data" / "test.tsv")).sources
    right = sum(line.split() == src.split()[::-1] for line, src in zip(lines, sources))
    assert right >= 95
    reloaded = tfmodels.from_pretrained(str(tmp_path / "run" / "hf_model"))
    assert reloaded.architecture == "TransformerForConditionalGeneration"
    assert os.path.isfile(tmp_path / "run" / "hf_model" / "vocab.txt")


def test_features_align_labels_with_decoder_inputs(reverse_task):
    pre = tfmodels.preprocessor_from_pretrained(str(reverse_task), 8)
    target = tfmodels.preprocessor_from_pretrained(str(reverse_task), 6)
    encoding = seq2seq.Encoding(pre, target, decoder_start_id=2)  # [CLS]
    pairs = seq2seq.Pairs("x", ["a b c", "d"], ["c b a", "d"], [1, 2])
    f = encoding.features(pairs)
    a, b, c, d = (LETTERS.index(x) + 5 for x in "abcd")
    np.testing.assert_array_equal(f["input_ids"][0], [2, a, b, c, 3, 0, 0, 0])
    # labels drop the leading [CLS] (the decoder's start) and end with [SEP]
    np.testing.assert_array_equal(f["labels"], [[c, b, a, 3, IGNORE], [d, 3] + [IGNORE] * 3])
    np.testing.assert_array_equal(f["decoder_input_ids"], [[2, c, b, a, 3], [2, d, 3, 0, 0]])
    np.testing.assert_array_equal(f["decoder_input_mask"], [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert encoding.decode([[c, b, 3, a], [d, 0, 0, 0]]) == ["c b", "d"]


def test_reading_pairs_and_bad_rows(tmp_path):
    good = tmp_path / "train.jsonl"
    good.write_text(json.dumps({"document": "long text", "summary": "short"}) + "\n\n")
    pairs = seq2seq.read_pairs(str(good), "document", "summary")
    assert (pairs.sources, pairs.targets, pairs.lines) == (["long text"], ["short"], [1])
    bad_json = tmp_path / "dev.jsonl"
    bad_json.write_text('{"source": "a", "target": "b"}\n{"source": "a"\n')
    with pytest.raises(DataError, match=r"dev.jsonl:2: not a JSON object"):
        seq2seq.read_pairs(str(bad_json))
    missing = tmp_path / "test.jsonl"
    missing.write_text('{"source": "a", "tgt": "b"}\n')
    with pytest.raises(DataError, match=r"test.jsonl:1: no text field 'target'"):
        seq2seq.read_pairs(str(missing))
    tsv = tmp_path / "x.tsv"
    tsv.write_text("a\tb\nc\td\te\n")
    with pytest.raises(DataError, match=r"x.tsv:2: expected 2 columns \(tab-separated: source"):
        seq2seq.read_pairs(str(tsv))
    with pytest.raises(DataError, match="no dev file"):
        seq2seq.find_split(str(tmp_path / "nowhere"), "dev")


def test_metrics_are_the_packages_scores():
    same = seq2seq.text_metrics(
        "summarization", ["the cat sat on the mat"], ["the cat sat on the mat"]
    )
    assert same["bleu"] == pytest.approx(100.0) and same["rouge1"] == pytest.approx(100.0)
    # ROUGE-1: precision 2/2, recall 2/3 -> F1 0.8; ROUGE-2: 1/1 and 1/2 -> 2/3
    part = seq2seq.text_metrics("summarization", ["the cat"], ["the cat sat"])
    assert part["rouge1"] == pytest.approx(80.0)
    assert part["rouge2"] == pytest.approx(200.0 / 3)
    assert "exact_match" not in part
    exact = seq2seq.text_metrics("text2text", ["positive", "negative "], ["positive", "positive"])
    assert exact["exact_match"] == pytest.approx(50.0)


def test_glue_tasks_in_t5_prompts():
    examples = glue.Examples(
        ["0", "1"], ["A man.", "It rains."], ["A person.", "Dry."], np.array([1, 0])
    )
    pairs = seq2seq.glue_pairs("mrpc", examples, "dev.tsv")
    assert pairs.sources[0] == "mrpc sentence1: A man. sentence2: A person."
    assert pairs.targets == ["equivalent", "not_equivalent"]
    assert seq2seq.glue_label("mrpc", " equivalent ") == 1
    assert seq2seq.glue_label("mrpc", "maybe") == -1
    assert seq2seq.stsb_word(3.87) == "3.8" and seq2seq.stsb_word(3.91) == "4.0"
    assert np.isnan(seq2seq.glue_label("stsb", "high"))


def test_label_smoothing_mixes_in_the_uniform_distribution():
    logits = tf.math.log(tf.constant([[[0.7, 0.2, 0.1]]]))
    labels, weights = tf.constant([[0]]), tf.constant([[1.0]])
    plain, _ = token_loss(logits, labels, weights)
    smoothed, metrics = token_loss(logits, labels, weights, label_smoothing=0.1)
    uniform = -np.mean(np.log([0.7, 0.2, 0.1]))
    assert float(plain) == pytest.approx(-np.log(0.7), rel=1e-4)
    assert float(smoothed) == pytest.approx(0.9 * -np.log(0.7) + 0.1 * uniform, rel=1e-4)
    assert float(metrics["lm_loss"]) == pytest.approx(float(plain))


def test_inverse_sqrt_schedule():
    schedule = WarmupInverseSqrt(1e-3, warmup_steps=100)
    assert float(schedule(50)) == pytest.approx(5e-4)
    assert float(schedule(100)) == pytest.approx(1e-3)
    assert float(schedule(400)) == pytest.approx(5e-4)  # sqrt(100 / 400)


def test_script_names_the_bad_line_and_exits_2(reverse_task, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("a b\tb a\nc d\n")
    (data / "dev.tsv").write_text("a b\tb a\n")
    (data / "test.tsv").write_text("a b\tb a\n")
    result = run_script(
        "run_seq2seq.py",
        f"--data_dir={data}",
        f"--model_dir={tmp_path / 'run'}",
        "--set",
        f"model.name={reverse_task / 'transformer_tiny.yaml'}",
        "--set",
        f"model.vocab_file={reverse_task / 'vocab.txt'}",
    )
    expected = f"{data / 'train.tsv'}:2: expected 2 columns (tab-separated: source, target)"
    assert expected in one_line_error(result)
    assert not (tmp_path / "run").exists()
