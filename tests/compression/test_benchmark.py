"""The compression study on a tiny classifier: rows measured, report written, rows reused."""
import csv
import json
import os
import shutil

import pytest

import tfmodels
from tests.conftest import run_script
from tfmodels.compression import benchmark
from tfmodels.compression.report import with_relative_columns
from tfmodels.errors import ConfigError

LABELS = ["sports", "food"]


@pytest.fixture(scope="module")
def tiny_study_inputs(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("study")
    teacher = str(root / "teacher")
    model = tfmodels.from_pretrained(tiny_checkpoint, architecture="classification",
                                     num_labels=2)
    model.label_names = LABELS
    tfmodels.save_pretrained(model, teacher)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(tiny_checkpoint, name), os.path.join(teacher, name))
    data = root / "data"
    data.mkdir()
    for split in ("train", "test"):
        with open(data / f"{split}.tsv", "w", encoding="utf-8") as f:
            f.write("text\tlabel\n")
            for i in range(12):
                f.write(f"the match number {i} was won\tsports\n" if i % 2 else
                        f"a bowl of soup number {i}\tfood\n")
    return teacher, str(data), root


def test_study_writes_table_and_reuses_rows(tiny_study_inputs):
    teacher, data, root = tiny_study_inputs
    out = str(root / "out")
    study = benchmark.Study(teacher, data, out, seq_length=16, train_seq_length=16,
                            steps=2, batch_size=4, latency_repeats=2)
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
    # A second run reuses the saved rows instead of measuring again.
    saved = os.path.join(out, "rows", "ptq_dynamic.json")
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
    result = run_script("run_benchmark.py", f"--teacher={tmp_path}/none",
                        f"--output_dir={tmp_path}/out")
    assert result.returncode == 2
    assert "--teacher" in result.stderr and "make demo" in result.stderr


def test_training_rows_on_a_tiny_teacher(tiny_study_inputs):
    teacher, data, root = tiny_study_inputs
    study = benchmark.Study(teacher, data, str(root / "out_training"), seq_length=16,
                            train_seq_length=16, steps=4, batch_size=4, latency_repeats=2)
    methods = ["qat_int8", "pruned_50"]  # clustering and head pruning: tests of their own
    rows, _ = benchmark.run_study(study, methods, log=lambda *_: None)
    by_method = {r["method"]: r for r in rows}
    assert list(by_method) == ["teacher", *methods]
    for row in rows:
        assert 0.0 <= row["score"] <= 1.0 and row["tflite_ms"] > 0
    teacher_row, pruned = by_method["teacher"], by_method["pruned_50"]
    assert pruned["params"] == teacher_row["params"]
    assert pruned["nonzero_params"] < teacher_row["nonzero_params"]
    assert pruned["kernel_sparsity"] == pytest.approx(0.5, abs=0.02)
    assert by_method["qat_int8"]["file_mb"] < 0.6 * teacher_row["file_mb"]
