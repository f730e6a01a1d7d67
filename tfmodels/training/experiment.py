"""Experiment configuration: the YAML under configs/experiments/ as dataclasses.

Sections: ``task`` (what data), ``model`` (which network, from where), ``data``
(batching), ``optimizer``, ``schedule``, ``trainer``, ``report`` and, for
pre-training, ``objective``. Any key can be overridden
on the command line with ``--set section.key=value``.
"""
import dataclasses
import os
from typing import List, Optional

import yaml

from tfmodels import strict_config
from tfmodels.errors import ConfigError


@dataclasses.dataclass
class TaskSection:
    name: str = "tsv"              # a GLUE task (cola, sst2, ...), tsv, or pretraining
    data_dir: Optional[str] = None
    text_a_column: Optional[str] = None   # for name=tsv: header names (or 0-based indexes)
    text_b_column: Optional[str] = None
    label_column: Optional[str] = None
    labels: Optional[List[str]] = None    # for name=tsv: label set; default: seen in train
    input_files: Optional[str] = None     # for pretraining: TFRecord glob or text files
    build_data: Optional[str] = None      # "fortunes": build data_dir from Debian's fortunes
    fortunes_dir: Optional[str] = None    # build_data=fortunes: source folder; default Debian's


@dataclasses.dataclass
class ModelSection:
    name: Optional[str] = None        # a tfmodels/configs/models/ name: random initialization
    init_from: Optional[str] = None   # a HF directory, a Google checkpoint dir, or "minilm"
    seq_length: int = 128
    vocab_file: Optional[str] = None  # default: the vocab.txt beside init_from


@dataclasses.dataclass
class DataSection:
    train_batch_size: int = 32
    eval_batch_size: int = 64
    shuffle_buffer: int = 10000
    max_predictions_per_seq: int = 20   # pretraining: masked positions per sequence
    mask_rate: float = 0.15
    dynamic_masking: bool = True


@dataclasses.dataclass
class OptimizerSection:
    lr: float = 5e-5
    weight_decay: float = 0.01
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    clipnorm: Optional[float] = 1.0


@dataclasses.dataclass
class ScheduleSection:
    name: str = "linear"               # linear (BERT) or inverse_sqrt (Transformer, 5.3)
    warmup_fraction: float = 0.1       # of train steps, unless warmup_steps is set
    warmup_steps: Optional[int] = None
    end_lr_fraction: float = 0.0       # linear decay to lr * end_lr_fraction


@dataclasses.dataclass
class TrainerSection:
    train_steps: Optional[int] = None  # default: epochs over the training set
    epochs: float = 3.0
    accumulation_steps: int = 1
    checkpoint_every: int = 500
    eval_every: Optional[int] = None   # default: at checkpoints
    log_every: int = 10
    max_checkpoints: int = 3
    seed: int = 42


@dataclasses.dataclass
class ReportSection:
    baselines: bool = False            # majority-class and bag-of-words baselines
    saved_model: bool = False          # export a SavedModel (raw text in) after training
    sample_texts: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ObjectiveSection:
    """Pre-training only (tfmodels/pretraining/registry.py names the objectives)."""
    name: Optional[str] = None       # mlm_nsp, mlm, mlm_sop, rtd, ...; default: the family's
    generator: Optional[str] = None  # rtd: the generator: a named model, YAML or HF dir


@dataclasses.dataclass
class AdversarialSection:
    """Fine-tuning only: DeBERTa's scale-invariant adversarial training (training/sift.py)."""
    method: Optional[str] = None     # null or sift
    weight: float = 1.0              # of the symmetric-KL loss added to the task loss
    init_perturbation: float = 1e-2  # sigma of the initial noise on normalized embeddings
    step_size: float = 1e-4          # of the one gradient-ascent step on the noise


@dataclasses.dataclass
class ExperimentConfig:
    task: TaskSection = dataclasses.field(default_factory=TaskSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    data: DataSection = dataclasses.field(default_factory=DataSection)
    optimizer: OptimizerSection = dataclasses.field(default_factory=OptimizerSection)
    schedule: ScheduleSection = dataclasses.field(default_factory=ScheduleSection)
    trainer: TrainerSection = dataclasses.field(default_factory=TrainerSection)
    report: ReportSection = dataclasses.field(default_factory=ReportSection)
    objective: ObjectiveSection = dataclasses.field(default_factory=ObjectiveSection)
    adversarial: AdversarialSection = dataclasses.field(default_factory=AdversarialSection)

    def to_dict(self):
        return dataclasses.asdict(self)


def load_experiment(path=None, overrides=(), config_class=None):
    """Reads the YAML at ``path`` (or the defaults) and applies ``--set`` overrides.

    ``config_class``: an :class:`ExperimentConfig` subclass with more sections
    (distillation, multi-task); default :class:`ExperimentConfig`.
    """
    values, source = {}, "defaults"
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"--config: file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                values = yaml.safe_load(f) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: not valid YAML: {e}") from None
        source = path
    values = strict_config.apply_overrides(values, overrides)
    return strict_config.from_dict(config_class or ExperimentConfig, values, source)


def train_steps(cfg, examples):
    """``trainer.train_steps``, else ``trainer.epochs`` passes over ``examples`` training
    examples at the configured batch size and accumulation."""
    return cfg.trainer.train_steps or max(1, int(
        cfg.trainer.epochs * examples / (cfg.data.train_batch_size *
                                         cfg.trainer.accumulation_steps)))
