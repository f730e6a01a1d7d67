"""MiniLM fine-tuned on the fortunes QA set (SQuAD v1.1 from Debian's fortunes) vs
two trivial baselines, EM/F1 on dev with the official metric.

    python benchmarks/fortunes_qa.py --out=/tmp/fortunes_qa --train_steps=120 \
        --batch_size=8 --max_dev=300

Builds train.json/dev.json (tfmodels.datasets.fortunes_qa), scores the first-sentence
and first-attribution baselines, fine-tunes the real all-MiniLM-L6-v2 backbone with a
fresh span head through run_experiment (what run_squad.py runs; one evaluation
at the end, no checkpoint selection on dev), and prints EM/F1 overall and per
question template. ``--train_steps=0`` prints the baselines only.
"""

import argparse
import json
import os
import time

import tfmodels  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfmodels.datasets import fortunes_qa
from tfmodels.tasks.squad_metrics import squad_evaluate
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import load_experiment


def _by_kind(golds, predictions):
    rows = {"all": squad_evaluate(golds, predictions)}
    for kind in fortunes_qa.TEMPLATES:
        subset = {q: a for q, a in golds.items() if q.endswith(f"-{kind}")}
        if subset:
            rows[kind] = squad_evaluate(subset, predictions)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/fortunes_qa")
    parser.add_argument("--init_from", default="minilm")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--seq_length", type=int, default=192)
    parser.add_argument("--train_steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument(
        "--max_dev",
        type=int,
        default=None,
        help="dev quotations (each gives 1-2 questions); default: all",
    )
    args = parser.parse_args()

    data_dir = os.path.join(args.out, "data")
    counts = fortunes_qa.build_fortunes_qa(data_dir, seed=args.seed, max_dev=args.max_dev)
    print("data:", json.dumps(counts))
    with open(os.path.join(data_dir, "dev.json"), encoding="utf-8") as f:
        dev = json.load(f)
    golds = fortunes_qa.golds_of(dev)
    table = {
        name: _by_kind(golds, preds)
        for name, preds in fortunes_qa.baseline_predictions(dev).items()
    }

    if args.train_steps:
        cfg = load_experiment(
            None,
            [
                f"model.init_from={args.init_from}",
                f"model.seq_length={args.seq_length}",
                f"data.train_batch_size={args.batch_size}",
                "data.eval_batch_size=64",
                f"optimizer.lr={args.lr}",
                "schedule.warmup_fraction=0.1",
                f"trainer.train_steps={args.train_steps}",
                f"trainer.checkpoint_every={args.train_steps}",
                "trainer.log_every=25",
                f"task.train_file={os.path.join(data_dir, 'train.json')}",
                f"task.predict_file={os.path.join(data_dir, 'dev.json')}",
                "task.doc_stride=64",
                "task.max_query_length=32",
                "task.max_answer_length=30",
            ],
            task_type="squad",
        )
        model_dir = os.path.join(args.out, "model")
        started = time.time()
        run_experiment(cfg, model_dir)
        print(f"fine-tune + eval wall time: {time.time() - started:.0f} s")
        with open(os.path.join(model_dir, "predictions.json"), encoding="utf-8") as f:
            table[f"MiniLM, {args.train_steps} steps"] = _by_kind(golds, json.load(f))

    print(
        f"\ndev: {counts['dev']['questions']} questions in {counts['dev']['passages']} "
        f"passages; train: {counts['train']['questions']} in {counts['train']['passages']}"
    )
    print(f"{'system':24s} {'part':7s} {'n':>5s} {'EM':>6s} {'F1':>6s}")
    for name, rows in table.items():
        for part, m in rows.items():
            print(f"{name:24s} {part:7s} {m['total']:5d} {m['exact']:6.1f} {m['f1']:6.1f}")


if __name__ == "__main__":
    main()
