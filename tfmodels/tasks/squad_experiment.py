"""Fine-tuning and evaluating span question answering on SQuAD: what run_squad.py runs.

The experiment YAML has the usual sections plus ``squad``. Modes: ``train_and_eval``
(train, evaluate on ``predict_file`` at checkpoints keeping the best F1, save the
model in the HF layout), ``eval`` and ``predict``. Outputs under ``model_dir``:
``predictions.json`` ({qid: text}) and ``null_odds.json`` ({qid: null score - best
span score}) in the formats the official evaluation scripts read, ``metrics.json``
and ``eval_results.json``. Every file is written under a temporary name and renamed,
and all input is read and checked before anything is written.
"""
import dataclasses
import json
import os
import time
from typing import Optional

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.tasks import squad
from tfmodels.tasks.classifier_experiment import _restore_trained
from tfmodels.tasks.classifier_experiment import build_model_and_preprocessor as build_task_model
from tfmodels.tasks.squad_metrics import squad_evaluate
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.experiment import ExperimentConfig, train_steps
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.sift import with_sift
from tfmodels.training.trainer import Trainer, write_json

MODES = ("train_and_eval", "eval", "predict")


@dataclasses.dataclass
class SquadSection:
    train_file: Optional[str] = None    # train-v1.1.json / train-v2.0.json
    predict_file: Optional[str] = None  # dev-v1.1.json / dev-v2.0.json (or questions to answer)
    version_2_with_negative: Optional[bool] = None  # None: from the files (version, is_impossible)
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: Optional[float] = None  # None: best_f1_thresh tuned on dev


@dataclasses.dataclass
class SquadExperimentConfig(ExperimentConfig):
    squad: SquadSection = dataclasses.field(default_factory=SquadSection)


def build_model_and_preprocessor(cfg):
    """The ``...ForQuestionAnswering`` model (``model.init_from`` or ``model.name``) and
    the tokenizer of its checkpoint (or ``model.vocab_file``'s folder)."""
    return build_task_model(cfg, architecture="question_answering")


class SquadData:
    """One SQuAD file, read, checked and windowed once."""

    def __init__(self, path, preprocessor, cfg):
        self.path = path
        self.examples, self.version_2 = squad.read_squad(path)
        s = cfg.squad
        self.features = squad.convert_examples(self.examples, preprocessor, cfg.model.seq_length,
                                               s.doc_stride, s.max_query_length)
        self.golds = squad.gold_answers(self.examples)
        self.labelled = any(e.answers or e.is_impossible for e in self.examples)

    def predict(self, model, cfg):
        """``(best span texts, null odds)`` for every question."""
        starts, ends = squad.predict_logits(model, self.features, cfg.data.eval_batch_size)
        return squad.decode(self.examples, self.features, starts, ends, cfg.squad.n_best_size,
                            cfg.squad.max_answer_length)


def evaluate(data, model, cfg, version_2):
    """``(metrics, predictions, null_odds)``; for v2.0 the threshold is
    ``squad.null_score_diff_threshold``, or else dev's ``best_f1_thresh``."""
    answers, null_odds = data.predict(model, cfg)
    if not version_2:
        return squad_evaluate(data.golds, answers), answers, null_odds
    tuned = squad_evaluate(data.golds, answers, null_odds, answers)
    threshold = cfg.squad.null_score_diff_threshold
    threshold = tuned["best_f1_thresh"] if threshold is None else threshold
    predictions = squad.apply_threshold(answers, null_odds, threshold)
    metrics = squad_evaluate(data.golds, predictions)
    if cfg.squad.null_score_diff_threshold is None and metrics["f1"] < tuned["best_f1"]:
        # The official search reports 0.0 when answering nothing is best; do that.
        threshold = min(null_odds.values()) - 1.0
        predictions = squad.apply_threshold(answers, null_odds, threshold)
        metrics = squad_evaluate(data.golds, predictions)
    metrics.update({k: v for k, v in tuned.items() if k.startswith("best_")},
                   null_score_diff_threshold=threshold)
    return metrics, predictions, null_odds


def _write_outputs(model_dir, predictions, null_odds):
    write_json(os.path.join(model_dir, "predictions.json"), predictions)
    write_json(os.path.join(model_dir, "null_odds.json"), null_odds)


def _saved_threshold(model_dir):
    path = os.path.join(model_dir, "eval_results.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("null_score_diff_threshold", 0.0)
    return 0.0


def run(cfg, model_dir, mode="train_and_eval", strategy_name="default", tpu=None,
        precision="float32", jit_compile=False):
    if mode not in MODES:
        raise ConfigError(f"--mode: unknown mode {mode!r}; known: {', '.join(MODES)}")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    s = cfg.squad
    if not s.predict_file:
        raise ConfigError("squad.predict_file (--predict_file) is required")
    if mode == "train_and_eval" and not s.train_file:
        raise ConfigError("squad.train_file (--train_file) is required to train")
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    with strategy.scope():
        model, preprocessor = build_model_and_preprocessor(cfg)
    dev = SquadData(s.predict_file, preprocessor, cfg)  # read and checked before any write
    train = SquadData(s.train_file, preprocessor, cfg) if mode == "train_and_eval" else None
    version_2 = s.version_2_with_negative
    if version_2 is None:
        version_2 = dev.version_2 or bool(train and train.version_2)
    os.makedirs(model_dir, exist_ok=True)

    if mode == "predict":
        _restore_trained(model, model_dir)
        answers, null_odds = dev.predict(model, cfg)
        threshold = s.null_score_diff_threshold
        if version_2:
            threshold = _saved_threshold(model_dir) if threshold is None else threshold
            answers = squad.apply_threshold(answers, null_odds, threshold)
        _write_outputs(model_dir, answers, null_odds)
        print(f"wrote predictions for {len(answers)} questions to {model_dir}")
        return {}
    if mode == "eval":
        restored = _restore_trained(model, model_dir)
        metrics, predictions, null_odds = evaluate(dev, model, cfg, version_2)
        metrics["checkpoint"] = restored or cfg.model.init_from
        _write_outputs(model_dir, predictions, null_odds)
        write_json(os.path.join(model_dir, "eval_results.json"), metrics)
        _print_metrics(metrics)
        return metrics

    features = train.features
    steps = train_steps(cfg, len(features))
    dataset = squad.make_dataset(features, cfg.data.train_batch_size, training=True,
                                 seed=cfg.trainer.seed, shuffle_buffer=cfg.data.shuffle_buffer)
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    print(f"fine-tuning on {len(train.examples)} questions ({len(features)} windows) of "
          f"{s.train_file} for {steps} steps, batch {cfg.data.train_batch_size}, seq_length "
          f"{cfg.model.seq_length}, SQuAD {'2.0' if version_2 else '1.1'}, "
          f"{strategy.num_replicas_in_sync} replica(s), {precision}")
    loss_fn = with_sift(squad.outputs_loss, cfg.adversarial, keys=("start_logits", "end_logits"))
    trainer = Trainer.from_experiment(
        cfg, strategy, model_dir, model, optimizer, loss_fn, steps, jit_compile=jit_compile,
        loss_scale=loss_scale, main_metric="f1",
        evaluate=lambda: evaluate(dev, model, cfg, version_2)[0])
    started = time.time()
    summary = trainer.train(dataset)
    restored = _restore_trained(model, model_dir)
    metrics, predictions, null_odds = evaluate(dev, model, cfg, version_2)
    metrics["checkpoint"] = restored
    report = {"task": f"squad{'2.0' if version_2 else '1.1'}",
              "train_questions": len(train.examples), "train_windows": len(features),
              "eval": metrics, **summary}
    if not trainer.chief:
        return report
    _write_outputs(model_dir, predictions, null_odds)
    write_json(os.path.join(model_dir, "eval_results.json"), metrics)
    tfmodels.save_pretrained(model, os.path.join(model_dir, "hf_model"))
    plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                 title=report["task"])
    report["wall_seconds"] = time.time() - started
    write_json(os.path.join(model_dir, "metrics.json"), report)
    _print_metrics(metrics)
    return report


def _print_metrics(metrics):
    print("\n== results ==")
    for key, value in metrics.items():
        if isinstance(value, float):
            print(f"{key:28s} {value:.4f}")
