"""Every script's run, killed part-way and started again, ends where a straight run ends.

Each script's experiment runs three times in-process on tiny data: straight through;
killed (an exception out of its progress line, as a ``kill -9`` ends a process: nothing
more is saved) some steps after a checkpoint, in a later stage where the script has
stages; and started again in the killed run's folder. The restart must resume from
the last checkpoint (not replay the lost steps or restart a finished stage) and end on
the same weights as the straight run, in every checkpoint folder of the run (MT-DNN's
stage 2 per task, distillation's phases). Dropout, shuffling and masking are keyed by
the seed and the step, so the runs agree to float round-off. A real SIGKILL of a real
process is tested for run_pretraining.py (test_run_pretraining.py).
"""

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import experiment
from tests.glue_data import write_glue_task
from tests.scripts.test_run_distillation import FAST as DISTILL_FAST
from tests.scripts.test_run_distillation import setup  # noqa: F401  (a module fixture)
from tests.scripts.test_run_multitask import write_config as multitask_yaml
from tests.scripts.test_run_pretraining import make_records
from tests.scripts.test_run_squad import QUESTIONS
from tests.scripts.test_run_tagger import SENTENCES, write_split
from tests.tasks.test_seq2seq import LETTERS, TINY_TRANSFORMER
from tests.tasks.test_squad import write_squad
from tfmodels.training.driver import run_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = ["trainer.train_steps=8", "trainer.checkpoint_every=4", "trainer.log_every=1"]
FINE_TUNING = [*STEPS, "trainer.eval_every=1000", "data.train_batch_size=4"]


def classifier(tmp_path, ckpt):
    data = write_glue_task(str(tmp_path), "SST-2")
    sets = [f"task.data_dir={data}", "task.name=sst2", f"model.init_from={ckpt}"]
    return experiment(*sets, *FINE_TUNING, "model.seq_length=16")


def tagging(tmp_path, ckpt):
    (tmp_path / "conll").mkdir()
    for split in ("train", "valid", "test"):
        write_split(tmp_path / "conll" / f"{split}.txt", SENTENCES * 2)
    sets = [f"task.data_dir={tmp_path / 'conll'}", f"model.init_from={ckpt}"]
    return experiment(*sets, *FINE_TUNING, "model.seq_length=16", task_type="tagging")


def squad(tmp_path, ckpt):
    data = write_squad(tmp_path / "train.json", QUESTIONS, version="v2.0")
    sets = [f"task.train_file={data}", f"task.predict_file={data}", f"model.init_from={ckpt}"]
    squad_sets = ["task.doc_stride=8", "task.max_query_length=8", "model.seq_length=32"]
    return experiment(*sets, *squad_sets, *FINE_TUNING, task_type="squad")


def seq2seq(tmp_path, ckpt):
    (tmp_path / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + LETTERS) + "\n"
    )
    (tmp_path / "tiny.yaml").write_text(TINY_TRANSFORMER.replace("dropout: 0.0", "dropout: 0.1"))
    rng = random.Random(0)
    (tmp_path / "data").mkdir()
    for split in ("train", "dev", "test"):
        words = [[rng.choice(LETTERS) for _ in range(4)] for _ in range(40)]
        rows = [" ".join(w) + "\t" + " ".join(reversed(w)) for w in words]
        (tmp_path / "data" / f"{split}.tsv").write_text("source\ttarget\n" + "\n".join(rows))
    sets = [
        f"task.data_dir={tmp_path / 'data'}",
        f"model.name={tmp_path / 'tiny.yaml'}",
        f"model.vocab_file={tmp_path / 'vocab.txt'}",
        "model.seq_length=10",
        "task.kind=text2text",
        "task.target_length=8",
        "task.decoding=greedy",
        "task.eval_splits=[dev]",
        "task.max_eval_examples=8",
    ]
    return experiment(*sets, *FINE_TUNING, task_type="seq2seq")


def multitask(tmp_path, ckpt):
    glue = str(tmp_path / "glue")
    tasks = [("sst2", write_glue_task(glue, "SST-2")), ("stsb", write_glue_task(glue, "STS-B"))]
    config = multitask_yaml(tmp_path, ckpt, tasks)
    sets = [*FINE_TUNING, "model.seq_length=16", "task.finetune_steps=6"]
    return experiment(*sets, config=config)


def distillation(tmp_path, models):
    sets = [
        f"model.name={models['narrow']}",
        "task.method=tinybert",
        "task.name=sst2",
        f"task.data_dir={models['data']}",
        f"task.teacher={models['teacher']}",
        *DISTILL_FAST,
    ]
    return experiment(*sets, task_type="distillation")


def pretraining(tmp_path, ckpt):
    records = make_records(tmp_path, ckpt, "dynamic")
    sets = [
        f"task.input_files={records}/*.tfrecord",
        "task.dynamic_masking=true",
        f"model.vocab_file={ckpt}/vocab.txt",
        "model.name=" + os.path.join(ROOT, "tests", "fixtures", "bert_test_tiny.yaml"),
        "model.seq_length=32",
        "data.train_batch_size=4",
        "task.max_predictions_per_seq=5",
        *STEPS,
    ]
    return experiment(*sets, task_type="pretraining")


# script: (its config maker, the step at which the run is killed, which such line).
# Multi-stage runs are killed in their last stage (stage 1 / the first phase finished).
CASES = {
    "run_classifier.py": (classifier, 6, 1),
    "run_tagger.py": (tagging, 6, 1),
    "run_squad.py": (squad, 6, 1),
    "run_seq2seq.py": (seq2seq, 6, 1),
    "run_multitask.py (stage 2)": (multitask, 5, 3),  # stage 1, sst2, then stsb's step 5
    "run_distillation.py (phase 2)": (distillation, 6, 2),
    "run_pretraining.py": (pretraining, 6, 1),
}


class Killed(Exception):
    pass


def killed_at(step, occurrence):
    """A progress log that ends the run at the ``occurrence``-th line of ``step``."""
    seen = []

    def log(line):
        if line.startswith(f"step {step}/"):
            seen.append(line)
            if len(seen) == occurrence:
                raise Killed(line)

    return log


def final_weights(model_dir):
    """{checkpoint folder: {variable: value}} of the model in every checkpoints/ folder."""
    found = {}
    for folder, subfolders, _ in os.walk(model_dir):
        if os.path.basename(folder) == "checkpoints":
            reader = tf.train.load_checkpoint(folder)
            names = [n for n in reader.get_variable_to_shape_map() if n.startswith("model/")]
            found[os.path.relpath(folder, model_dir)] = {n: reader.get_tensor(n) for n in names}
    return found


@pytest.mark.slow
@pytest.mark.parametrize("script", list(CASES))
def test_a_killed_run_restarts_to_the_weights_of_a_straight_run(
    script, tmp_path, tiny_checkpoint, request
):
    make, step, occurrence = CASES[script]
    source = request.getfixturevalue("setup") if make is distillation else tiny_checkpoint
    cfg = make(tmp_path, source)
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    tf.random.set_seed(1234)  # whatever ran before in the process must not matter
    run_experiment(cfg, straight, log=lambda line: None)
    with pytest.raises(Killed):
        run_experiment(cfg, killed, log=killed_at(step, occurrence))
    lines = []
    run_experiment(cfg, killed, log=lines.append)
    resumed = [line for line in lines if line.startswith("resumed from")]
    assert any(f"at step {step - step % 4}" in line for line in resumed), lines[:20]

    expected, got = final_weights(straight), final_weights(killed)
    assert expected.keys() == got.keys() and expected
    for folder, weights in expected.items():
        assert weights.keys() == got[folder].keys() and weights
        for name, value in weights.items():
            np.testing.assert_allclose(
                got[folder][name], value, atol=1e-5, rtol=0, err_msg=f"{folder}: {name}"
            )


@pytest.mark.slow
def test_sigterm_to_the_script_saves_exits_0_and_the_next_start_resumes(tmp_path, tiny_checkpoint):
    """The real process: SIGTERM (a preempted VM) part-way through run_classifier.py."""
    data = write_glue_task(str(tmp_path), "SST-2")
    model_dir = tmp_path / "run"
    args = [
        os.path.join(ROOT, "run_classifier.py"),
        "--task=sst2",
        f"--data_dir={data}",
        f"--init_from={tiny_checkpoint}",
        f"--model_dir={model_dir}",
        *("--set", "trainer.train_steps=400", "--set", "trainer.checkpoint_every=1000"),
        *("--set", "trainer.log_every=1", "--set", "model.seq_length=16"),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stdout:  # the first progress line: training has begun
        if line.startswith("step "):
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    stopped = [line for line in err.splitlines() if line.startswith("stopped by SIGTERM at step")]
    assert stopped, err[-2000:]
    step = int(stopped[0].split()[5])
    assert 0 < step < 400
    saved = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    assert saved.endswith(f"-{step}")  # saved at the step it stopped on, not a periodic one

    resumed = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {step}" in resumed.stdout
    assert "step 400/400" in resumed.stdout
