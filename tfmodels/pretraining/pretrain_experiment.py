"""Pre-training a model from TFRecords: what run_pretraining.py runs."""
import os

import tensorflow as tf

import tfmodels
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.pretraining.objectives import pretraining_loss
from tfmodels.pretraining.records import pretraining_dataset
from tfmodels.tokenizers import read_vocabulary
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.trainer import Trainer, write_json


def _is_pretrained_dir(path):
    return any(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "bert_config.json"))


def build_pretrainer(cfg, init_checkpoint=None):
    """The pre-training model: from a checkpoint directory, or a named config (+ TF checkpoint)."""
    source = cfg.model.init_from
    if source:
        path = resolve_checkpoint(source)
        if _is_pretrained_dir(path):
            return tfmodels.from_pretrained(path, architecture="pretraining"), path
    if not cfg.model.name:
        raise ConfigError("set model.name (a configs/models/ name) or model.init_from")
    model = tfmodels.build(cfg.model.name, architecture="pretraining")
    if init_checkpoint:
        latest = tf.train.latest_checkpoint(init_checkpoint) or init_checkpoint
        try:
            tf.train.Checkpoint(model=model).restore(latest).expect_partial()
        except (tf.errors.OpError, ValueError) as e:
            raise CheckpointError(f"--init_checkpoint={init_checkpoint}: {e}") from None
    return model, None


def run(cfg, model_dir, strategy_name="default", tpu=None, precision="float32",
        jit_compile=False, init_checkpoint=None):
    if not model_dir:
        raise ConfigError("--model_dir is required")
    if not cfg.task.input_files:
        raise ConfigError("task.input_files: give the TFRecord files (create_pretraining_data.py)")
    if init_checkpoint and _is_pretrained_dir(init_checkpoint):
        cfg.model.init_from, init_checkpoint = init_checkpoint, None
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    with strategy.scope():
        model, source = build_pretrainer(cfg, init_checkpoint)
    if cfg.model.seq_length > model.config.max_position_embeddings:
        raise ConfigError(f"model.seq_length {cfg.model.seq_length} exceeds the model's "
                          f"max_position_embeddings {model.config.max_position_embeddings}")
    dynamic = None
    if cfg.data.dynamic_masking:
        vocab_file = cfg.model.vocab_file or (os.path.join(source, "vocab.txt") if source else None)
        if not vocab_file:
            raise ConfigError("dynamic masking needs model.vocab_file (for the [MASK] id)")
        vocab = read_vocabulary(vocab_file)
        if len(vocab) > model.config.vocab_size:
            raise ConfigError(f"{vocab_file} has {len(vocab)} tokens but the model's vocab_size "
                              f"is {model.config.vocab_size}")
        dynamic = {"vocab_size": len(vocab), "mask_id": vocab.index("[MASK]"),
                   "special_ids": [vocab.index(t) for t in ("[CLS]", "[SEP]", "[PAD]")],
                   "mask_rate": cfg.data.mask_rate}
    batch = cfg.data.train_batch_size
    dataset = pretraining_dataset(cfg.task.input_files, batch, cfg.model.seq_length,
                                  cfg.data.max_predictions_per_seq, dynamic,
                                  seed=cfg.trainer.seed, shuffle_buffer=cfg.data.shuffle_buffer)
    steps = cfg.trainer.train_steps
    if not steps:
        raise ConfigError("trainer.train_steps is required for pre-training")
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    print(f"pre-training {model.config.family} ({model.architecture}) for {steps} steps, batch "
          f"{batch}, seq_length {cfg.model.seq_length}, "
          f"{'dynamic' if dynamic else 'static'} masking, "
          f"{strategy.num_replicas_in_sync} replica(s), {precision}")
    trainer = Trainer(strategy, model_dir, model, optimizer, pretraining_loss, steps,
                      accumulation_steps=cfg.trainer.accumulation_steps,
                      checkpoint_every=cfg.trainer.checkpoint_every,
                      max_checkpoints=cfg.trainer.max_checkpoints,
                      log_every=cfg.trainer.log_every, jit_compile=jit_compile,
                      loss_scale=loss_scale, global_batch_size=batch)
    summary = trainer.train(dataset)
    if trainer.chief:
        tfmodels.save_pretrained(model, os.path.join(model_dir, "hf_model"))
        plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                     title="pre-training")
        write_json(os.path.join(model_dir, "metrics.json"), summary)
    return summary
