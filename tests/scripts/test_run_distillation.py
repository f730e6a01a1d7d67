"""run_distillation.py on tiny teachers: task and general distillation, resume, errors."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

import tfmodels
from tests.conftest import experiment, one_line_error, run_script
from tests.glue_data import ROWS, write_glue_task
from tfmodels.errors import ConfigError
from tfmodels.models import bert
from tfmodels.pretraining.records import encode_example, write_shards
from tfmodels.tokenizers import read_vocabulary
from tfmodels.training.driver import run_experiment

TEACHER = bert.Config(
    vocab_size=30522,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=64,
)
FAST = [
    "trainer.train_steps=8",
    "trainer.checkpoint_every=4",
    "trainer.log_every=1",
    "trainer.eval_every=1000",
    "data.train_batch_size=8",
    "model.seq_length=16",
    "optimizer.lr=0.002",
    "schedule.warmup_steps=0",
]


def save_with_vocab(model, path, vocab_dir):
    tfmodels.save_pretrained(model, path)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(vocab_dir, name), os.path.join(path, name))
    return path


def student_yaml(path, hidden=8, heads=2, layers=1):
    path.write_text(
        f"family: bert\nvocab_size: 30522\nhidden_size: {hidden}\n"
        f"num_layers: {layers}\nnum_heads: {heads}\nintermediate_size: 16\n"
        "max_position_embeddings: 64\n"
    )
    return str(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, minilm_path):
    """A 2-layer SST-2 'teacher' with confident (scaled-up) logits, a 2-layer masked LM,
    the tiny SST-2 folder and a narrow student configuration."""
    root = tmp_path_factory.mktemp("distill")
    tf.random.set_seed(0)
    classifier = bert.BertForSequenceClassification(TEACHER, num_labels=2)
    for w in classifier.classifier_head.out.weights:
        w.assign(w * 50.0)
    mlm = bert.BertForMaskedLM(TEACHER)
    return {
        "teacher": save_with_vocab(classifier, str(root / "teacher"), minilm_path),
        "mlm": save_with_vocab(mlm, str(root / "mlm"), minilm_path),
        "data": write_glue_task(str(root), "SST-2"),
        "narrow": student_yaml(root / "narrow.yaml"),
        "vocab": minilm_path,
    }


def history(phase_dir):
    with open(os.path.join(phase_dir, "history.json")) as f:
        return [h["loss"] for h in json.load(f) if "loss" in h]


def assert_goes_down(losses):
    assert len(losses) >= 6 and np.mean(losses[-3:]) < np.mean(losses[:3]), losses


def checkpoint_size(phase_dir):
    """Parameters held in the latest checkpoint outside the optimizer's state."""
    latest = tf.train.latest_checkpoint(os.path.join(phase_dir, "checkpoints"))
    names = [
        (n, s)
        for n, s in tf.train.list_variables(latest)
        if n.startswith("model/") and "OPTIMIZER_SLOT" not in n
    ]
    return names, sum(int(np.prod(s)) for _, s in names)


def test_tinybert_task_distillation_writes_only_the_student(setup, tmp_path):
    run = tmp_path / "run"
    sets = [
        f"model.name={setup['narrow']}",
        "task.augment=true",
        f"task.augment_mlm={setup['mlm']}",
        "task.augment_per_example=2",
        "task.augment_candidates=3",
        *FAST,
    ]
    result = run_script(
        "run_distillation.py",
        "--method=tinybert",
        "--task=sst2",
        f"--data_dir={setup['data']}",
        f"--teacher={setup['teacher']}",
        f"--model_dir={run}",
        *[a for s in sets for a in ("--set", s)],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "phase intermediate" in result.stdout and "phase prediction" in result.stdout
    assert_goes_down(history(run / "intermediate"))
    assert_goes_down(history(run / "prediction"))

    with open(run / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["layer_map"] == [2] and metrics["student_layers"] == 1
    assert 0.0 <= metrics["eval"]["dev/accuracy"] <= 1.0 and "teacher_eval" not in metrics
    with open(run / "augmented_train.jsonl") as f:
        assert ROWS < len(f.readlines()) <= 3 * ROWS
    # Only the student is written: one weights file, 1 layer of width 8, no projections.
    weight_files = [
        os.path.join(d, f)
        for d, _, files in os.walk(run)
        for f in files
        if f.endswith(".safetensors")
    ]
    assert weight_files == [str(run / "hf_model" / "model.safetensors")]
    with open(run / "hf_model" / "config.json") as f:
        config = json.load(f)
    assert (config["num_hidden_layers"], config["hidden_size"]) == (1, 8)
    assert config["architectures"] == ["BertForSequenceClassification"]
    tensors = load_file(weight_files[0])
    assert not [n for n in tensors if "layer.1." in n or "W_" in n]
    assert sum(t.size for t in tensors.values()) == metrics["student_parameters"]
    assert os.path.isfile(run / "hf_model" / "vocab.txt")
    # Checkpoints hold the student (+ W_e, W_h while they train), never the teacher.
    names, size = checkpoint_size(run / "intermediate")
    assert size == metrics["student_parameters"] + 2 * 8 * 16
    assert any("embedding_projection" in n for n, _ in names)
    names, size = checkpoint_size(run / "prediction")
    assert size == metrics["student_parameters"]


def write_records(path, vocab_dir, count=16):
    """Static-masked pre-training records over a few words."""
    vocab = read_vocabulary(os.path.join(vocab_dir, "vocab.txt"))
    ids = {t: i for i, t in enumerate(vocab)}
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
    rng = np.random.default_rng(0)
    examples = [
        encode_example(
            list(rng.choice(words, 6)),
            list(rng.choice(words, 5)),
            i % 2,
            vocab,
            ids,
            16,
            rng,
            max_predictions=3,
        )
        for i in range(count)
    ]
    write_shards(examples, str(path / "pretrain"), 1)
    return str(path / "pretrain*.tfrecord")


def general(setup, tmp_path, method, steps, *extra):
    files = write_records(tmp_path, setup["vocab"])
    sets = [
        f"task.teacher={setup['mlm']}",
        f"task.method={method}",
        "task.stage=general",
        f"task.input_files={files}",
        "task.dynamic_masking=false",
        "task.max_predictions_per_seq=3",
        *FAST,
        f"trainer.train_steps={steps}",
        *extra,
    ]
    lines = []
    report = run_experiment(
        experiment(*sets, task_type="distillation"), str(tmp_path / "run"), log=lines.append
    )
    with open(tmp_path / "run" / "hf_model" / "config.json") as f:
        return report, json.load(f), lines


def test_tinybert_general_distillation_trains_the_backbone_and_resumes(setup, tmp_path):
    narrow = f"model.name={setup['narrow']}"
    report, config, _ = general(setup, tmp_path, "tinybert", 6, narrow)
    assert config["architectures"] == ["BertModel"]
    assert (config["num_hidden_layers"], config["hidden_size"]) == (1, 8)
    assert set(report["phases"]["intermediate"]["train"]) >= {"emb_loss", "att_loss", "hidden_loss"}
    assert_goes_down(history(tmp_path / "run" / "intermediate"))
    saved = load_file(str(tmp_path / "run" / "hf_model" / "model.safetensors"))
    # Run again: the finished phase is restored from its checkpoint, not trained again.
    report, _, lines = general(setup, tmp_path, "tinybert", 6, narrow)
    assert any("resumed from" in line and "at step 6" in line for line in lines)
    assert report["phases"]["intermediate"]["steps_this_run"] == 0
    again = load_file(str(tmp_path / "run" / "hf_model" / "model.safetensors"))
    assert all(np.array_equal(saved[k], again[k]) for k in saved)


def test_distilbert_general_distillation_keeps_the_masked_lm(setup, tmp_path):
    report, config, _ = general(setup, tmp_path, "distilbert", 2)
    assert config["architectures"] == ["BertForMaskedLM"] and config["num_hidden_layers"] == 1
    train = report["phases"]["distilbert"]["train"]
    assert all(np.isfinite(train[k]) and train[k] > 0 for k in ("ce_loss", "mlm_loss", "cos_loss"))


def test_bad_settings_give_clear_errors(setup, tiny_checkpoint, tmp_path):
    ok = [
        f"task.teacher={setup['teacher']}",
        "task.name=sst2",
        f"task.data_dir={setup['data']}",
        *FAST,
    ]

    def error(*sets):
        cfg = experiment(*ok, *sets, task_type="distillation")
        with pytest.raises(ConfigError) as info:
            run_experiment(cfg, str(tmp_path / "run"), log=lambda line: None)
        return str(info.value)

    assert "the student needs 1 to 2 layers (the teacher's depth); got 3" in error(
        "task.student_layers=3"
    )
    assert "task.stage: unknown stage 'pre'" in error("task.stage=pre")
    assert "task.input_files" in error("task.stage=general")
    assert "task.teacher (--teacher)" in error("task.teacher=")
    assert "use it with task.method=tinybert" in error("task.augment=true")
    assert "task.augment needs task.augment_mlm" in error(
        "task.method=tinybert", "task.augment=true"
    )
    assert "task distillation needs a classifier fine-tuned on sst2 (2 labels)" in error(
        f"task.teacher={tiny_checkpoint}"
    )
    assert not os.path.isdir(tmp_path / "run" / "hf_model")


def test_script_errors_are_one_line(tmp_path):
    result = run_script(
        "run_distillation.py", "--method=bort", "--teacher=x", f"--model_dir={tmp_path / 'run'}"
    )
    assert one_line_error(result) == (
        "error: task.method: unknown method 'bort'; known: distilbert, tinybert"
    )
