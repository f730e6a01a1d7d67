"""Experiment configuration: the YAML under configs/experiments/ as dataclasses.

Shared sections: ``runtime`` (strategy, precision, XLA), ``model`` (which network,
from where), ``data`` (batching), ``optimizer``, ``schedule``, ``trainer`` and, for
fine-tuning, ``adversarial``. The ``task`` section is typed: ``task.type`` names the
Task (``tfmodels.training.task.TASK_TYPES``) and the section holds that task's fields
only (its ``Config``). Any key can be overridden on the command line with
``--set section.key=value``.
"""

import dataclasses
import os
from typing import Optional

import yaml

from tfmodels import strict_config
from tfmodels.errors import ConfigError
from tfmodels.strict_config import bounded
from tfmodels.text_files import read_text


@dataclasses.dataclass
class RuntimeSection:
    """Where and how the steps run (the scripts' --distribution_strategy, --tpu,
    --mixed_precision, --jit_compile and --deterministic flags set these)."""

    distribution_strategy: str = "default"  # default | one_device | mirrored | ... | tpu
    tpu: Optional[str] = None  # the TPU address, for distribution_strategy=tpu
    # auto (bfloat16 where the hardware computes in it) | float32 | mixed_bfloat16 | mixed_float16
    mixed_precision: str = "auto"
    jit_compile: bool = False  # the training step's math through XLA
    deterministic: bool = False  # TensorFlow's op determinism: bit-equal reruns, slower


@dataclasses.dataclass
class TaskConfig:
    """The ``task`` section's common part: ``type`` picks the Task and so the section's
    other fields (each Task's ``Config`` subclasses this)."""

    type: str = "classification"

    @classmethod
    def config_for(cls, values, source, key):
        """The section class of ``values["type"]`` (strict_config asks this)."""
        from tfmodels.training.task import task_class

        name = values.get("type", cls.type)
        if not isinstance(name, str):
            raise ConfigError(f"{source}: '{key}.type' must be str, got {name!r}")
        return task_class(name, f"{source}: {key}.type").Config


@dataclasses.dataclass
class ModelSection:
    name: Optional[str] = None  # a tfmodels/configs/models/ name: random initialization
    init_from: Optional[str] = None  # a HF directory, a Google checkpoint dir, or "minilm"
    seq_length: int = bounded(128, "[3, inf)")  # [CLS] + a token + [SEP] at least
    vocab_file: Optional[str] = None  # default: the vocab.txt beside init_from


@dataclasses.dataclass
class DataSection:
    train_batch_size: int = bounded(32, "[1, inf)")
    eval_batch_size: int = bounded(64, "[1, inf)")
    shuffle_buffer: int = bounded(10000, "[1, inf)")


@dataclasses.dataclass
class OptimizerSection:
    lr: float = bounded(5e-5, "[0, inf)")
    weight_decay: float = bounded(0.01, "[0, inf)")
    beta_1: float = bounded(0.9, "[0, 1)")
    beta_2: float = bounded(0.999, "[0, 1)")
    epsilon: float = bounded(1e-6, "(0, inf)")
    clipnorm: Optional[float] = bounded(1.0, "(0, inf)")  # null: no clipping


@dataclasses.dataclass
class ScheduleSection:
    name: str = "linear"  # linear (BERT) or inverse_sqrt (Transformer, 5.3)
    warmup_fraction: float = bounded(0.1, "[0, 1]")  # of train steps, unless warmup_steps is set
    warmup_steps: Optional[int] = bounded(None, "[0, inf)")
    end_lr_fraction: float = bounded(0.0, "[0, 1]")  # linear decay to lr * end_lr_fraction


@dataclasses.dataclass
class TrainerSection:
    train_steps: Optional[int] = bounded(None, "[1, inf)")  # default: epochs over the data
    epochs: float = bounded(3.0, "(0, inf)")
    accumulation_steps: int = bounded(1, "[1, inf)")
    checkpoint_every: int = bounded(500, "[1, inf)")
    eval_every: Optional[int] = bounded(None, "[1, inf)")  # default: at checkpoints
    log_every: int = bounded(10, "[1, inf)")
    # Steps per call of the training loop (one host sync per loop); loops also end at
    # every logging, checkpoint and evaluation step. Results do not depend on it.
    steps_per_loop: int = bounded(50, "[1, inf)")
    max_checkpoints: int = bounded(3, "[1, inf)")
    seed: int = bounded(42, "[0, 4294967295]")
    # Non-finite losses in a row (each skipped) that stop a run.
    max_nonfinite_steps: int = bounded(10, "[1, inf)")


@dataclasses.dataclass
class AdversarialSection:
    """Fine-tuning only: DeBERTa's scale-invariant adversarial training (training/sift.py)."""

    method: Optional[str] = None  # null or sift
    weight: float = bounded(1.0, "[0, inf)")  # of the symmetric-KL loss added to the task loss
    # Sigma of the initial noise on normalized embeddings.
    init_perturbation: float = bounded(1e-2, "[0, inf)")
    step_size: float = bounded(1e-4, "[0, inf)")  # of the one gradient-ascent step on the noise


@dataclasses.dataclass
class ExperimentConfig:
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    runtime: RuntimeSection = dataclasses.field(default_factory=RuntimeSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    data: DataSection = dataclasses.field(default_factory=DataSection)
    optimizer: OptimizerSection = dataclasses.field(default_factory=OptimizerSection)
    schedule: ScheduleSection = dataclasses.field(default_factory=ScheduleSection)
    trainer: TrainerSection = dataclasses.field(default_factory=TrainerSection)
    adversarial: AdversarialSection = dataclasses.field(default_factory=AdversarialSection)

    def to_dict(self):
        return dataclasses.asdict(self)


def load_experiment(path=None, overrides=(), task_type=None):
    """Reads the YAML at ``path`` (or the defaults) and applies ``--set`` overrides.

    ``task_type``: the task a script runs (a :data:`TASK_TYPES` name). A config without
    ``task.type`` gets it; one of another kind is refused, except kinds derived from it
    (the demo's ``fortunes_topics`` is a ``classification``).
    """
    values, source = {}, "defaults"
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"--config: file not found: {path}")
        try:
            values = yaml.safe_load(read_text(path, ConfigError)) or {}
        except yaml.YAMLError as e:
            raise ConfigError(strict_config.yaml_error(path, e)) from None
        if not isinstance(values, dict):
            raise ConfigError(
                f"{path}: an experiment config is a mapping of sections (task, model, "
                f"data, ...), got {type(values).__name__} {values!r:.60}"
            )
        source = path
    values = strict_config.apply_overrides(values, overrides)
    section = values.get("task")
    if section is None or isinstance(section, dict):  # else strict_config names the error
        section = values["task"] = dict(section or {})
        section.setdefault("type", task_type or TaskConfig.type)
        if not isinstance(section["type"], str):
            raise ConfigError(f"{source}: 'task.type' must be str, got {section['type']!r}")
        if task_type:
            _check_kind(section["type"], task_type, source)
    return strict_config.from_dict(ExperimentConfig, values, source)


def _check_kind(given, expected, source):
    from tfmodels.training.task import task_class

    if not issubclass(task_class(given, f"{source}: task.type"), task_class(expected)):
        raise ConfigError(
            f"{source}: task.type is {given!r}, but this script runs {expected!r} tasks"
        )


def train_steps(cfg, examples):
    """``trainer.train_steps``, else ``trainer.epochs`` passes over ``examples`` training
    examples at the configured batch size and accumulation."""
    return cfg.trainer.train_steps or max(
        1,
        int(
            cfg.trainer.epochs
            * examples
            / (cfg.data.train_batch_size * cfg.trainer.accumulation_steps)
        ),
    )
