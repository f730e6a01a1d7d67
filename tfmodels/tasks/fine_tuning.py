"""The base of the fine-tuning tasks: a family's task model (``…ForSequenceClassification``,
``…ForQuestionAnswering``, ...) from a checkpoint or a named configuration, with the
tokenizer it was trained with, checked against each other."""

import os

import tensorflow as tf

import tfmodels
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import ConfigError
from tfmodels.training.task import Task

EVAL_SPLITS = ("dev", "test")


def check_data(data_dir, eval_splits=EVAL_SPLITS):
    """The data folder exists; the splits to score are dev and/or test."""
    unknown = [x for x in eval_splits if x not in EVAL_SPLITS]
    if unknown:
        raise ConfigError(f"task.eval_splits: {unknown[0]!r} is not dev or test")
    if not data_dir or not os.path.isdir(data_dir):
        raise ConfigError(f"--data_dir: folder not found: {data_dir}")


def build_model_and_preprocessor(cfg, architecture, **head_args):
    """The ``architecture`` task model of ``model.init_from`` (a checkpoint) or
    ``model.name`` (a configuration, plus a tfmodels checkpoint in ``model.init_from``),
    and the preprocessor of its vocabulary (or ``model.vocab_file``'s folder)."""
    m = cfg.model
    path = resolve_checkpoint(m.init_from) if m.init_from else None
    head_args = {k: v for k, v in head_args.items() if v}
    if path and not (os.path.isfile(os.path.join(path, "checkpoint")) and m.name):
        model = tfmodels.from_pretrained(path, architecture=architecture, **head_args)
    elif m.name:
        model = tfmodels.build(m.name, architecture=architecture, **head_args)
        if path:  # a tfmodels TF checkpoint of this configuration
            tf.train.Checkpoint(model=model).restore(
                tf.train.latest_checkpoint(path)
            ).expect_partial()
    else:
        raise ConfigError("set model.init_from (a checkpoint) or model.name (a configuration)")
    vocab_dir = os.path.dirname(m.vocab_file) if m.vocab_file else path
    if not vocab_dir:
        raise ConfigError("model.name without model.init_from needs model.vocab_file")
    preprocessor = tfmodels.preprocessor_from_pretrained(vocab_dir, seq_length=m.seq_length)
    check_fits(model.config, preprocessor, m.seq_length, vocab_dir)
    return model, preprocessor


def check_seq_length(config, seq_length, whose="the model's"):
    """The sequence length within the positions the model has (none: relative only)."""
    max_positions = getattr(config, "max_position_embeddings", None)
    if max_positions and seq_length > max_positions:
        raise ConfigError(
            f"model.seq_length {seq_length} exceeds {whose} max_position_embeddings {max_positions}"
        )


def check_fits(config, preprocessor, seq_length, vocab_dir, whose="the model's"):
    """The sequence length within the positions the model has, the vocabulary within
    its embeddings."""
    check_seq_length(config, seq_length, whose)
    if preprocessor.vocab_size > config.vocab_size:
        raise ConfigError(
            f"the vocabulary in {vocab_dir} has {preprocessor.vocab_size} tokens "
            f"but {whose} vocab_size is {config.vocab_size}: "
            "they do not belong together"
        )


class FineTuningTask(Task):
    """A task whose model is the family's ``architecture`` task model."""

    def head_args(self):
        """Keyword arguments of the task head (``num_labels``)."""
        return {}

    def build_model(self):
        model, self.preprocessor = build_model_and_preprocessor(
            self.cfg, self.architecture, **self.head_args()
        )
        return model

    def untrained_weights(self, model):
        if not self.cfg.model.init_from:
            return ["all (model.name without model.init_from is a random model)"]
        return list(getattr(model, "newly_initialized", []))
