"""Fine-tuning and evaluating an encoder-decoder on source -> target pairs: what
run_seq2seq.py runs (translation, summarization, T5 text-to-text).

The ``task:`` section (``type: seq2seq``) names the data, the kind and the decoding.
Modes: ``train_and_eval`` (train with teacher forcing, generate on dev at checkpoints
and keep the best checkpoint by the main metric, then score dev and test, write the
predictions, save the HF layout), ``eval`` and ``predict``. Outputs under
``model_dir``: ``eval_results.json``, ``metrics.json``, ``predictions/{split}.txt``
(one generated text a line, in input order), ``hf_model/`` and ``training_curves.png``.
"""

import dataclasses
import functools
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.generation import METHODS, generate
from tfmodels.pretraining.seq2seq import seq2seq_lm_loss
from tfmodels.strict_config import bounded, check_choice
from tfmodels.tasks import batching, glue, seq2seq
from tfmodels.tasks.fine_tuning import FineTuningTask, check_data
from tfmodels.tasks.metrics import classification_metrics
from tfmodels.training.experiment import TaskConfig

MAIN_METRIC = {"translation": "bleu", "summarization": "rougeL", "text2text": "exact_match"}


@dataclasses.dataclass
class Seq2SeqConfig(TaskConfig):
    """``data_dir`` holds train/dev/test as .tsv or .jsonl (or a GLUE task folder)."""

    type: str = "seq2seq"
    data_dir: Optional[str] = None
    kind: str = "translation"  # translation | summarization | text2text
    source_key: str = "source"  # JSON Lines field names
    target_key: str = "target"
    glue_task: Optional[str] = None  # text2text on a GLUE folder, with T5's prompts
    target_length: int = bounded(64, "[1, inf)")  # decoder length (also max new tokens)
    decoding: str = "beam"  # greedy | sample | beam
    num_beams: int = bounded(4, "[1, inf)")
    length_penalty: float = 1.0
    # The Transformer's 0.1 (Vaswani et al. 2017, 5.4).
    label_smoothing: float = bounded(0.0, "[0, 1)")
    eval_splits: List[str] = dataclasses.field(default_factory=lambda: ["dev", "test"])
    # Generate for the first N of each split.
    max_eval_examples: Optional[int] = bounded(None, "[1, inf)")


def read_split(s, split):
    """One split's pairs of the section ``s`` (GLUE splits rewritten into T5 prompts)."""
    data_dir = s.data_dir
    if s.glue_task:
        task = glue.get_task(s.glue_task, data_dir)
        file_name = task.train_file if split == "train" else task.dev_files[0][1]
        if split == "test":
            raise ConfigError("task.eval_splits: GLUE test files have no labels; use dev")
        examples = task.read(data_dir, file_name)
        return seq2seq.glue_pairs(s.glue_task, examples, os.path.join(data_dir, file_name))
    return seq2seq.read_pairs(seq2seq.find_split(data_dir, split), s.source_key, s.target_key)


def build_encoding(cfg, model, preprocessor):
    """The :class:`seq2seq.Encoding` of the model's tokenizer; for a model built from
    a configuration, its special ids must be the tokenizer's."""
    vocab_dir = os.path.dirname(cfg.model.vocab_file) if cfg.model.vocab_file else model.source_path
    target = tfmodels.preprocessor_from_pretrained(vocab_dir, cfg.task.target_length + 1)
    encoding = seq2seq.Encoding(preprocessor, target, model.decoder_start_id)
    config = model.config
    expected = {"pad_token_id": encoding.pad_id, "eos_token_id": encoding.eos_id}
    wrong = [
        f"{k} {getattr(config, k)} (tokenizer: {v})"
        for k, v in expected.items()
        if getattr(config, k, v) != v
    ]
    if wrong:
        raise ConfigError(
            f"the model's special ids do not match its tokenizer in {vocab_dir}: {', '.join(wrong)}"
        )
    return encoding


class Predictor:
    """Generates texts for sources with the section's decoding: sources sorted by length,
    in batches cut to their longest source (texts returned in the sources' order). The
    batches are padded to ``batch_size`` rows and the traced function relaxes to any
    source length, so it is traced at most twice."""

    def __init__(self, model, encoding, section, batch_size):
        self.encoding, self.batch_size = encoding, batch_size
        self.search = tf.function(
            functools.partial(
                generate,
                model,
                max_new_tokens=section.target_length,
                method=section.decoding,
                num_beams=section.num_beams,
                length_penalty=section.length_penalty,
                eos_id=encoding.eos_id,
                pad_id=encoding.pad_id,
            ),
            reduce_retracing=True,
        )

    def __call__(self, sources):
        order = batching.length_order(sources)
        features = self.encoding.source_features([sources[i] for i in order])
        outputs = []
        for start in range(0, len(sources), self.batch_size):
            batch = {k: v[start : start + self.batch_size] for k, v in features.items()}
            rows = len(batch["input_ids"])
            if rows < self.batch_size:  # pad with copies of the first row
                batch = {
                    k: np.concatenate([v, np.repeat(v[:1], self.batch_size - rows, 0)])
                    for k, v in batch.items()
                }
            batch = seq2seq.cut_source({k: tf.constant(v) for k, v in batch.items()})
            outputs.append(self.search(batch)[:rows])
        return self.encoding.decode(batching.in_order(np.concatenate(outputs), order))


def evaluate(s, predictor, splits):
    """Per split: ``{split}/bleu``, ROUGE or exact match, and the GLUE metric for GLUE
    (``s``: the task section); returns ``(metrics, generated texts per split)``."""
    results, predictions = {}, {}
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


class Seq2SeqTask(FineTuningTask):
    """The family's encoder-decoder LM (T5, BART, Transformer), scored on what it generates."""

    Config = Seq2SeqConfig
    architecture = "seq2seq_lm"

    @property
    def title(self):
        return self.section.glue_task or self.section.kind

    def prepare(self, mode):
        super().prepare(mode)
        s = self.section
        check_choice("task.kind", s.kind, seq2seq.KINDS, "kind")
        check_choice("task.decoding", s.decoding, METHODS, "method")
        if s.glue_task and s.glue_task not in seq2seq.GLUE_PROMPTS:
            raise ConfigError(
                f"task.glue_task: no text-to-text form for {s.glue_task!r}; "
                f"known: {', '.join(seq2seq.GLUE_PROMPTS)}"
            )
        check_data(s.data_dir, s.eval_splits)
        # Every file is read and checked before the model is built.
        self.train_pairs = read_split(s, "train") if mode == "train_and_eval" else None
        self.splits = {name: read_split(s, name) for name in s.eval_splits}
        self.dev = {k: v for k, v in self.splits.items() if k == "dev"}
        if self.dev:
            self.main_metric = "dev/score" if s.glue_task else f"dev/{MAIN_METRIC[s.kind]}"

    def build_model(self):
        model = super().build_model()
        if not getattr(model, "is_encoder_decoder", False):
            raise ConfigError(
                f"model: run_seq2seq.py needs an encoder-decoder (T5, BART, "
                f"Transformer); {model.config.family} is not one"
            )
        self.family = model.config.family
        self.encoding = build_encoding(self.cfg, model, self.preprocessor)
        self.predictor = Predictor(
            model, self.encoding, self.section, self.cfg.data.eval_batch_size
        )
        return model

    def train_dataset(self):
        self.features = self.encoding.features(self.train_pairs)
        dataset = seq2seq.make_dataset(
            self.features,
            self.cfg.data.train_batch_size,
            training=True,
            seed=self.cfg.trainer.seed,
            shuffle_buffer=self.cfg.data.shuffle_buffer,
        )
        return dataset, len(self.train_pairs)

    def describe(self, steps):
        s = self.section
        cut = int(np.sum(self.features["input_mask"][:, -1]))
        return (
            f"fine-tuning {self.family} on "
            f"{len(self.train_pairs)} {s.kind} pairs from {self.train_pairs.path} for "
            f"{steps} steps, "
            f"batch {self.cfg.data.train_batch_size}, source length "
            f"{self.cfg.model.seq_length} ({cut} sources fill it), target length "
            f"{s.target_length}, {s.decoding} decoding"
        )

    def loss(self):
        return functools.partial(seq2seq_lm_loss, label_smoothing=self.section.label_smoothing)

    def evaluate(self, model):
        return evaluate(self.section, self.predictor, self.dev)[0]

    def final_results(self, model):
        results, self.predictions = evaluate(self.section, self.predictor, self.splits)
        return results

    def write_predictions(self, model_dir):
        return write_predictions(self.predictions, os.path.join(model_dir, "predictions"))

    def predict(self, model, model_dir):
        self.final_results(model)
        return self.write_predictions(model_dir)

    def report_fields(self):
        return {"train_pairs": len(self.train_pairs)}
