"""run_squad.py end to end on the tiny BERT: official-format outputs; bad input exits 2."""

import json
import os

import tf_keras

import tfmodels
from tests.conftest import one_line_error, run_script
from tests.tasks.test_squad import CONTEXT, qa, write_squad
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import load_experiment

QUESTIONS = [
    qa("early", "Who opened it?", "Anna Smith"),
    qa("late", "When did it close?", "2011"),
    qa("none", "Who sold it?", impossible=True, plausible="Anna Smith"),
]
ARGS = [
    "--set",
    "model.seq_length=32",
    "--set",
    "trainer.train_steps=30",
    "--set",
    "trainer.checkpoint_every=30",
    "--set",
    "trainer.log_every=5",
    "--set",
    "optimizer.lr=1e-2",
    "--set",
    "schedule.warmup_steps=0",
    "--set",
    "data.train_batch_size=4",
    "--set",
    "data.eval_batch_size=8",
    "--set",
    "task.doc_stride=8",
    "--set",
    "task.max_query_length=8",
]


def test_trains_and_writes_official_format_predictions(tiny_checkpoint, tmp_path):
    """run_squad.py's body in-process, seeded (the script runs in the test below)."""
    data = write_squad(tmp_path / "train.json", QUESTIONS, version="v2.0")
    out = tmp_path / "run"
    tf_keras.utils.set_random_seed(0)  # the new span head and dropout
    cfg = load_experiment(
        None,
        [
            f"model.init_from={tiny_checkpoint}",
            f"task.train_file={data}",
            f"task.predict_file={data}",
            *ARGS[1::2],
        ],
        task_type="squad",
    )
    run_experiment(cfg, str(out))
    predictions = json.loads((out / "predictions.json").read_text())
    null_odds = json.loads((out / "null_odds.json").read_text())
    assert set(predictions) == set(null_odds) == {"early", "late", "none"}
    assert all(isinstance(v, str) for v in predictions.values())
    assert all(isinstance(v, float) for v in null_odds.values())
    for qid, text in predictions.items():  # an answer is a piece of the passage, or nothing
        assert text in CONTEXT
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["task"] == "squad2.0"
    # It learns: the span loss on these three questions falls clearly.
    losses = [h["loss"] for h in json.loads((out / "history.json").read_text()) if "loss" in h]
    assert losses[-1] < 0.5 * losses[0], losses
    results = metrics["eval"]
    for key in ("exact", "f1", "HasAns_exact", "NoAns_exact", "best_f1", "best_f1_thresh"):
        assert key in results
    assert results["f1"] == results["best_f1"]  # predictions use dev's best threshold
    assert not [f for f in os.listdir(out) if ".tmp" in f]
    model = tfmodels.from_pretrained(str(out / "hf_model"))
    assert model.architecture == "BertForQuestionAnswering"


def test_bad_answer_start_exits_2_with_one_line_and_writes_nothing(tiny_checkpoint, tmp_path):
    bad = qa("q9", "Who?", "Anna Smith")
    bad["answers"][0]["answer_start"] = 0
    data = write_squad(tmp_path / "bad.json", [bad])
    out = tmp_path / "run"
    result = run_script(
        "run_squad.py",
        f"--init_from={tiny_checkpoint}",
        f"--train_file={data}",
        f"--predict_file={data}",
        f"--model_dir={out}",
        *ARGS,
    )
    assert "bad.json: question q9" in one_line_error(result)
    assert not out.exists()
