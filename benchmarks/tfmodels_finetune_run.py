"""Our side of benchmarks/finetune_speed.py: the demo's fine-tune, through the user's path.

Runs an experiment config (default: what `make demo` runs) with
``load_experiment`` + ``run_experiment(mode="train_and_eval")``, the code path of
run_classifier.py, with the parts that are not fine-tuning turned off
(``task.saved_model=false``, ``task.baselines=false``). Prints one JSON line: the
Trainer's training wall time (which includes its periodic evaluations and checkpoint
saves; ``eval_seconds`` estimates them from the progress lines' times), steps, peak
RSS, dev and test accuracy. Progress lines go to stderr.

    python benchmarks/tfmodels_finetune_run.py --data_dir runs/data/fortunes
"""

import argparse
import json
import resource
import sys
import tempfile
import time

# isort: off  (tfmodels selects Keras 2 before TensorFlow loads)
import tfmodels  # noqa: F401

# isort: on
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import load_experiment

DEMO_CONFIG = "configs/experiments/demo_minilm_fortunes.yaml"


class TimedLog:
    """Prints progress lines to stderr and keeps their times, to measure the time the
    Trainer spends between a step's line and its evaluation's lines (checkpoint save,
    evaluation, best-checkpoint save)."""

    def __init__(self):
        self.lines = []

    def __call__(self, line):
        self.lines.append((time.perf_counter(), line))
        print(line, file=sys.stderr, flush=True)

    def eval_seconds(self):
        total, last_step = 0.0, None
        for t, line in self.lines:
            if line.startswith("step "):
                last_step = t
            elif line.startswith(("eval at step", "new best")) and last_step is not None:
                total += t - last_step
                last_step = t
        return total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=DEMO_CONFIG)
    p.add_argument("--data_dir", required=True)
    p.add_argument("--precision", default=None, help="runtime.mixed_precision; default: config's")
    p.add_argument("--epochs", type=float, default=None, help="default: the config's")
    p.add_argument("--seed", type=int, default=None, help="trainer.seed; default: the config's")
    args = p.parse_args()

    overrides = ["task.saved_model=false", "task.baselines=false", f"task.data_dir={args.data_dir}"]
    if args.precision:
        overrides.append(f"runtime.mixed_precision={args.precision}")
    if args.epochs:
        overrides.append(f"trainer.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"trainer.seed={args.seed}")
    cfg = load_experiment(args.config, overrides, task_type="classification")
    log = TimedLog()
    with tempfile.TemporaryDirectory(prefix="finetune_speed_") as model_dir:
        report = run_experiment(cfg, model_dir, mode="train_and_eval", log=log, overwrite=True)
    result = {
        "precision": report["precision"],  # what ran (auto resolved)
        "seconds": report["seconds"],
        "steps": report["steps_this_run"],
        "eval_seconds": log.eval_seconds(),
        "dev_accuracy": report["eval"]["dev/accuracy"],
        "test_accuracy": report["eval"]["test/accuracy"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
