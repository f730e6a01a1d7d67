"""run_classifier.py: GLUE folders and TSV end to end, learning, and its errors on bad input.

The experiment (``run_experiment``, the script's body) runs in-process; the script
itself runs twice as a subprocess: once with the precision/XLA/strategy flags, once for the
"one ``error:`` line, exit 2, no traceback" contract.
"""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import tf_keras

from tests.conftest import experiment, one_line_error, run_script
from tests.glue_data import ROWS, write_glue_task
from tfmodels.errors import TfmodelsError
from tfmodels.tasks.glue import GLUE_TASKS
from tfmodels.training.driver import run_experiment

EXPECTED_METRICS = {
    "cola": {"matthews_corr", "accuracy"},
    "stsb": {"pearson", "spearman"},
    "mrpc": {"f1", "accuracy"},
    "qqp": {"f1", "accuracy"},
}
FAST = [
    "trainer.train_steps=2",
    "trainer.checkpoint_every=2",
    "data.train_batch_size=4",
    "model.seq_length=32",
]


def classifier(tmp_path, task, data_dir, init_from, *sets, mode="train_and_eval"):
    """``run_classifier.py --task --data_dir --init_from --model_dir=tmp_path/run`` in-process."""
    cfg = experiment(
        f"task.name={task}",
        f"task.data_dir={data_dir}",
        f"model.init_from={init_from}",
        *FAST,
        *sets,
    )
    return run_experiment(cfg, str(tmp_path / "run"), mode)


# End to end for one task of each kind (every split of every task is read in
# tests/tasks/test_glue.py, every metric checked in tests/tasks/test_metrics.py):
# single sentence + MCC, regression, two dev splits + three labels, pairs + F1.
SCRIPT_TASKS = ["cola", "stsb", "mnli", "qqp"]


def test_script_tasks_cover_every_kind_of_task():
    kinds = {
        (
            GLUE_TASKS[n].is_regression,
            len(GLUE_TASKS[n].dev_files) > 1,
            GLUE_TASKS[n].columns.text_b is None,
        )
        for n in SCRIPT_TASKS
    }
    assert (True, False, False) in kinds and (False, True, False) in kinds
    assert (False, False, True) in kinds and set(SCRIPT_TASKS) <= set(GLUE_TASKS)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPT_TASKS)
def test_glue_task_trains_evaluates_and_predicts(name, tmp_path, tiny_checkpoint, capsys):
    task = GLUE_TASKS[name]
    data_dir = write_glue_task(str(tmp_path), task.folder)
    classifier(tmp_path, name, data_dir, tiny_checkpoint)
    assert "step 2/2" in capsys.readouterr().out
    with open(tmp_path / "run" / "eval_results.json") as f:
        results = json.load(f)
    for split, _ in task.dev_files:
        for metric in EXPECTED_METRICS.get(name, {"accuracy"}):
            value = results[f"{split}/{metric}"]
            assert -1.0 <= value <= 1.0
        if name not in EXPECTED_METRICS:  # accuracy on ROWS examples is a multiple of 1/ROWS
            assert results[f"{split}/accuracy"] * ROWS == pytest.approx(
                round(results[f"{split}/accuracy"] * ROWS)
            )
    # The periodic evaluation scores the main metric's split only; the others (MNLI's
    # mismatched dev, a labelled test split) once, on the chosen checkpoint.
    with open(tmp_path / "run" / "best" / "best.json") as f:
        periodic = json.load(f)["metrics"]
    assert {key.split("/")[0] for key in periodic} == {task.dev_files[0][0]}
    assert {key.split("/")[0] for key in results if "/" in key} == {s for s, _ in task.dev_files}
    assert os.path.isfile(tmp_path / "run" / "training_curves.png")

    classifier(tmp_path, name, data_dir, tiny_checkpoint, mode="predict")
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
    trained = classifier(tmp_path, "sst2", data_dir, tiny_checkpoint)["eval"]
    again = classifier(tmp_path, "sst2", data_dir, tiny_checkpoint, mode="eval")
    assert again["dev/accuracy"] == trained["dev/accuracy"]
    assert "best" in again["checkpoint"]
    with open(tmp_path / "run" / "eval_results.json") as f:
        assert json.load(f)["dev/accuracy"] == trained["dev/accuracy"]


def test_eval_and_predict_need_trained_weights(tmp_path, tiny_checkpoint):
    """A backbone checkpoint and an empty --model_dir would score a random head: refused.
    The run's own checkpoint, or a fine-tuned classifier as init_from, is accepted."""
    data_dir = write_glue_task(str(tmp_path), "SST-2")
    for mode in ("eval", "predict"):
        with pytest.raises(
            TfmodelsError,
            match=rf"--mode={mode}: .*run holds no checkpoint "
            r"of a run .*classifier",
        ):
            classifier(tmp_path, "sst2", data_dir, tiny_checkpoint, mode=mode)
    assert not os.path.exists(tmp_path / "run" / "eval_results.json")
    classifier(tmp_path, "sst2", data_dir, tiny_checkpoint)
    fine_tuned = tmp_path / "run" / "hf_model"  # a classifier, with its tokenizer files
    results = run_experiment(
        experiment(
            "task.name=sst2", f"task.data_dir={data_dir}", f"model.init_from={fine_tuned}", *FAST
        ),
        str(tmp_path / "fresh_dir"),
        "eval",
    )
    assert results["checkpoint"] == str(fine_tuned) and "dev/accuracy" in results


def write_topic_tsv(folder, rows=24, seed=0):
    """A TSV task separable by one word (apple -> x, pear -> y), header names its columns."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for split in ("train", "dev"):
        lines = [
            f"{w} and more {w}\t{'x' if w == 'apple' else 'y'}\t{i}"
            for i, w in enumerate(rng.choice(["apple", "pear"], rows))
        ]
        (folder / f"{split}.tsv").write_text("body\ttopic\tid\n" + "\n".join(lines) + "\n")
    return folder


def test_a_tiny_model_learns_a_separable_task(tmp_path, tiny_checkpoint):
    """Fine-tuning must learn, not only run: the tiny random BERT separates two topics by
    one word (dev accuracy 1.0 and a falling loss, seeded; chance is about 0.5)."""
    tf_keras.utils.set_random_seed(0)  # the new head and dropout
    data = write_topic_tsv(tmp_path / "data")
    report = classifier(
        tmp_path,
        "tsv",
        data,
        tiny_checkpoint,
        "task.text_a_column=body",
        "task.label_column=topic",
        "trainer.train_steps=100",
        "trainer.checkpoint_every=100",
        "trainer.log_every=20",
        "optimizer.lr=1e-2",
        "schedule.warmup_steps=0",
    )
    with open(tmp_path / "run" / "history.json") as f:
        losses = [h["loss"] for h in json.load(f) if "loss" in h]
    assert losses[-1] < 0.5 * losses[0], losses
    assert report["eval"]["dev/accuracy"] == 1.0, report["eval"]


def test_script_flags_precision_xla_strategy_and_columns(tmp_path, tiny_checkpoint):
    """The script's own flags reach the run: --task=tsv's column flags, bf16, XLA, the
    Mirrored strategy, and SiFT by --set (DeBERTa's adversarial fine-tuning)."""
    data = write_topic_tsv(tmp_path / "data", rows=12)
    result = run_script(
        "run_classifier.py",
        "--task=tsv",
        f"--data_dir={data}",
        "--text_a_column=body",
        "--label_column=topic",
        f"--init_from={tiny_checkpoint}",
        f"--model_dir={tmp_path / 'run'}",
        "--mixed_precision=mixed_bfloat16",
        "--jit_compile",
        "--distribution_strategy=mirrored",
        *[f"--set={s}" for s in FAST],
        "--set",
        "adversarial.method=sift",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sift_loss" in result.stdout and "mixed_bfloat16" in result.stdout
    assert "1 replica(s)" in result.stdout
    with open(tmp_path / "run" / "hf_model" / "config.json") as f:
        assert json.load(f)["id2label"] == {"0": "x", "1": "y"}


def test_the_script_reports_a_bad_row_in_one_line(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path), "RTE")
    with open(os.path.join(data_dir, "train.tsv"), "a") as f:
        f.write("8\ttoo few columns\n")
    result = run_script(
        "run_classifier.py",
        "--task=rte",
        f"--data_dir={data_dir}",
        f"--init_from={tiny_checkpoint}",
        f"--model_dir={tmp_path / 'run'}",
        *[f"--set={s}" for s in FAST],
    )
    assert "RTE/train.tsv:10: expected 4 columns" in one_line_error(result)


def _fails(match, *args, **kwargs):
    with pytest.raises(TfmodelsError, match=match):
        classifier(*args, **kwargs)


def test_bad_inputs_give_one_clear_message(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path / "b"), "QNLI")
    with open(os.path.join(data_dir, "train.tsv"), "a") as f:
        f.write("8\ta\tb\tcontradiction\n")
    _fails(
        "label 'contradiction' is not one of entailment, not_entailment",
        tmp_path,
        "qnli",
        data_dir,
        tiny_checkpoint,
    )

    data_dir = write_glue_task(str(tmp_path / "c"), "QNLI")
    _fails(
        "--data_dir: folder not found", tmp_path, "sst2", str(tmp_path / "nowhere"), tiny_checkpoint
    )
    _fails("unknown task 'glue'", tmp_path, "glue", data_dir, tiny_checkpoint)
    _fails(
        "seq_length 128 exceeds the model's max_position_embeddings 64",
        tmp_path,
        "qnli",
        data_dir,
        tiny_checkpoint,
        "model.seq_length=128",
    )
    with pytest.raises(TfmodelsError, match="unknown model 'bert_huge'"):
        run_experiment(
            experiment("task.name=qnli", f"task.data_dir={data_dir}", "model.name=bert_huge"),
            str(tmp_path / "run"),
        )
    _fails(
        "no such checkpoint directory", tmp_path, "qnli", data_dir, str(tmp_path / "missing_ckpt")
    )


def test_vocabulary_and_checkpoint_mismatches(tmp_path, tiny_checkpoint):
    data_dir = write_glue_task(str(tmp_path), "WNLI")
    small = tmp_path / "small_vocab"
    shutil.copytree(tiny_checkpoint, small)
    config = json.loads((small / "config.json").read_text())
    config["vocab_size"] = 1000
    (small / "config.json").write_text(json.dumps(config))
    _fails(
        "embeddings.word_embeddings.weight",  # shapes disagree with config
        tmp_path,
        "wnli",
        data_dir,
        str(small),
    )
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    _fails("cannot read", tmp_path, "wnli", data_dir, str(corrupt))
    # A checkpoint whose vocabulary is larger than its embedding table.
    mismatch = tmp_path / "mismatch"
    shutil.copytree(tiny_checkpoint, mismatch)
    import tfmodels
    from tfmodels.models import bert

    tfmodels.save_pretrained(
        bert.BertModel(
            bert.Config(
                vocab_size=1000,
                hidden_size=16,
                num_layers=1,
                num_heads=2,
                intermediate_size=32,
                max_position_embeddings=64,
            )
        ),
        str(mismatch),
    )
    _fails(
        "has 30522 tokens but the model's vocab_size is 1000",
        tmp_path,
        "wnli",
        data_dir,
        str(mismatch),
    )
    assert not os.path.isdir(tmp_path / "run" / "checkpoints") or not os.listdir(
        tmp_path / "run" / "checkpoints"
    )
