"""run_classifier.py end to end on tiny GLUE folders, and its errors on bad input."""
import csv
import json
import os
import shutil

import numpy as np
import pytest

from tests.conftest import run_script
from tests.glue_data import ROWS, write_glue_task
from tfmodels.tasks.glue import GLUE_TASKS

EXPECTED_METRICS = {"cola": {"matthews_corr", "accuracy"}, "stsb": {"pearson", "spearman"},
                    "mrpc": {"f1", "accuracy"}, "qqp": {"f1", "accuracy"}}
FAST = ["--set", "trainer.train_steps=2", "--set", "trainer.checkpoint_every=2",
        "--set", "data.train_batch_size=4", "--set", "model.seq_length=32"]


def classifier(tmp_path, task, data_dir, init_from, *extra):
    return run_script("run_classifier.py", f"--task={task}", f"--data_dir={data_dir}",
                      f"--init_from={init_from}", f"--model_dir={tmp_path / 'run'}", *FAST,
                      *extra)


# End to end through the script for one task of each kind (every split of every task is
# read in tests/tasks/test_glue.py, every metric checked in tests/tasks/test_metrics.py):
# single sentence + MCC, regression, two dev splits + three labels, pairs + F1.
SCRIPT_TASKS = ["cola", "stsb", "mnli", "qqp"]


def test_script_tasks_cover_every_kind_of_task():
    kinds = {(GLUE_TASKS[n].is_regression, len(GLUE_TASKS[n].dev_files) > 1,
              GLUE_TASKS[n].columns.text_b is None) for n in SCRIPT_TASKS}
    assert (True, False, False) in kinds and (False, True, False) in kinds
    assert (False, False, True) in kinds and set(SCRIPT_TASKS) <= set(GLUE_TASKS)


@pytest.mark.parametrize("name", SCRIPT_TASKS)
def test_glue_task_trains_evaluates_and_predicts(name, tmp_path, tiny_checkpoint):
    task = GLUE_TASKS[name]
    data_dir = write_glue_task(str(tmp_path), task.folder)
    result = classifier(tmp_path, name, data_dir, tiny_checkpoint)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 2/2" in result.stdout
    with open(tmp_path / "run" / "eval_results.json") as f:
        results = json.load(f)
    for split, _ in task.dev_files:
        for metric in EXPECTED_METRICS.get(name, {"accuracy"}):
            value = results[f"{split}/{metric}"]
            assert -1.0 <= value <= 1.0
        if name not in EXPECTED_METRICS:  # accuracy on ROWS examples is a multiple of 1/ROWS
            assert results[f"{split}/accuracy"] * ROWS == pytest.approx(
                round(results[f"{split}/accuracy"] * ROWS))
    assert os.path.isfile(tmp_path / "run" / "best" / "best.json")
    assert os.path.isfile(tmp_path / "run" / "training_curves.png")

    predicted = classifier(tmp_path, name, data_dir, tiny_checkpoint, "--mode=predict")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    for stem, _ in task.test_files:
        with open(tmp_path / "run" / "predictions" / f"{stem}.tsv") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        assert rows[0] == ["index", "prediction"]
        assert [r[0] for r in rows[1:]] == [str(i) for i in range(ROWS)]
        for _, prediction in rows[1:]:
            if task.is_regression:
                assert 0.0 <= float(prediction) <= 5.0
            else:
                assert prediction in task.labels
    assert not [f for f in os.listdir(tmp_path / "run" / "predictions") if ".tmp" in f]


def test_eval_mode_reuses_the_trained_checkpoint(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path), "SST-2")
    assert classifier(tmp_path, "sst2", data_dir, tiny_checkpoint).returncode == 0
    with open(tmp_path / "run" / "eval_results.json") as f:
        trained = json.load(f)
    result = classifier(tmp_path, "sst2", data_dir, tiny_checkpoint, "--mode=eval")
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "run" / "eval_results.json") as f:
        again = json.load(f)
    assert again["dev/accuracy"] == trained["dev/accuracy"]
    assert "best" in again["checkpoint"]


def _error(result):
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_bad_inputs_give_one_clear_message(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path), "RTE")
    with open(os.path.join(data_dir, "train.tsv"), "a") as f:
        f.write("8\ttoo few columns\n")
    assert "RTE/train.tsv:10: expected 4 columns" in _error(
        classifier(tmp_path, "rte", data_dir, tiny_checkpoint))

    data_dir = write_glue_task(str(tmp_path / "b"), "QNLI")
    with open(os.path.join(data_dir, "train.tsv"), "a") as f:
        f.write("8\ta\tb\tcontradiction\n")
    assert "label 'contradiction' is not one of entailment, not_entailment" in _error(
        classifier(tmp_path, "qnli", data_dir, tiny_checkpoint))

    data_dir = write_glue_task(str(tmp_path / "c"), "QNLI")
    assert "--data_dir: folder not found" in _error(
        classifier(tmp_path, "sst2", str(tmp_path / "nowhere"), tiny_checkpoint))
    assert "unknown task 'glue'" in _error(
        classifier(tmp_path, "glue", data_dir, tiny_checkpoint))
    assert "seq_length 128 exceeds the model's max_position_embeddings 64" in _error(
        classifier(tmp_path, "qnli", data_dir, tiny_checkpoint, "--set", "model.seq_length=128"))
    assert "unknown model 'bert_huge'" in _error(run_script(
        "run_classifier.py", "--task=qnli", f"--data_dir={data_dir}",
        f"--model_dir={tmp_path / 'run'}", "--set", "model.name=bert_huge"))
    assert "no such checkpoint directory" in _error(
        classifier(tmp_path, "qnli", data_dir, str(tmp_path / "missing_ckpt")))


def test_vocabulary_and_checkpoint_mismatches(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path), "WNLI")
    small = tmp_path / "small_vocab"
    shutil.copytree(tiny_checkpoint, small)
    config = json.loads((small / "config.json").read_text())
    config["vocab_size"] = 1000
    (small / "config.json").write_text(json.dumps(config))
    message = _error(classifier(tmp_path, "wnli", data_dir, str(small)))
    assert "embeddings.word_embeddings.weight" in message  # shapes disagree with config
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    assert "cannot read" in _error(classifier(tmp_path, "wnli", data_dir, str(corrupt)))
    # A checkpoint whose vocabulary is larger than its embedding table.
    mismatch = tmp_path / "mismatch"
    shutil.copytree(tiny_checkpoint, mismatch)
    from tfmodels.models import bert
    import tfmodels
    tfmodels.save_pretrained(bert.BertEncoder(bert.Config(
        vocab_size=1000, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
        max_position_embeddings=64)), str(mismatch))
    assert "has 30522 tokens but the model's vocab_size is 1000" in _error(
        classifier(tmp_path, "wnli", data_dir, str(mismatch)))
    assert not os.path.isdir(tmp_path / "run" / "checkpoints") or not os.listdir(
        tmp_path / "run" / "checkpoints")


def test_generic_tsv_task_with_column_flags(tmp_path, tiny_checkpoint):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for split in ("train", "dev"):
        rows = [f"{w} and more {w}\t{'x' if w == 'apple' else 'y'}\t{i}"
                for i, w in enumerate(rng.choice(["apple", "pear"], 12))]
        (data / f"{split}.tsv").write_text("body\ttopic\tid\n" + "\n".join(rows) + "\n")
    result = run_script("run_classifier.py", "--task=tsv", f"--data_dir={data}",
                        "--text_a_column=body", "--label_column=topic",
                        f"--init_from={tiny_checkpoint}", f"--model_dir={tmp_path / 'run'}", *FAST,
                        "--set", "adversarial.method=sift")  # DeBERTa's SiFT, by config
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sift_loss" in result.stdout
    with open(tmp_path / "run" / "hf_model" / "config.json") as f:
        assert json.load(f)["id2label"] == {"0": "x", "1": "y"}
