"""Fine-tuning and evaluating span question answering on SQuAD: what run_squad.py runs.

The ``task:`` section (``type: squad``) names the files and the windowing. Modes:
``train_and_eval`` (train, evaluate on ``predict_file`` at checkpoints keeping the best
F1, save the model in the HF layout), ``eval`` and ``predict``. Outputs under
``model_dir``: ``predictions.json`` ({qid: text}) and ``null_odds.json`` ({qid: null
score - best span score}) in the formats the official evaluation scripts read,
``metrics.json`` and ``eval_results.json``. All input is read and checked before
anything is written.
"""

import dataclasses
import json
import os
from typing import Optional

from tfmodels.errors import ConfigError
from tfmodels.strict_config import bounded
from tfmodels.tasks import batching, squad
from tfmodels.tasks.fine_tuning import FineTuningTask
from tfmodels.tasks.squad_metrics import squad_evaluate
from tfmodels.training.experiment import TaskConfig
from tfmodels.training.sift import with_sift
from tfmodels.training.trainer import write_json


@dataclasses.dataclass
class SquadConfig(TaskConfig):
    type: str = "squad"
    train_file: Optional[str] = None  # train-v1.1.json / train-v2.0.json
    predict_file: Optional[str] = None  # dev-v1.1.json / dev-v2.0.json (or questions to answer)
    version_2_with_negative: Optional[bool] = None  # None: from the files (version, is_impossible)
    doc_stride: int = bounded(128, "[1, inf)")
    max_query_length: int = bounded(64, "[1, inf)")
    n_best_size: int = bounded(20, "[1, inf)")
    max_answer_length: int = bounded(30, "[1, inf)")
    null_score_diff_threshold: Optional[float] = None  # None: best_f1_thresh tuned on dev


class SquadData:
    """One SQuAD file, read and checked (before a model is built), then windowed once
    (:meth:`featurize`, with the model's tokenizer)."""

    def __init__(self, path):
        self.path = path
        self.examples, self.version_2 = squad.read_squad(path)
        self.golds = squad.gold_answers(self.examples)
        self.labelled = any(e.answers or e.is_impossible for e in self.examples)
        self.features = None

    def featurize(self, preprocessor, cfg):
        s = cfg.task
        self.features = squad.convert_examples(
            self.examples, preprocessor, cfg.model.seq_length, s.doc_stride, s.max_query_length
        )
        return self

    def predict(self, model, cfg):
        """``(best span texts, null odds)`` for every question."""
        starts, ends = squad.predict_logits(model, self.features, cfg.data.eval_batch_size)
        return squad.decode(
            self.examples,
            self.features,
            starts,
            ends,
            cfg.task.n_best_size,
            cfg.task.max_answer_length,
        )


def evaluate(data, model, cfg, version_2):
    """``(metrics, predictions, null_odds)``; for v2.0 the threshold is
    ``task.null_score_diff_threshold``, or else dev's ``best_f1_thresh``."""
    answers, null_odds = data.predict(model, cfg)
    if not version_2:
        return squad_evaluate(data.golds, answers), answers, null_odds
    tuned = squad_evaluate(data.golds, answers, null_odds, answers)
    threshold = cfg.task.null_score_diff_threshold
    threshold = tuned["best_f1_thresh"] if threshold is None else threshold
    predictions = squad.apply_threshold(answers, null_odds, threshold)
    metrics = squad_evaluate(data.golds, predictions)
    if cfg.task.null_score_diff_threshold is None and metrics["f1"] < tuned["best_f1"]:
        # The official search reports 0.0 when answering nothing is best; do that.
        threshold = min(null_odds.values()) - 1.0
        predictions = squad.apply_threshold(answers, null_odds, threshold)
        metrics = squad_evaluate(data.golds, predictions)
    metrics.update(
        {k: v for k, v in tuned.items() if k.startswith("best_")},
        null_score_diff_threshold=threshold,
    )
    return metrics, predictions, null_odds


def _write_outputs(model_dir, predictions, null_odds):
    paths = [os.path.join(model_dir, "predictions.json"), os.path.join(model_dir, "null_odds.json")]
    write_json(paths[0], predictions)
    write_json(paths[1], null_odds)
    return paths


def _saved_threshold(model_dir):
    path = os.path.join(model_dir, "eval_results.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("null_score_diff_threshold", 0.0)
    return 0.0


class SquadTask(FineTuningTask):
    """The family's ``…ForQuestionAnswering`` on SQuAD v1.1 or v2.0 files."""

    Config = SquadConfig
    architecture = "question_answering"
    main_metric = "f1"

    @property
    def title(self):
        return f"squad{'2.0' if self.version_2 else '1.1'}"

    def prepare(self, mode):
        super().prepare(mode)
        s = self.section
        if not s.predict_file:
            raise ConfigError("task.predict_file (--predict_file) is required")
        if mode == "train_and_eval" and not s.train_file:
            raise ConfigError("task.train_file (--train_file) is required to train")
        # Both files read and checked before a model is built.
        self.dev = SquadData(s.predict_file)
        self.train_data = SquadData(s.train_file) if mode == "train_and_eval" else None
        self.version_2 = s.version_2_with_negative
        if self.version_2 is None:
            self.version_2 = self.dev.version_2 or bool(
                self.train_data and self.train_data.version_2
            )

    def build_model(self):
        model = super().build_model()
        # Windowed with the model's tokenizer, still before any write.
        for data in (self.dev, self.train_data):
            if data is not None:
                data.featurize(self.preprocessor, self.cfg)
        return model

    def train_dataset(self):
        features = self.train_data.features
        dataset = squad.make_dataset(
            features,
            self.cfg.data.train_batch_size,
            training=True,
            seed=self.cfg.trainer.seed,
            shuffle_buffer=self.cfg.data.shuffle_buffer,
        )
        return dataset, len(features)

    def describe(self, steps):
        return (
            f"fine-tuning on {len(self.train_data.examples)} questions "
            f"({len(self.train_data.features)} windows) of {self.section.train_file} for "
            f"{steps} steps, batch {self.cfg.data.train_batch_size}, "
            f"{batching.describe(self.cfg.model.seq_length)}, "
            f"SQuAD {'2.0' if self.version_2 else '1.1'}"
        )

    def loss(self):
        return with_sift(
            squad.outputs_loss, self.cfg.adversarial, keys=("start_logits", "end_logits")
        )

    def evaluate(self, model):
        return evaluate(self.dev, model, self.cfg, self.version_2)[0]

    def final_results(self, model):
        metrics, self.predictions, self.null_odds = evaluate(
            self.dev, model, self.cfg, self.version_2
        )
        return metrics

    def write_predictions(self, model_dir):
        return _write_outputs(model_dir, self.predictions, self.null_odds)

    def report_fields(self):
        if self.train_data is None:
            return {}
        return {
            "train_questions": len(self.train_data.examples),
            "train_windows": len(self.train_data.features),
        }

    def predict(self, model, model_dir):
        """Answers (v2.0: thresholded by the setting, else the last evaluation's)."""
        answers, null_odds = self.dev.predict(model, self.cfg)
        threshold = self.section.null_score_diff_threshold
        if self.version_2:
            threshold = _saved_threshold(model_dir) if threshold is None else threshold
            answers = squad.apply_threshold(answers, null_odds, threshold)
        return _write_outputs(model_dir, answers, null_odds)
