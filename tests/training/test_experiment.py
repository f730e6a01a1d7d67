"""Experiment YAML, --set overrides and their errors; the optimizer and schedule."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.training.experiment import load_experiment
from tfmodels.training.optimization import WarmupLinearDecay, create_optimizer

# The task type each training script runs (tfmodels/cli/*.py: common.run_task's first argument).
SCRIPT_TASKS = {
    "run_classifier": "classification",
    "run_squad": "squad",
    "run_tagger": "tagging",
    "run_seq2seq": "seq2seq",
    "run_multitask": "multitask",
    "run_pretraining": "pretraining",
    "run_distillation": "distillation",
}


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("task:\n  name: mrpc\noptimizer:\n  lr: 3.0e-5\n")
    cfg = load_experiment(
        str(path),
        [
            "trainer.train_steps=1000",
            "optimizer.lr=2e-5",
            "task.labels=[a, b]",
            "runtime.jit_compile=true",
        ],
    )
    assert cfg.task.type == "classification" and cfg.task.name == "mrpc"
    assert cfg.trainer.train_steps == 1000
    assert cfg.optimizer.lr == pytest.approx(2e-5)
    assert cfg.task.labels == ["a", "b"] and cfg.runtime.jit_compile is True


def test_the_task_section_has_its_types_fields_only(tmp_path):
    """``task.type`` picks the section's class; another task's key is unknown there, and
    a script refuses a config of another kind (but takes kinds derived from its own)."""
    cfg = load_experiment(None, ["task.train_file=t.json", "task.doc_stride=64"], task_type="squad")
    assert type(cfg.task).__name__ == "SquadConfig" and cfg.task.doc_stride == 64
    with pytest.raises(
        ConfigError,
        match="unknown key 'task.doc_stride'; known keys: task.data_dir, task.label_column",
    ):
        load_experiment(None, ["task.doc_stride=64"])
    with pytest.raises(
        ConfigError,
        match="task.type: unknown task 'sqad'; known: classification, fortunes_topics, squad",
    ):
        load_experiment(None, ["task.type=sqad"])
    path = tmp_path / "exp.yaml"
    path.write_text("task:\n  type: tagging\n")
    with pytest.raises(
        ConfigError, match="exp.yaml: task.type is 'tagging', but this script runs 'squad' tasks"
    ):
        load_experiment(str(path), task_type="squad")
    demo = load_experiment(
        "configs/experiments/demo_minilm_fortunes.yaml", task_type="classification"
    )
    assert demo.task.type == "fortunes_topics" and demo.task.baselines


def test_unknown_key_and_wrong_type_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'trainer.train_stepz'"):
        load_experiment(None, ["trainer.train_stepz=3"])
    with pytest.raises(ConfigError, match="'trainer.train_steps' must be int, got 'many'"):
        load_experiment(None, ["trainer.train_steps=many"])
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_experiment(None, ["trainer.train_steps"])


def test_every_shipped_experiment_config_loads_as_its_scripts_task():
    """Each YAML names its task type, and the script its docstring example runs takes it."""
    import glob
    import re

    files = glob.glob("configs/experiments/*.yaml")
    assert len(files) == 20
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        cfg = load_experiment(path)
        assert re.search(r"^  type: \w+", text, re.M), path  # stated, not defaulted
        for script in re.findall(r"python (run_\w+)\.py --config=", text):
            load_experiment(path, task_type=SCRIPT_TASKS[script])
        assert cfg.task.type


def test_every_config_the_docs_name_exists():
    """The examples in the scripts' --help texts, the README and the configs' comments."""
    import glob
    import re

    texts = (
        glob.glob("tfmodels/cli/*.py")
        + glob.glob("configs/experiments/*.yaml")
        + ["README.md", "Makefile"]
    )
    named = set()
    for path in texts:
        with open(path, encoding="utf-8") as f:
            named |= set(re.findall(r"configs/experiments/[\w.]+\.yaml", f.read()))
    assert len(named) >= 10
    assert [n for n in sorted(named) if not os.path.isfile(n)] == []


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)


def test_no_weight_decay_on_layer_norm_and_bias():
    cfg = load_experiment(
        None,
        [
            "optimizer.weight_decay=0.5",
            "optimizer.lr=0.1",
            "schedule.warmup_steps=0",
            "optimizer.clipnorm=null",
        ],
    )
    optimizer = create_optimizer(cfg.optimizer, cfg.schedule, total_steps=10)
    kernel = tf.Variable(tf.ones([2]), name="dense/kernel")
    bias = tf.Variable(tf.ones([2]), name="dense/bias")
    gamma = tf.Variable(tf.ones([2]), name="layer_norm/gamma")
    optimizer.apply_gradients([(tf.zeros([2]), v) for v in (kernel, bias, gamma)])
    assert float(kernel[0]) < 1.0  # decayed
    assert float(bias[0]) == 1.0 and float(gamma[0]) == 1.0
