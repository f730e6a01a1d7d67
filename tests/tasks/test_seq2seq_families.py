"""run_seq2seq's two pretrained use cases on tiny models: T5 text-to-text GLUE and BART
summarization (a few steps each: the pipeline, not the accuracy, is under test)."""

import json
import shutil

import pytest

import tfmodels
from tests.conftest import experiment, fixture_path
from tests.glue_data import write_glue_task
from tfmodels.models import bart, t5
from tfmodels.training.driver import run_experiment

STEPS = [
    "trainer.train_steps=3",
    "trainer.checkpoint_every=3",
    "data.train_batch_size=4",
    "data.eval_batch_size=8",
    "optimizer.lr=1e-3",
    "task.max_eval_examples=8",
]


def _tiny_t5(folder):
    vocab_size = json.loads(open(fixture_path("t5_spiece", "reference.json")).read())["vocab_size"]
    model = t5.T5ForConditionalGeneration(
        t5.Config(
            vocab_size=vocab_size,
            hidden_size=16,
            head_size=4,
            intermediate_size=32,
            num_layers=1,
            num_heads=4,
            num_buckets=8,
            max_distance=16,
        )
    )
    tfmodels.save_pretrained(model, str(folder))
    shutil.copy(fixture_path("t5_spiece", "spiece.model"), folder)
    return folder


def _tiny_bart(folder):
    vocab = json.loads(open(fixture_path("roberta_bpe", "vocab.json")).read())
    model = bart.BartForConditionalGeneration(
        bart.Config(
            vocab_size=len(vocab),
            hidden_size=16,
            num_encoder_layers=1,
            num_decoder_layers=1,
            num_encoder_heads=2,
            num_decoder_heads=2,
            encoder_intermediate_size=32,
            decoder_intermediate_size=32,
            max_position_embeddings=64,
        )
    )
    tfmodels.save_pretrained(model, str(folder))
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(fixture_path("roberta_bpe", name), folder)
    return folder


def test_t5_text_to_text_glue(tmp_path):
    """MRPC in T5's prompts: generated label words are scored by MRPC's own metric."""
    data = write_glue_task(tmp_path / "glue", "MRPC")
    cfg = experiment(
        task_type="seq2seq",
        *[
            f"task.data_dir={data}",
            f"model.init_from={_tiny_t5(tmp_path / 't5')}",
            "model.seq_length=48",
            "task.kind=text2text",
            "task.glue_task=mrpc",
            "task.target_length=4",
            "task.eval_splits=[dev]",
            "task.decoding=greedy",
            *STEPS,
        ],
    )
    report = run_experiment(cfg, str(tmp_path / "run"))
    results = report["eval"]
    for key in ("dev/exact_match", "dev/f1", "dev/accuracy", "dev/score", "dev/unparsed"):
        assert key in results
    assert 0 <= results["dev/unparsed"] <= 8
    lines = (tmp_path / "run" / "predictions" / "dev.txt").read_text().splitlines()
    assert len(lines) == 8
    reloaded = tfmodels.from_pretrained(str(tmp_path / "run" / "hf_model"))
    assert reloaded.architecture == "T5ForConditionalGeneration"
    assert (tmp_path / "run" / "hf_model" / "spiece.model").is_file()


def test_bart_summarization_reports_rouge(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {
            "document": f"The {w} sat on the mat and looked at the {w} all day.",
            "summary": f"The {w} sat.",
        }
        for w in ("cat", "dog", "bird", "man", "child", "fox")
    ]
    for split in ("train", "dev", "test"):
        (data / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cfg = experiment(
        task_type="seq2seq",
        *[
            f"task.data_dir={data}",
            f"model.init_from={_tiny_bart(tmp_path / 'bart')}",
            "model.seq_length=32",
            "task.kind=summarization",
            "task.source_key=document",
            "task.target_key=summary",
            "task.target_length=8",
            "task.num_beams=2",
            "task.length_penalty=2.0",
            *STEPS,
        ],
    )
    report = run_experiment(cfg, str(tmp_path / "run"))
    for split in ("dev", "test"):
        for metric in ("rouge1", "rouge2", "rougeL", "bleu"):
            assert 0.0 <= report["eval"][f"{split}/{metric}"] <= 100.0
    assert report["train_pairs"] == 6
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["eval"]["dev/rougeL"] == pytest.approx(report["eval"]["dev/rougeL"])
    assert (
        tfmodels.from_pretrained(str(tmp_path / "run" / "hf_model")).architecture
        == "BartForConditionalGeneration"
    )
