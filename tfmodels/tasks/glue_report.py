"""The GLUE score of several fine-tuning runs: each task's score and their average.

    python -m tfmodels.tasks.glue_report runs/cola runs/sst2 runs/mrpc ...

Reads each run's ``eval_results.json``; a task's score is the mean of its metrics
where it has two (MRPC/QQP F1 and accuracy, STS-B Pearson and Spearman), and for
MNLI the mean of matched and mismatched accuracy, as on the GLUE leaderboard.
"""

import json
import os
import sys

from tfmodels.errors import DataError
from tfmodels.tasks.metrics import glue_average


def task_score(results):
    scores = [v for k, v in results.items() if k.endswith("/score")]
    if not scores:
        raise DataError("eval_results.json has no score")
    return sum(scores) / len(scores)


def glue_report(run_dirs):
    """``{task: score}`` plus ``average``; the task name is read from metrics.json."""
    scores = {}
    for run_dir in run_dirs:
        path = os.path.join(run_dir, "eval_results.json")
        if not os.path.isfile(path):
            raise DataError(f"no eval_results.json in {run_dir}")
        with open(path) as f:
            results = json.load(f)
        name = os.path.basename(os.path.normpath(run_dir))
        metrics_path = os.path.join(run_dir, "metrics.json")
        if os.path.isfile(metrics_path):
            with open(metrics_path) as f:
                name = json.load(f).get("task", name)
        scores[name] = task_score(results)
    return {**scores, "average": glue_average(scores)}


if __name__ == "__main__":
    try:
        for task, score in glue_report(sys.argv[1:]).items():
            print(f"{task:10s} {100 * score:6.2f}")
    except DataError as e:
        sys.exit(f"error: {e}")
