"""Pre-training a model from TFRecords: what run_pretraining.py runs.

The objective (:mod:`tfmodels.pretraining.registry`) decides which pretrainer is
built, which features are read and the loss: ``task.objective``, else the model
family's default (BERT mlm_nsp, RoBERTa mlm, ALBERT mlm_sop, ELECTRA rtd).
"""

import dataclasses
import inspect
import os
from typing import Optional

import tensorflow as tf

import tfmodels
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.convert.pretrained import read_json
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.pretraining import registry
from tfmodels.pretraining.records import (
    check_features,
    check_manifests,
    check_records,
    pretraining_dataset,
    vocabulary_of,
)
from tfmodels.strict_config import bounded
from tfmodels.tasks.fine_tuning import check_seq_length
from tfmodels.training.experiment import TaskConfig
from tfmodels.training.task import Task


@dataclasses.dataclass
class PretrainingConfig(TaskConfig):
    type: str = "pretraining"
    input_files: Optional[str] = None  # TFRecord glob (create_pretraining_data.py)
    objective: Optional[str] = None  # mlm_nsp, mlm, mlm_sop, rtd, ...; default: the family's
    generator: Optional[str] = None  # rtd: the generator: a named model, YAML or HF dir
    init_checkpoint: Optional[str] = None  # initial weights: a tfmodels TF checkpoint (or HF dir)
    max_predictions_per_seq: int = bounded(20, "[1, inf)")  # masked positions per sequence
    mask_rate: float = bounded(0.15, "(0, 1)")
    dynamic_masking: bool = True


def _is_pretrained_dir(path):
    return any(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "bert_config.json"))


def _pretrained_source(cfg):
    """``model.init_from`` resolved, when it is a HF/Google checkpoint directory."""
    if not cfg.model.init_from:
        return None
    path = resolve_checkpoint(cfg.model.init_from)
    return path if _is_pretrained_dir(path) else None


def model_family(cfg):
    """The family of the configured model (its config.json or its tfmodels/configs/models/ file)."""
    source = _pretrained_source(cfg)
    if source:
        if not os.path.isfile(os.path.join(source, "config.json")):
            return "bert"  # a Google BERT checkpoint (bert_config.json)
        return read_json(os.path.join(source, "config.json")).get("model_type", "bert")
    if not cfg.model.name:
        raise ConfigError("set model.name (a tfmodels/configs/models/ name) or model.init_from")
    from tfmodels.api import load_model_config

    return load_model_config(cfg.model.name).family


def _restore(model, init_checkpoint):
    if init_checkpoint:
        latest = tf.train.latest_checkpoint(init_checkpoint) or init_checkpoint
        try:
            tf.train.Checkpoint(model=model).restore(latest).expect_partial()
        except (tf.errors.OpError, ValueError) as e:
            raise CheckpointError(f"--init_checkpoint={init_checkpoint}: {e}") from None


def build_pretrainer(cfg, init_checkpoint=None, objective=None):
    """The objective's pre-training model, from a checkpoint directory or a named config
    (+ TF checkpoint); returns (model, checkpoint directory or None)."""
    objective = objective or registry.objective_for(cfg.task.objective, model_family(cfg))
    source = _pretrained_source(cfg)
    if objective.build:
        return objective.hook("build")(cfg, init_checkpoint), source
    if ":" in objective.architecture:  # a pretrainer class outside the family tables
        from tfmodels.api import load_model_config

        config = (
            tfmodels.from_pretrained(source).config if source else load_model_config(cfg.model.name)
        )
        model = objective.hook("architecture")(config)
        _restore(model, init_checkpoint)
        return model, source
    if source:
        return tfmodels.from_pretrained(source, architecture=objective.architecture), source
    if not cfg.model.name:
        raise ConfigError("set model.name (a tfmodels/configs/models/ name) or model.init_from")
    model = tfmodels.build(cfg.model.name, architecture=objective.architecture)
    _restore(model, init_checkpoint)
    return model, None


def _config_and_weights(name_or_dir, field):
    """(Config, loaded model or None) of a tfmodels/configs/models/ name, YAML path or HF
    directory."""
    from tfmodels.api import load_model_config

    if os.path.isdir(name_or_dir) and _is_pretrained_dir(name_or_dir):
        architecture = "masked_lm" if field == "task.generator" else "pretraining"
        loaded = tfmodels.from_pretrained(name_or_dir, architecture=architecture)
        return loaded.config, loaded
    return load_model_config(name_or_dir), None


def build_electra_pretrainer(cfg, init_checkpoint=None):
    """ELECTRA's generator + discriminator (objective rtd)."""
    from tfmodels.pretraining.replaced_token_detection import ElectraPretrainer

    return build_generator_discriminator(
        cfg, init_checkpoint, ElectraPretrainer, "electra", "rtd (ELECTRA, Clark et al. 2020, 2)"
    )


def build_generator_discriminator(cfg, init_checkpoint, pretrainer_class, family, objective):
    """A replaced-token-detection pretrainer: the discriminator is the model
    (``model.name`` or ``model.init_from``), the generator ``task.generator``;
    ``pretrainer_class(generator_config, discriminator_config)`` joins them."""
    discriminator = _pretrained_source(cfg) or cfg.model.name
    if not discriminator:
        raise ConfigError("set model.name (a tfmodels/configs/models/ name) or model.init_from")
    if not cfg.task.generator:
        raise ConfigError(
            f"task.generator: objective {objective} needs the generator's "
            "configuration (a tfmodels/configs/models/ name such as "
            "electra_small_generator, a YAML path or a HF directory)"
        )
    disc_config, disc_loaded = _config_and_weights(discriminator, "model")
    gen_config, gen_loaded = _config_and_weights(cfg.task.generator, "task.generator")
    for field, config in (("model", disc_config), ("task.generator", gen_config)):
        if config.family != family:
            raise ConfigError(
                f"{field}: objective {objective} trains a {family} generator "
                f"and discriminator, but "
                f"{discriminator if field == 'model' else cfg.task.generator} "
                f"is a {config.family} model"
            )
    model = pretrainer_class(gen_config, disc_config)
    # Weights of HF checkpoints: the same networks, so the same variable order. The
    # generator goes first, so the discriminator's embeddings win where they are shared.
    for target, loaded in ((model.generator, gen_loaded), (model.discriminator, disc_loaded)):
        if loaded is not None:
            if len(target.weights) != len(loaded.weights):
                raise ConfigError(
                    f"objective {objective}: {loaded.architecture} weights do not "
                    f"fit its {target.name}; start from configuration names"
                )
            target.set_weights(loaded.get_weights())
    _restore(model, init_checkpoint)
    return model


def _masking(cfg, source, model_config):
    """``pretraining_dataset``'s ``dynamic`` argument (None: the records' static masks)."""
    if not cfg.task.dynamic_masking:
        return None
    if cfg.model.vocab_file:
        vocab_dir = os.path.dirname(os.path.abspath(cfg.model.vocab_file))
    else:
        vocab_dir = source
    if not vocab_dir:
        raise ConfigError(
            "dynamic masking needs model.vocab_file (a vocab.txt, vocab.json or "
            "spiece.model: the tokenizer of the records, for the mask token)"
        )
    vocab = vocabulary_of(tfmodels.preprocessor_from_pretrained(vocab_dir, 3), vocab_dir)
    if len(vocab.tokens) > model_config.vocab_size:
        raise ConfigError(
            f"the vocabulary in {vocab_dir} has {len(vocab.tokens)} tokens but "
            f"the model's vocab_size is {model_config.vocab_size}"
        )
    return vocab.dynamic_masking(cfg.task.mask_rate)


class PretrainingTask(Task):
    """A family's pretrainer on TFRecords, with the objective's inputs and loss."""

    Config = PretrainingConfig
    modes = ("train",)

    @property
    def title(self):
        return f"pre-training ({self.objective.name})"

    def prepare(self, mode):
        super().prepare(mode)
        cfg, s = self.cfg, self.section
        if not s.input_files:
            raise ConfigError(
                "task.input_files: give the TFRecord files (create_pretraining_data.py)"
            )
        if not cfg.trainer.train_steps:
            raise ConfigError("trainer.train_steps is required for pre-training")
        if s.init_checkpoint and _is_pretrained_dir(s.init_checkpoint):
            cfg.model.init_from, s.init_checkpoint = s.init_checkpoint, None
        self.family = model_family(cfg)
        self.objective = registry.objective_for(s.objective, self.family)
        registry.check_family(self.objective, self.family)
        self.files = check_records(s.input_files)  # the data, before a model is built

    def build_model(self):
        cfg, objective = self.cfg, self.objective
        model, self.source = build_pretrainer(cfg, self.section.init_checkpoint, objective)
        registry.check_model(objective, model, self.family)
        config = getattr(model, "config", None) or model.discriminator_config
        check_seq_length(config, cfg.model.seq_length)
        self.masked_lm = objective.masking != "none"
        self.dynamic = _masking(cfg, self.source, config) if self.masked_lm else None
        s = self.section
        dynamic, seq_length = self.dynamic is not None, cfg.model.seq_length
        check_manifests(s.input_files, objective.name, dynamic, seq_length)
        check_features(
            self.files,
            seq_length,
            s.max_predictions_per_seq,
            not dynamic,
            objective.sentence_labels,
            self.extra_features(),
            self.masked_lm,
            f"objective {objective.name} at model.seq_length {seq_length}",
        )
        self.architecture = getattr(model, "architecture", None) or type(model).__name__
        return model

    def extra_features(self):
        """The objective's features beyond BERT's layout (None: none)."""
        objective = self.objective
        return objective.extra_features and objective.hook("extra_features")(
            self.cfg.model.seq_length, self.section.max_predictions_per_seq
        )

    def train_dataset(self):
        cfg, s, objective = self.cfg, self.section, self.objective
        extra = self.extra_features()
        dataset = pretraining_dataset(
            s.input_files,
            cfg.data.train_batch_size,
            cfg.model.seq_length,
            s.max_predictions_per_seq,
            self.dynamic,
            seed=cfg.trainer.seed,
            shuffle_buffer=cfg.data.shuffle_buffer,
            sentence_labels=objective.sentence_labels,
            extra_features=extra,
            masked_lm=self.masked_lm,
        )
        return dataset, None

    def describe(self, steps):
        masking = "dynamic" if self.dynamic else "static" if self.masked_lm else "no"
        return (
            f"pre-training {self.family} ({self.architecture}) with objective "
            f"{self.objective.name} ({self.objective.paper}) for {steps} steps, batch "
            f"{self.cfg.data.train_batch_size}, seq_length {self.cfg.model.seq_length}, "
            f"{masking} masking"
        )

    def loss(self):
        return self.objective.hook("loss")

    def save(self, model, model_dir):
        """The objective's parts: hf_model/ (the model to fine-tune), hf_generator/, ..."""
        for folder, attribute in self.objective.saves:
            part = getattr(model, attribute) if attribute else model
            if inspect.ismethod(part):  # e.g. GDES: the discriminator with E_G + E_Delta
                part = part()
            tfmodels.save_pretrained(part, os.path.join(model_dir, folder))
