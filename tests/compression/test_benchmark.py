"""The compression study on a tiny classifier: rows measured, report written, rows reused."""

import csv
import json
import os
import shutil

import pytest

import tfmodels
from tests.conftest import one_line_error, run_script
from tfmodels.compression import benchmark
from tfmodels.compression.report import with_relative_columns
from tfmodels.errors import ConfigError
from tfmodels.models import bert

LABELS = ["sports", "food"]


@pytest.fixture(scope="module")
def tiny_study_inputs(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("study")
    teacher = str(root / "teacher")
    # Two layers, so that layer sharing and a half-depth student have something to remove.
    config = bert.Config(
        vocab_size=30522,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    model = bert.BertForSequenceClassification(config, num_labels=2)
    model.label_names = LABELS
    tfmodels.save_pretrained(model, teacher)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(tiny_checkpoint, name), os.path.join(teacher, name))
    data = root / "data"
    data.mkdir()
    for split in ("train", "dev", "test"):
        with open(data / f"{split}.tsv", "w", encoding="utf-8") as f:
            f.write("text\tlabel\n")
            for i in range(12):
                f.write(
                    f"the match number {i} was won\tsports\n"
                    if i % 2
                    else f"a bowl of soup number {i}\tfood\n"
                )
    return teacher, str(data), root


@pytest.fixture(scope="module")
def study(tiny_study_inputs):
    """One study for the module: the teacher row is measured once and reused."""
    teacher, data, root = tiny_study_inputs
    return benchmark.Study(
        teacher,
        data,
        str(root / "out"),
        seq_length=16,
        train_seq_length=16,
        steps=2,
        batch_size=4,
        latency_repeats=1,
    )


def test_study_writes_table_and_reuses_rows(study):
    rows, paths = benchmark.run_study(study, ["ptq_dynamic"], log=lambda *_: None)
    assert [r["method"] for r in rows] == ["teacher", "ptq_dynamic"]
    teacher_row, dynamic = with_relative_columns(rows)
    assert teacher_row["percent_of_teacher"] == pytest.approx(100.0)
    assert teacher_row["params"] >= teacher_row["nonzero_params"] > 0
    assert dynamic["file_mb"] < teacher_row["file_mb"]
    assert 0.0 <= dynamic["score"] <= 1.0
    with open(paths[1], encoding="utf-8") as f:
        assert [r["method"] for r in csv.DictReader(f)] == ["teacher", "ptq_dynamic"]
    assert open(paths[2], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with open(paths[3], encoding="utf-8") as f:
        profiles = f.read()
    # LiteRT's per-operator table of each profiled file, the dynamic file's int8 weights
    # running through XNNPACK's fully connected operator.
    for section in ("teacher (teacher.tflite)", "ptq_dynamic (ptq_dynamic.tflite)"):
        assert section in profiles
    assert "XNNPACK/Fully Connected" in profiles.split("ptq_dynamic (")[1]
    # A second run reuses the saved rows instead of measuring again.
    saved = study.path(os.path.join("rows", "ptq_dynamic.json"))
    with open(saved, encoding="utf-8") as f:
        row = json.load(f)
    row["note"] = "reused"
    with open(saved, "w", encoding="utf-8") as f:
        json.dump(row, f)
    rows, _ = benchmark.run_study(study, ["ptq_dynamic"], log=lambda *_: None)
    assert rows[1]["note"] == "reused"
    with pytest.raises(ConfigError, match="unknown nope"):
        benchmark.run_study(study, ["nope"])


def test_script_names_a_missing_teacher(tmp_path):
    result = run_script(
        "run_benchmark.py", f"--teacher={tmp_path}/none", f"--output_dir={tmp_path}/out"
    )
    line = one_line_error(result)
    assert "--teacher" in line and "make demo" in line


@pytest.mark.slow
def test_training_rows_and_one_latency_pass(study):
    # QAT, pruning, clustering and head pruning have tests of their own; a row of theirs
    # adds only a recovery fine-tune and a conversion.
    methods = ["albert_shared", "distilbert_student"]
    rows, _ = benchmark.run_study(study, methods, log=lambda *_: None)
    by_method = {r["method"]: r for r in rows}
    assert list(by_method) == ["teacher", *methods]
    teacher_row = by_method["teacher"]
    layers = study.teacher.config.num_layers
    block = sum(w.numpy().size for w in study.teacher.encoder.transformer_layers[0].weights)
    # One block instead of L, plus ALBERT's E -> H projection (H*H + H).
    hidden = study.teacher.config.hidden_size
    assert by_method["albert_shared"]["params"] == (
        teacher_row["params"] - (layers - 1) * block + hidden * hidden + hidden
    )
    student = tfmodels.from_pretrained(study.path(os.path.join("models", "distilbert_student")))
    assert student.config.num_layers == layers // 2 == 1
    assert by_method["distilbert_student"]["params"] < teacher_row["params"]
    # The table's latencies come from the one interleaved pass over every file and model.
    for row in rows:
        assert 0.0 <= row["score"] <= 1.0 and row["tflite_ms"] > 0 and row["tf_ms"] > 0
