"""Pre-training a model from TFRecords: what run_pretraining.py runs.

The objective (:mod:`tfmodels.pretraining.registry`) decides which pretrainer is
built, which features are read and the loss: ``objective.name``, else the model
family's default (BERT mlm_nsp, RoBERTa mlm, ALBERT mlm_sop, ELECTRA rtd).
"""
import inspect
import os

import tensorflow as tf

import tfmodels
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.convert.pretrained import read_json
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.pretraining import registry
from tfmodels.pretraining.records import check_manifests, pretraining_dataset, vocabulary_of
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.trainer import Trainer, write_json


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
    objective = objective or registry.objective_for(cfg.objective.name, model_family(cfg))
    source = _pretrained_source(cfg)
    if objective.build:
        return objective.hook("build")(cfg, init_checkpoint), source
    if ":" in objective.architecture:  # a pretrainer class outside the family tables
        from tfmodels.api import load_model_config

        config = (tfmodels.from_pretrained(source).config if source
                  else load_model_config(cfg.model.name))
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
        architecture = "masked_lm" if field == "objective.generator" else "pretraining"
        loaded = tfmodels.from_pretrained(name_or_dir, architecture=architecture)
        return loaded.config, loaded
    return load_model_config(name_or_dir), None


def build_electra_pretrainer(cfg, init_checkpoint=None):
    """ELECTRA's generator + discriminator (objective rtd)."""
    from tfmodels.pretraining.replaced_token_detection import ElectraPretrainer

    return build_generator_discriminator(cfg, init_checkpoint, ElectraPretrainer, "electra",
                                         "rtd (ELECTRA, Clark et al. 2020, 2)")


def build_generator_discriminator(cfg, init_checkpoint, pretrainer_class, family, objective):
    """A replaced-token-detection pretrainer: the discriminator is the model
    (``model.name`` or ``model.init_from``), the generator ``objective.generator``;
    ``pretrainer_class(generator_config, discriminator_config)`` joins them."""
    discriminator = _pretrained_source(cfg) or cfg.model.name
    if not discriminator:
        raise ConfigError("set model.name (a tfmodels/configs/models/ name) or model.init_from")
    if not cfg.objective.generator:
        raise ConfigError(f"objective.generator: objective {objective} needs the generator's "
                          "configuration (a tfmodels/configs/models/ name such as "
                          "electra_small_generator, a YAML path or a HF directory)")
    disc_config, disc_loaded = _config_and_weights(discriminator, "model")
    gen_config, gen_loaded = _config_and_weights(cfg.objective.generator, "objective.generator")
    for field, config in (("model", disc_config), ("objective.generator", gen_config)):
        if config.family != family:
            raise ConfigError(f"{field}: objective {objective} trains a {family} generator "
                              f"and discriminator, but "
                              f"{discriminator if field == 'model' else cfg.objective.generator} "
                              f"is a {config.family} model")
    model = pretrainer_class(gen_config, disc_config)
    # Weights of HF checkpoints: the same networks, so the same variable order. The
    # generator goes first, so the discriminator's embeddings win where they are shared.
    for target, loaded in ((model.generator, gen_loaded), (model.discriminator, disc_loaded)):
        if loaded is not None:
            if len(target.weights) != len(loaded.weights):
                raise ConfigError(f"objective {objective}: {loaded.architecture} weights do not "
                                  f"fit its {target.name}; start from configuration names")
            target.set_weights(loaded.get_weights())
    _restore(model, init_checkpoint)
    return model


def _masking(cfg, source, model_config):
    """``pretraining_dataset``'s ``dynamic`` argument (None: the records' static masks)."""
    if not cfg.data.dynamic_masking:
        return None
    if cfg.model.vocab_file:
        vocab_dir = os.path.dirname(os.path.abspath(cfg.model.vocab_file))
    else:
        vocab_dir = source
    if not vocab_dir:
        raise ConfigError("dynamic masking needs model.vocab_file (a vocab.txt, vocab.json or "
                          "spiece.model: the tokenizer of the records, for the mask token)")
    vocab = vocabulary_of(tfmodels.preprocessor_from_pretrained(vocab_dir, 3), vocab_dir)
    if len(vocab.tokens) > model_config.vocab_size:
        raise ConfigError(f"the vocabulary in {vocab_dir} has {len(vocab.tokens)} tokens but "
                          f"the model's vocab_size is {model_config.vocab_size}")
    return vocab.dynamic_masking(cfg.data.mask_rate)


def run(cfg, model_dir, strategy_name="default", tpu=None, precision="float32",
        jit_compile=False, init_checkpoint=None):
    if not model_dir:
        raise ConfigError("--model_dir is required")
    if not cfg.task.input_files:
        raise ConfigError("task.input_files: give the TFRecord files (create_pretraining_data.py)")
    if init_checkpoint and _is_pretrained_dir(init_checkpoint):
        cfg.model.init_from, init_checkpoint = init_checkpoint, None
    family = model_family(cfg)
    objective = registry.objective_for(cfg.objective.name, family)
    registry.check_family(objective, family)
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    with strategy.scope():
        model, source = build_pretrainer(cfg, init_checkpoint, objective)
    registry.check_model(objective, model, family)
    config = getattr(model, "config", None) or model.discriminator_config
    max_positions = getattr(config, "max_position_embeddings", None)  # None: relative only
    if max_positions and cfg.model.seq_length > max_positions:
        raise ConfigError(f"model.seq_length {cfg.model.seq_length} exceeds the model's "
                          f"max_position_embeddings {max_positions}")
    masked_lm = objective.masking != "none"
    dynamic = _masking(cfg, source, config) if masked_lm else None
    check_manifests(cfg.task.input_files, objective.name, dynamic is not None,
                    cfg.model.seq_length)
    extra = objective.extra_features and objective.hook("extra_features")(
        cfg.model.seq_length, cfg.data.max_predictions_per_seq)
    batch = cfg.data.train_batch_size
    dataset = pretraining_dataset(cfg.task.input_files, batch, cfg.model.seq_length,
                                  cfg.data.max_predictions_per_seq, dynamic,
                                  seed=cfg.trainer.seed, shuffle_buffer=cfg.data.shuffle_buffer,
                                  sentence_labels=objective.sentence_labels,
                                  extra_features=extra, masked_lm=masked_lm)
    steps = cfg.trainer.train_steps
    if not steps:
        raise ConfigError("trainer.train_steps is required for pre-training")
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    architecture = getattr(model, "architecture", None) or type(model).__name__
    print(f"pre-training {family} ({architecture}) with objective {objective.name} "
          f"({objective.paper}) for {steps} steps, batch {batch}, seq_length "
          f"{cfg.model.seq_length}, "
          f"{'dynamic' if dynamic else 'static' if masked_lm else 'no'} masking, "
          f"{strategy.num_replicas_in_sync} replica(s), {precision}")
    trainer = Trainer.from_experiment(cfg, strategy, model_dir, model, optimizer,
                                      objective.hook("loss"), steps, jit_compile=jit_compile,
                                      loss_scale=loss_scale)
    summary = trainer.train(dataset)
    if trainer.chief:
        for folder, attribute in objective.saves:
            part = getattr(model, attribute) if attribute else model
            if inspect.ismethod(part):  # e.g. GDES: the discriminator with E_G + E_Delta
                part = part()
            tfmodels.save_pretrained(part, os.path.join(model_dir, folder))
        plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                     title=f"pre-training ({objective.name})")
        write_json(os.path.join(model_dir, "metrics.json"), summary)
    return summary
