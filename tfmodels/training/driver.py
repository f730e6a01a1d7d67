"""``run_experiment``: the one driver every training script calls.

It owns what every kind of run shares, so a cross-cutting change is made here once:
precision and strategy (the config's ``runtime`` section), restoring a previous run,
the :class:`Trainer` (checkpoints, resume, best checkpoint), the final evaluation,
``eval_results.json``, the HF save with the tokenizer files, the training curves,
``metrics.json`` and the printed report. The :class:`Task` says the rest.
"""

import json
import os
import time

import tensorflow as tf
import tf_keras as keras

import tfmodels
from tfmodels.atomic import atomic_path
from tfmodels.convert.pretrained import TOKENIZER_FILES
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.strict_config import check_choice
from tfmodels.training import run_dir
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.task import Task, make_task
from tfmodels.training.trainer import Trainer, is_chief, write_json

TRAINING_MODES = ("train_and_eval", "train")


class Run:
    """One experiment's strategy, precision and output folder, for the Task's
    :meth:`Task.train` and :meth:`Task.after_training` (which may train several times)."""

    def __init__(self, cfg, model_dir, log):
        self.cfg = cfg
        self.model_dir = model_dir
        self.log = log
        runtime = cfg.runtime
        self.precision, why, self.loss_scale = set_precision(
            runtime.mixed_precision, runtime.distribution_strategy
        )
        log(f"precision {self.precision} ({why})")
        self.strategy = get_strategy(runtime.distribution_strategy, runtime.tpu)
        self.chief = is_chief(self.strategy)
        self.history = []  # of the last fit, for the training curves

    def announce(self, what):
        """The opening line of a training run."""
        self.log(f"{what}, {self.strategy.num_replicas_in_sync} replica(s), {self.precision}")

    def fit(
        self,
        model,
        loss_fn,
        dataset,
        steps,
        model_dir=None,
        evaluate=None,
        main_metric=None,
        optimizer_section=None,
    ):
        """Trains ``model`` for ``steps`` (resuming in ``model_dir``, default the run's);
        returns the Trainer's summary."""
        with self.strategy.scope():
            optimizer = create_optimizer(
                optimizer_section or self.cfg.optimizer, self.cfg.schedule, steps
            )
        trainer = Trainer.from_experiment(
            self.cfg,
            self.strategy,
            model_dir or self.model_dir,
            model,
            optimizer,
            loss_fn,
            steps,
            jit_compile=self.cfg.runtime.jit_compile,
            loss_scale=self.loss_scale,
            evaluate=evaluate,
            main_metric=main_metric,
            log=self.log,
        )
        summary = trainer.train(dataset)
        self.history = trainer.history
        return summary


def run_experiment(task, model_dir, mode=None, log=None, overwrite=False):
    """Runs ``task`` (a :class:`Task`, or an experiment config: its ``task.type``'s Task)
    in ``mode`` (default: its first) under ``model_dir``; returns the report (also
    ``metrics.json``). ``log``: where progress lines go (default: print).
    ``model_dir`` may hold a run of the same config (it resumes); ``overwrite``
    replaces a run of another config instead of refusing it (:mod:`run_dir`).
    The run sets the global Keras precision policy (``runtime.mixed_precision``) and
    puts the caller's back when it returns, so that models built afterwards in the
    same process (a compression study, a notebook) are float32 again."""
    policy = keras.mixed_precision.global_policy()
    try:
        return _run_experiment(task, model_dir, mode, log, overwrite)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _run_experiment(task, model_dir, mode, log, overwrite):
    if not isinstance(task, Task):
        task = make_task(task)
    if log:
        task.log = log
    mode = mode or task.modes[0]
    check_choice("--mode", mode, task.modes, "mode")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    training = mode in TRAINING_MODES
    if not overwrite:
        run_dir.check(task.cfg, model_dir, training, task.log)
    seed_everything(task.cfg)
    task.prepare(mode)
    run = Run(task.cfg, model_dir, task.log)
    with run.strategy.scope():
        model = task.build_model()  # every input is read and checked before anything is written
    if overwrite and training:
        run_dir.overwrite(model_dir, task.log)
    tf.io.gfile.makedirs(model_dir)
    if not training:
        return _evaluate_or_predict(task, model, run, mode)
    if run.chief:
        run_dir.write_config(task.cfg, model_dir)
    started = time.time()
    summary = task.train(model, run)
    report = {"task": task.title, "precision": run.precision, **task.report_fields(), **summary}
    results = restored = None
    if mode == "train_and_eval":
        restored = task.restore(model, model_dir)
        with run.strategy.scope():
            results = task.final_results(model)
    if results is not None:
        results["checkpoint"] = restored
        report["eval"] = results
    if run.chief:  # other workers of a multi-worker run leave the outputs to the chief
        if results is not None:
            write_json(os.path.join(model_dir, "eval_results.json"), results)
            written = task.write_predictions(model_dir)
            if written:
                report["predictions"] = written
        report.update(task.finish(model, model_dir))
        task.save(model, model_dir)
        if run.history:
            plot_history(
                run.history, os.path.join(model_dir, "training_curves.png"), title=task.title
            )
    report.update(task.after_training(model, run))
    report["wall_seconds"] = time.time() - started
    if run.chief:
        write_json(os.path.join(model_dir, "metrics.json"), report)
        _print_results(task, report, run.log)
    return report


def seed_everything(cfg):
    """One seed for everything drawn (initializers, dropout, the datasets' shuffles and,
    through the Trainer, the step-keyed draws of :mod:`noise`), set before the Task
    reads its data, so two runs of a config agree whatever ran before in the process;
    ``runtime.deterministic`` adds TensorFlow's op determinism."""
    keras.utils.set_random_seed(cfg.trainer.seed)
    if cfg.runtime.deterministic:
        tf.config.experimental.enable_op_determinism()


def _evaluate_or_predict(task, model, run, mode):
    restored = task.restore(model, run.model_dir)
    untrained = task.untrained_weights(model) if restored is None else []
    if untrained:
        raise ConfigError(
            f"--mode={mode}: {run.model_dir} holds no checkpoint of a run (best/ or "
            f"checkpoints/), and model.init_from does not give these weights: "
            f"{', '.join(untrained[:4])}{' ...' if len(untrained) > 4 else ''}; train "
            f"first (--mode=train_and_eval) or point --model_dir at a trained run"
        )
    if mode == "predict":
        with run.strategy.scope():
            written = task.predict(model, run.model_dir)
        for path in written:
            run.log(f"wrote {path}")
        return {}
    with run.strategy.scope():
        results = task.final_results(model)
    results["checkpoint"] = restored or task.cfg.model.init_from
    write_json(os.path.join(run.model_dir, "eval_results.json"), results)
    for path in task.write_predictions(run.model_dir):
        run.log(f"wrote {path}")
    run.log(json.dumps(results, indent=2))
    return results


def _print_results(task, report, log):
    log("\n== results ==")
    for key, value in report.get("eval", {}).items():
        if isinstance(value, float):
            log(f"{key:34s} {value:.4f}")
    for line in task.result_lines(report):
        log(line)
    metric = f"main metric {task.main_metric}; " if task.main_metric else ""
    log(f"{metric}wall time {report['wall_seconds']:.0f}s")


def restore_trained(model, model_dir):
    """Loads the best (else the latest) checkpoint of a previous run, if there is one.
    A folder whose ``checkpoint`` state names files that are not there is a
    CheckpointError, not a quiet fall back to other weights."""
    for folder in ("best", "checkpoints"):
        folder = os.path.join(model_dir, folder)
        latest = tf.train.latest_checkpoint(folder)
        if latest:
            run_dir.restore_checkpoint(tf.train.Checkpoint(model=model), latest)
            return latest
        if tf.io.gfile.exists(os.path.join(folder, "checkpoint")):
            raise CheckpointError(
                f"{folder}/checkpoint names a checkpoint whose files are not there"
            )
    return None


def save_with_tokenizer(model, hf_dir, preprocessor=None):
    """``save_pretrained`` into ``hf_dir`` plus the preprocessor's tokenizer files, so
    ``from_pretrained(hf_dir)`` and ``preprocessor_from_pretrained(hf_dir)`` rebuild both."""
    path = tfmodels.save_pretrained(model, hf_dir)
    if preprocessor is not None:
        copy_tokenizer_files(preprocessor, hf_dir)
    return path


def _tokenizer_dir(preprocessor):
    """The folder of the files ``preprocessor``'s tokenizer was built from (None: in memory)."""
    tokenizer = preprocessor.tokenizer
    for attribute in ("vocabulary", "model_file"):  # WordPiece/byte-BPE; SentencePiece
        path = getattr(tokenizer, attribute, None)
        if isinstance(path, str) and os.path.isfile(path):
            return os.path.dirname(os.path.abspath(path))
    return None


def copy_tokenizer_files(preprocessor, hf_dir):
    """Puts the preprocessor's tokenizer files (vocab.txt; vocab.json + merges.txt;
    spiece.model; tokenizer_config.json, ...) into ``hf_dir``, replacing another
    tokenizer's files there, so ``preprocessor_from_pretrained(hf_dir)`` rebuilds it."""
    source = _tokenizer_dir(preprocessor)
    if source is None or os.path.abspath(source) == os.path.abspath(hf_dir):
        return
    present = [n for n in TOKENIZER_FILES if os.path.isfile(os.path.join(source, n))]
    for name in TOKENIZER_FILES:
        target = os.path.join(hf_dir, name)
        if name in present:
            with atomic_path(target) as tmp:
                tf.io.gfile.copy(os.path.join(source, name), tmp, overwrite=True)
        elif os.path.isfile(target):
            os.remove(target)  # the checkpoint's own tokenizer, not the one trained with
