"""Fine-tuning and evaluating an encoder-decoder on source -> target pairs: what
run_seq2seq.py runs (translation, summarization, T5 text-to-text).

The experiment YAML has a ``seq2seq`` section beside the shared ones. Modes:
``train_and_eval`` (train with teacher forcing, generate on dev at checkpoints and
keep the best checkpoint by the main metric, then score dev and test, write the
predictions, save the HF layout), ``eval`` and ``predict``. Outputs under
``model_dir``: ``eval_results.json``, ``metrics.json``, ``predictions/{split}.txt``
(one generated text a line, in input order), ``hf_model/`` and ``training_curves.png``.
"""
import dataclasses
import functools
import json
import os
import time
from typing import List, Optional

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.generation import METHODS, generate
from tfmodels.pretraining.seq2seq import seq2seq_lm_loss
from tfmodels.tasks import glue, seq2seq
from tfmodels.tasks.classifier_experiment import (
    _copy_vocab,
    _restore_trained,
    build_model_and_preprocessor,
)
from tfmodels.tasks.metrics import classification_metrics
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.experiment import ExperimentConfig, load_experiment, train_steps
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.trainer import Trainer, write_json

MODES = ("train_and_eval", "eval", "predict")
ARCHITECTURE = "seq2seq_lm"
MAIN_METRIC = {"translation": "bleu", "summarization": "rougeL", "text2text": "exact_match"}


@dataclasses.dataclass
class Seq2SeqSection:
    kind: str = "translation"          # translation | summarization | text2text
    source_key: str = "source"         # JSON Lines field names
    target_key: str = "target"
    glue_task: Optional[str] = None    # text2text on a GLUE folder, with T5's prompts
    target_length: int = 64            # decoder length, in tokens (also max new tokens)
    decoding: str = "beam"             # greedy | sample | beam
    num_beams: int = 4
    length_penalty: float = 1.0
    label_smoothing: float = 0.0       # the Transformer's 0.1 (Vaswani et al. 2017, 5.4)
    eval_splits: List[str] = dataclasses.field(default_factory=lambda: ["dev", "test"])
    max_eval_examples: Optional[int] = None  # generate for the first N of each split


@dataclasses.dataclass
class Seq2SeqExperimentConfig(ExperimentConfig):
    """``task.data_dir`` holds train/dev/test as .tsv or .jsonl (or a GLUE task folder)."""

    seq2seq: Seq2SeqSection = dataclasses.field(default_factory=Seq2SeqSection)


def load_seq2seq_experiment(path=None, overrides=()):
    return load_experiment(path, overrides, config_class=Seq2SeqExperimentConfig)


def _check(cfg, model_dir, mode):
    s = cfg.seq2seq
    if mode not in MODES:
        raise ConfigError(f"--mode: unknown mode {mode!r}; known: {', '.join(MODES)}")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    if s.kind not in seq2seq.KINDS:
        raise ConfigError(f"seq2seq.kind: unknown kind {s.kind!r}; known: "
                          f"{', '.join(seq2seq.KINDS)}")
    if s.decoding not in METHODS:
        raise ConfigError(f"seq2seq.decoding: unknown method {s.decoding!r}; known: "
                          f"{', '.join(METHODS)}")
    if s.glue_task and s.glue_task not in seq2seq.GLUE_PROMPTS:
        raise ConfigError(f"seq2seq.glue_task: no text-to-text form for {s.glue_task!r}; "
                          f"known: {', '.join(seq2seq.GLUE_PROMPTS)}")
    unknown = [x for x in s.eval_splits if x not in ("dev", "test")]
    if unknown:
        raise ConfigError(f"seq2seq.eval_splits: {unknown[0]!r} is not dev or test")
    if not cfg.task.data_dir or not os.path.isdir(cfg.task.data_dir):
        raise ConfigError(f"--data_dir: folder not found: {cfg.task.data_dir}")


def read_split(cfg, split):
    """One split's pairs (GLUE splits rewritten into T5 prompts)."""
    s, data_dir = cfg.seq2seq, cfg.task.data_dir
    if s.glue_task:
        task = glue.get_task(s.glue_task, data_dir)
        file_name = task.train_file if split == "train" else task.dev_files[0][1]
        if split == "test":
            raise ConfigError("seq2seq.eval_splits: GLUE test files have no labels; use dev")
        examples = task.read(data_dir, file_name)
        return seq2seq.glue_pairs(s.glue_task, examples, os.path.join(data_dir, file_name))
    return seq2seq.read_pairs(seq2seq.find_split(data_dir, split), s.source_key, s.target_key)


def build_encoding(cfg, model, preprocessor):
    """The :class:`seq2seq.Encoding` of the model's tokenizer; for a model built from
    a configuration, its special ids must be the tokenizer's."""
    vocab_dir = (os.path.dirname(cfg.model.vocab_file) if cfg.model.vocab_file
                 else model.source_path)
    target = tfmodels.preprocessor_from_pretrained(vocab_dir, cfg.seq2seq.target_length + 1)
    encoding = seq2seq.Encoding(preprocessor, target, model.decoder_start_id)
    config = model.config
    expected = {"pad_token_id": encoding.pad_id, "eos_token_id": encoding.eos_id}
    wrong = [f"{k} {getattr(config, k)} (tokenizer: {v})" for k, v in expected.items()
             if getattr(config, k, v) != v]
    if wrong:
        raise ConfigError(f"the model's special ids do not match its tokenizer in {vocab_dir}: "
                          f"{', '.join(wrong)}")
    return encoding


class Predictor:
    """Generates texts for sources with the section's decoding, one traced function
    (batches are padded to ``batch_size`` so it is traced once)."""

    def __init__(self, model, encoding, section, batch_size):
        self.encoding, self.batch_size = encoding, batch_size
        self.search = tf.function(functools.partial(
            generate, model, max_new_tokens=section.target_length, method=section.decoding,
            num_beams=section.num_beams, length_penalty=section.length_penalty,
            eos_id=encoding.eos_id, pad_id=encoding.pad_id))

    def __call__(self, sources):
        features = self.encoding.source_features(sources)
        outputs = []
        for start in range(0, len(sources), self.batch_size):
            batch = {k: v[start:start + self.batch_size] for k, v in features.items()}
            rows = len(batch["input_ids"])
            if rows < self.batch_size:  # pad with copies of the first row
                batch = {k: np.concatenate([v, np.repeat(v[:1], self.batch_size - rows, 0)])
                         for k, v in batch.items()}
            outputs.append(self.search({k: tf.constant(v) for k, v in batch.items()})[:rows])
        return self.encoding.decode(np.concatenate(outputs))


def evaluate(cfg, predictor, splits):
    """Per split: ``{split}/bleu``, ROUGE or exact match, and the GLUE metric for GLUE."""
    s, results, predictions = cfg.seq2seq, {}, {}
    for name, pairs in splits.items():
        count = min(len(pairs), s.max_eval_examples or len(pairs))
        texts = predictor(pairs.sources[:count])
        predictions[name] = texts
        metrics = seq2seq.text_metrics(s.kind, texts, pairs.targets[:count])
        if s.glue_task:
            gold = [seq2seq.glue_label(s.glue_task, t) for t in pairs.targets[:count]]
            guess = [seq2seq.glue_label(s.glue_task, t) for t in texts]
            metrics["unparsed"] = int(sum(g == -1 or g != g for g in guess))
            guess = np.nan_to_num(np.asarray(guess, np.float64), nan=0.0)
            kind = glue.get_task(s.glue_task).metric
            metrics.update(classification_metrics(np.asarray(gold), guess, kind))
        results.update({f"{name}/{k}": v for k, v in metrics.items()})
    return results, predictions


def write_predictions(predictions, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, texts in predictions.items():
        path = os.path.join(out_dir, f"{name}.txt")
        with atomic_write(path) as f:
            f.writelines(" ".join(t.split()) + "\n" for t in texts)
        written.append(path)
    return written


def main_metric(cfg):
    s = cfg.seq2seq
    if s.glue_task:
        return "dev/score"
    return f"dev/{MAIN_METRIC[s.kind]}"


def run(cfg, model_dir, mode="train_and_eval", strategy_name="default", tpu=None,
        precision="float32", jit_compile=False):
    _check(cfg, model_dir, mode)
    s = cfg.seq2seq
    # Every file is read and checked before the model is built.
    train = read_split(cfg, "train") if mode == "train_and_eval" else None
    splits = {name: read_split(cfg, name) for name in s.eval_splits}
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    os.makedirs(model_dir, exist_ok=True)
    with strategy.scope():
        model, preprocessor = build_model_and_preprocessor(cfg, architecture=ARCHITECTURE)
    if not getattr(model, "is_encoder_decoder", False):
        raise ConfigError(f"model: run_seq2seq.py needs an encoder-decoder (T5, BART, "
                          f"Transformer); {model.config.family} is not one")
    encoding = build_encoding(cfg, model, preprocessor)
    predictor = Predictor(model, encoding, s, cfg.data.eval_batch_size)
    if mode in ("predict", "eval"):
        restored = _restore_trained(model, model_dir)
        results, predictions = evaluate(cfg, predictor, splits)
        for path in write_predictions(predictions, os.path.join(model_dir, "predictions")):
            print(f"wrote {path}")
        if mode == "predict":
            return {}
        results["checkpoint"] = restored or cfg.model.init_from
        write_json(os.path.join(model_dir, "eval_results.json"), results)
        print(json.dumps(results, indent=2))
        return results

    features = encoding.features(train)
    steps = train_steps(cfg, len(train))
    dataset = seq2seq.make_dataset(features, cfg.data.train_batch_size, training=True,
                                   seed=cfg.trainer.seed, shuffle_buffer=cfg.data.shuffle_buffer)
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    dev = {k: v for k, v in splits.items() if k == "dev"}
    metric = main_metric(cfg) if dev else None
    cut = int(np.sum(features["input_mask"][:, -1]))
    print(f"fine-tuning {model.config.family} on {len(train)} {s.kind} pairs from "
          f"{train.path} for {steps} steps, batch {cfg.data.train_batch_size}, source length "
          f"{cfg.model.seq_length} ({cut} sources fill it), target length {s.target_length}, "
          f"{s.decoding} decoding, {strategy.num_replicas_in_sync} replica(s), {precision}")
    loss = functools.partial(seq2seq_lm_loss, label_smoothing=s.label_smoothing)
    trainer = Trainer.from_experiment(
        cfg, strategy, model_dir, model, optimizer, loss, steps, jit_compile=jit_compile,
        loss_scale=loss_scale, main_metric=metric,
        evaluate=(lambda: evaluate(cfg, predictor, dev)[0]) if dev else None)
    started = time.time()
    summary = trainer.train(dataset)
    restored = _restore_trained(model, model_dir)
    results, predictions = evaluate(cfg, predictor, splits)
    results["checkpoint"] = restored
    report = {"task": s.glue_task or s.kind, "train_pairs": len(train), "eval": results,
              **summary}
    if not trainer.chief:
        return report
    write_json(os.path.join(model_dir, "eval_results.json"), results)
    report["predictions"] = write_predictions(predictions, os.path.join(model_dir, "predictions"))
    tfmodels.save_pretrained(model, os.path.join(model_dir, "hf_model"))
    _copy_vocab(preprocessor, os.path.join(model_dir, "hf_model"))
    plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                 title=f"seq2seq ({s.glue_task or s.kind})")
    report["wall_seconds"] = time.time() - started
    write_json(os.path.join(model_dir, "metrics.json"), report)
    print("\n== results ==")
    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key:28s} {value:.2f}")
    print(f"main metric {metric}; wall time {report['wall_seconds']:.0f}s")
    return report
