"""run_multitask.py end to end on tiny GLUE folders: stage 1, stage 2, saved models."""

import json
import os

import numpy as np
import pytest
import tf_keras

import tfmodels
from tests.conftest import experiment, one_line_error, run_script
from tests.glue_data import write_glue_task
from tfmodels.errors import TfmodelsError
from tfmodels.training.driver import run_experiment

FAST = [
    "--set",
    "data.train_batch_size=4",
    "--set",
    "data.eval_batch_size=16",
    "--set",
    "model.seq_length=16",
    "--set",
    "trainer.checkpoint_every=50",
    "--set",
    "trainer.eval_every=1000",
    "--set",
    "trainer.log_every=5",
]


def write_config(tmp_path, init_from, tasks):
    lines = ["model:", f"  init_from: {init_from}", "task:", "  type: multitask", "  tasks:"]
    lines += [f"    - {{name: {name}, data_dir: {data_dir}}}" for name, data_dir in tasks]
    path = tmp_path / "mtdnn.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.slow
def test_multitask_trains_finetunes_and_saves(tmp_path, tiny_checkpoint, capsys):
    """run_multitask.py's body in-process, seeded (the script runs in the test below)."""
    glue = str(tmp_path / "glue")
    qnli = write_glue_task(glue, "QNLI")
    with open(os.path.join(qnli, "train.tsv"), "a") as f:  # a question with two candidates
        f.write("8\tthe u number 1 is good today\tan unrelated sentence\tnot_entailment\n")
    tasks = [
        ("cola", write_glue_task(glue, "CoLA")),
        ("stsb", write_glue_task(glue, "STS-B")),
        ("qnli", qnli),
    ]
    config = write_config(tmp_path, tiny_checkpoint, tasks)
    run = tmp_path / "run"
    # One run: stage 1, then stage 2 per task (resuming is the Trainer's, tested elsewhere).
    tf_keras.utils.set_random_seed(0)  # the new heads and dropout
    cfg = experiment(
        *FAST[1::2],
        "trainer.train_steps=150",
        "optimizer.lr=1e-2",
        "schedule.warmup_steps=0",
        "task.finetune_steps=2",
        config=config,
    )
    run_experiment(cfg, str(run))
    assert "step 150/150" in capsys.readouterr().out
    with open(run / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["steps"] == 150
    stage1 = {
        t: {k[len(t) + 1 :]: v for k, v in metrics["eval"].items() if k.startswith(t + "/")}
        for t in ("cola", "stsb", "qnli")
    }
    # The shared stage learns: STS-B's toy score follows the number in its sentences
    # (Spearman 0.83 with this seed; an untrained head scatters around 0).
    assert stage1["stsb"]["dev/spearman"] >= 0.5, metrics["eval"]
    expected = {
        "cola": {"dev/matthews_corr", "dev/accuracy"},
        "stsb": {"dev/pearson", "dev/spearman"},
        "qnli": {"dev/accuracy"},
    }
    assert metrics["tasks"]["qnli"]["head"] == "ranking"
    assert metrics["tasks"]["stsb"]["head"] == "regression"
    for stage in (stage1, {t: r["eval"] for t, r in metrics["finetune"].items()}):
        assert set(stage) == set(expected)
        for task, keys in expected.items():
            assert keys <= set(stage[task])
            assert all(-1.0 <= stage[task][k] <= 1.0 for k in keys)
    scores = [np.mean([v for k, v in stage1[t].items() if k.endswith("/score")]) for t in expected]
    assert metrics["eval"]["average_score"] == np.mean(scores)
    # Each task's encoder + head is a normal classifier directory.
    for task, labels in (("cola", 2), ("stsb", 1), ("qnli", 2)):
        for folder in (run / "hf_model" / task, run / "finetune" / task / "hf_model"):
            model = tfmodels.from_pretrained(str(folder))
            assert model.architecture == "BertForSequenceClassification"
            assert model.head_args["num_labels"] == labels
            assert os.path.isfile(folder / "vocab.txt")
    assert tfmodels.from_pretrained(str(run / "hf_model" / "encoder")).architecture == "BertModel"
    assert os.path.isfile(run / "training_curves.png")


def test_bad_tasks_give_one_line_and_exit_2(tmp_path, tiny_checkpoint):
    sst2 = write_glue_task(str(tmp_path / "glue"), "SST-2")
    config = write_config(tmp_path, tiny_checkpoint, [("sst2", sst2), ("glue", sst2)])
    assert "unknown task 'glue'" in one_line_error(
        run_script("run_multitask.py", f"--config={config}", f"--model_dir={tmp_path / 'run'}")
    )
    config = write_config(tmp_path, tiny_checkpoint, [("sst2", str(tmp_path / "nowhere"))])
    with pytest.raises(TfmodelsError, match=r"task.tasks\[0\].data_dir: folder not found"):
        run_experiment(experiment(config=config), str(tmp_path / "run"))
    assert not os.path.isdir(tmp_path / "run")
