"""strict_config: value ranges declared beside the fields and checked when a config loads,
unknown keys listing the section's keys, and one-line messages for broken config files."""

import dataclasses
from typing import List, Optional

import pytest

from tfmodels import strict_config
from tfmodels.errors import ConfigError
from tfmodels.strict_config import Interval, bounded
from tfmodels.training.experiment import load_experiment

# (--set override, task type, the expected message); every one refused when the config loads.
OUT_OF_RANGE = [
    ("trainer.checkpoint_every=0", None, "'trainer.checkpoint_every' must be >= 1, got 0"),
    ("trainer.log_every=-5", None, "'trainer.log_every' must be >= 1, got -5"),
    ("trainer.eval_every=0", None, "'trainer.eval_every' must be >= 1, got 0"),
    ("trainer.train_steps=0", "pretraining", "'trainer.train_steps' must be >= 1, got 0"),
    ("trainer.accumulation_steps=0", None, "'trainer.accumulation_steps' must be >= 1, got 0"),
    ("trainer.max_checkpoints=0", None, "'trainer.max_checkpoints' must be >= 1, got 0"),
    ("trainer.epochs=0", None, "'trainer.epochs' must be > 0, got 0.0"),
    ("trainer.seed=-1", None, "'trainer.seed' must be in [0, 4294967295], got -1"),
    ("data.train_batch_size=0", None, "'data.train_batch_size' must be >= 1, got 0"),
    ("data.eval_batch_size=-8", None, "'data.eval_batch_size' must be >= 1, got -8"),
    ("model.seq_length=0", None, "'model.seq_length' must be >= 3, got 0"),
    ("optimizer.lr=-1e-5", None, "'optimizer.lr' must be >= 0, got -1e-05"),
    ("optimizer.beta_2=1.0", None, "'optimizer.beta_2' must be in [0, 1), got 1.0"),
    ("schedule.warmup_fraction=1.5", None, "'schedule.warmup_fraction' must be in [0, 1]"),
    ("optimizer.lr=.nan", None, "'optimizer.lr' must be >= 0, got nan"),
    ("task.mask_rate=0", "pretraining", "'task.mask_rate' must be in (0, 1), got 0.0"),
    ("task.mask_rate=1", "distillation", "'task.mask_rate' must be in (0, 1), got 1.0"),
    ("task.doc_stride=0", "squad", "'task.doc_stride' must be >= 1, got 0"),
    ("task.num_beams=0", "seq2seq", "'task.num_beams' must be >= 1, got 0"),
    ("task.label_smoothing=1", "seq2seq", "'task.label_smoothing' must be in [0, 1), got 1.0"),
    ("task.temperature=0", "multitask", "'task.temperature' must be in (0, inf], got 0.0"),
    ("task.layer_map=[1, 0]", "distillation", "'task.layer_map' must be >= 1, got 0"),
]


@pytest.mark.parametrize("override, task_type, message", OUT_OF_RANGE)
def test_values_out_of_range_are_refused_at_load(override, task_type, message):
    with pytest.raises(ConfigError) as caught:
        load_experiment(None, [override], task_type=task_type)
    assert str(caught.value).startswith("defaults: ") and message in str(caught.value)


def test_values_in_range_and_unset_optionals_load(tmp_path):
    cfg = load_experiment(
        None,
        [
            "trainer.train_steps=1",
            "trainer.eval_every=null",
            "optimizer.lr=0",
            "optimizer.clipnorm=null",
            "schedule.warmup_fraction=1",
            "task.temperature=.inf",
            "task.finetune_steps=0",
        ],
        task_type="multitask",
    )
    assert cfg.trainer.train_steps == 1 and cfg.task.temperature == float("inf")
    path = tmp_path / "exp.yaml"
    path.write_text("trainer:\n  log_every: 0\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml: 'trainer.log_every' must be >= 1, got 0"):
        load_experiment(str(path))


def test_dropout_fields_are_in_0_1_by_their_name():
    """The model families' configs declare no ranges; a field named *dropout is [0, 1)."""
    from tfmodels.models import bert, t5

    assert bert.Config.from_dict({"hidden_dropout": 0.0}).hidden_dropout == 0.0
    with pytest.raises(ConfigError, match="'hidden_dropout' must be in \\[0, 1\\), got 1.0"):
        bert.Config.from_dict({"hidden_dropout": 1.0})
    with pytest.raises(ConfigError, match="config.json: 'attention_dropout' must be in"):
        bert.Config.from_hf({"attention_probs_dropout_prob": -0.1}, "config.json")
    with pytest.raises(ConfigError, match="'dropout' must be in \\[0, 1\\)"):
        t5.Config.from_dict({"dropout": 1.5})


def test_interval_notation_and_lists():
    assert str(Interval("[1, inf)")) == ">= 1" and str(Interval("(0, inf)")) == "> 0"
    assert str(Interval("[0, 1)")) == "in [0, 1)"
    assert 0.5 in Interval("(0, 1)") and 1 not in Interval("(0, 1)")
    assert True not in Interval("[0, 1]") and float("nan") not in Interval("(-inf, inf)")
    with pytest.raises(ValueError, match="not an interval"):
        Interval("0..1")

    @dataclasses.dataclass
    class Section:
        layers: Optional[List[int]] = bounded(None, "[0, 3)")
        scale: float = bounded(1.0, "(0, inf)")

    assert strict_config.from_dict(Section, {"layers": [0, 2]}).layers == [0, 2]
    with pytest.raises(ConfigError, match=r"x: 'layers' must be in \[0, 3\), got 3"):
        strict_config.from_dict(Section, {"layers": [0, 3]}, "x")


def test_unknown_keys_list_the_sections_keys():
    with pytest.raises(ConfigError) as caught:
        load_experiment(None, ["data.seq_length=32"])
    assert str(caught.value) == (
        "defaults: unknown key 'data.seq_length'; known keys: data.eval_batch_size, "
        "data.shuffle_buffer, data.train_batch_size"
    )

    @dataclasses.dataclass
    class Empty:
        pass

    with pytest.raises(ConfigError, match="unknown key 'x.y'; known keys: \\(none: this section"):
        strict_config.from_dict(Empty, {"y": 1}, prefix="x.")
    with pytest.raises(ConfigError, match="unknown key 'trainer.1'; known keys: trainer.acc"):
        load_experiment(None, ["trainer={1: 2}"])  # a key that is not a string
    with pytest.raises(ConfigError, match="'task.type' must be str, got {'x': 1}"):
        load_experiment(None, ["task.type.x=1"])


def test_broken_config_files_are_one_line(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("trainer:\n  log_every: [1\n")
    with pytest.raises(ConfigError) as caught:
        load_experiment(str(path))
    assert "exp.yaml:3: not valid YAML: " in str(caught.value)
    assert "\n" not in str(caught.value)
    path.write_text("- a list\n- of things\n")
    with pytest.raises(ConfigError, match="exp.yaml: an experiment config is a mapping of"):
        load_experiment(str(path))
    path.write_bytes("# caf\xe9\ntrainer: {}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"exp\.yaml:1: not UTF-8 text"):
        load_experiment(str(path))
    path.write_bytes("\ufefftrainer:\r\n  log_every: 5\r\n".encode())
    assert load_experiment(str(path)).trainer.log_every == 5
    with pytest.raises(ConfigError) as caught:
        load_experiment(None, ["trainer.train_steps=[1"])
    assert str(caught.value).startswith("--set trainer.train_steps=[1: not valid YAML: ")
    assert "\n" not in str(caught.value)
