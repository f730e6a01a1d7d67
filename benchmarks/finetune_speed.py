"""Fine-tuning speed through the code path users run, against the usual HF PyTorch loop.

Our side is exactly what `make demo` runs (configs/experiments/demo_minilm_fortunes.yaml
through load_experiment + run_experiment, the Trainer of run_classifier.py) without
the SavedModel export and the baselines; the peer (benchmarks/hf_finetune_peer.py) is
the hand-written `transformers` loop with the same model, data, hyperparameters and
step count. Each run is a child process (TF and torch never share one; peak RSS is per
run). Per variant it prints training wall time, examples/s, peak RSS, dev/test accuracy
and the speed ratio (peer seconds / our seconds):

- ``demo``: the demo's fortunes dataset as it is;
- ``short``: every text cut to its first sentence, so padding waste shows;
- ``debian``: a real task that is not in the repository, the Debian section of a
  package from its one-line description (benchmarks/debian_sections.py, this machine's
  APT index; 2,000 train texts).

    python benchmarks/finetune_speed.py [--variant demo|short|debian|both|all] [--epochs 0.3]
        [--precision mixed_bfloat16] [--peer_precision fp32|bf16] [--threads N]
        [--skip_ours] [--skip_peer]      # both variants, full: ~1 h on 2 busy cores

Threads: torch gets ``torch.set_num_threads(N)``; TF gets ``TF_NUM_INTRAOP_THREADS=N``
and ``TF_NUM_INTEROP_THREADS=N`` (read by TF at start-up); N = os.cpu_count() unless
--threads. Timing: our ``seconds`` is the Trainer's, which includes its periodic dev
evaluations, checkpoint saves and dev-best saves. The peer does the same work on the
same schedule (the config's ``trainer.checkpoint_every`` and ``eval_every``: model,
optimizer and schedule saved, dev evaluated, the dev-best weights saved and tested at
the end, as HF's Trainer does with ``save_steps``/``eval_steps`` and
``load_best_model_at_end``); ``--peer_loop_only`` times the peer's bare loop instead
(no checkpoints, last weights tested), the hand-written loop's usual form. The table
gives both ratios: of the wall times, and of the wall times less each side's periodic
evaluation and checkpoint seconds (tokenization stays in on both sides).
"""

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfmodels.training.experiment import TrainerSection  # noqa: E402  (no TensorFlow)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEMO_CONFIG = os.path.join(ROOT, "configs/experiments/demo_minilm_fortunes.yaml")
DEMO_DATA = os.path.join(ROOT, "runs/data/fortunes")
SPLITS = ("train", "dev", "test")
_FIRST_SENTENCE = re.compile(r"^(.*?[.!?])\s")


def cpu_info():
    """``(model name, the bf16/int8 instruction flags it has)`` from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return "unknown CPU", []
    name = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = [f for f in ("avx512_bf16", "amx_bf16", "avx512_vnni") if f in text.split()]
    return (name.group(1) if name else "unknown CPU"), flags


def peer_available():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def demo_data(out_dir):
    """The demo's dataset in ``out_dir``: copied from runs/data/fortunes, else built."""
    if os.path.isfile(os.path.join(DEMO_DATA, "train.tsv")):
        os.makedirs(out_dir)
        for split in SPLITS:
            shutil.copy(os.path.join(DEMO_DATA, f"{split}.tsv"), out_dir)
    else:
        from tfmodels.datasets.fortunes import build_fortunes_dataset  # numpy only

        build_fortunes_dataset(out_dir)
    return out_dir


def first_sentence(text):
    match = _FIRST_SENTENCE.match(text)
    return match.group(1) if match else text


def short_data(demo_dir, out_dir):
    """The demo's dataset with every text cut to its first sentence, same layout."""
    os.makedirs(out_dir)
    for split in SPLITS:
        with open(os.path.join(demo_dir, f"{split}.tsv"), encoding="utf-8") as f:
            header, *rows = f.read().splitlines()
        with open(os.path.join(out_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write(header + "\n")
            for row in rows:
                text, label = row.split("\t")
                f.write(f"{first_sentence(text)}\t{label}\n")
    return out_dir


def variant_data(variant, demo_dir, out_dir):
    """The data folder of ``variant`` (made in ``out_dir`` unless it is the demo's)."""
    if variant == "demo":
        return demo_dir
    if variant == "short":
        return short_data(demo_dir, out_dir)
    from debian_sections import build  # beside this script

    build(out_dir)
    return out_dir


def mean_tokens(data_dir):
    """Mean token count of the train texts ([CLS] and [SEP] included, untruncated)."""
    if not peer_available():
        return None
    os.environ["HF_HUB_OFFLINE"] = "1"
    from hf_finetune_peer import minilm_folder, read_tsv  # beside this script
    from transformers import AutoTokenizer

    texts, _ = read_tsv(os.path.join(data_dir, "train.tsv"))
    lengths = [
        len(ids) for ids in AutoTokenizer.from_pretrained(minilm_folder())(texts)["input_ids"]
    ]
    return sum(lengths) / len(lengths)


def run_child(command, threads):
    """Runs a side's child script; returns its JSON line (None if it failed)."""
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        print(f"  failed (exit {done.returncode})", flush=True)
        return None
    return json.loads(lines[-1])


def loop_seconds(result):
    """Wall time less the periodic evaluations and checkpoints."""
    return result["seconds"] - result.get("eval_seconds", 0.0)


def table(rows, batch_size):
    """The variant's table: ``rows`` are ``(side, result)``, ours first."""
    ours = next((r for side, r in rows if side.startswith("tfmodels")), None)
    lines = [
        "| side | training wall s | of it eval + checkpoints s | examples/s | peak RSS MiB "
        "| dev acc | test acc | ratio (peer s / our s) | ratio less eval + checkpoints |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, r in rows:
        ratio = loop_ratio = ""
        if ours is not None and r is not ours:
            ratio = f"{r['seconds'] / ours['seconds']:.2f}"
            loop_ratio = f"{loop_seconds(r) / loop_seconds(ours):.2f}"
        lines.append(
            f"| {side} | {r['seconds']:.1f} | {r.get('eval_seconds', 0.0):.1f} "
            f"| {r['steps'] * batch_size / r['seconds']:.1f} | {r['peak_rss_mib']:.0f} "
            f"| {r['dev_accuracy']:.4f} | {r['test_accuracy']:.4f} | {ratio} | {loop_ratio} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", choices=("demo", "short", "debian", "both", "all"), default="both")
    p.add_argument("--config", default=DEMO_CONFIG)
    p.add_argument("--precision", default=None, help="ours; default: the config's own")
    p.add_argument(
        "--peer_precision",
        choices=("fp32", "bf16"),
        default=None,
        help="default: fp32, and bf16 too where the CPU has bf16 instructions",
    )
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--epochs", type=float, default=None, help="default: the config's")
    p.add_argument("--skip_ours", action="store_true")
    p.add_argument("--skip_peer", action="store_true")
    p.add_argument(
        "--peer_loop_only",
        action="store_true",
        help="the peer without our checkpoint/evaluation schedule (its bare loop)",
    )
    args = p.parse_args()

    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    batch_size = cfg["data"]["train_batch_size"]
    peer_args = [
        f"--epochs={args.epochs or cfg['trainer']['epochs']}",
        f"--batch_size={batch_size}",
        f"--eval_batch_size={cfg['data']['eval_batch_size']}",
        f"--max_length={cfg['model']['seq_length']}",
        f"--lr={cfg['optimizer']['lr']}",
        f"--weight_decay={cfg['optimizer']['weight_decay']}",
        f"--warmup_fraction={cfg['schedule']['warmup_fraction']}",
        f"--threads={args.threads}",
    ]
    if not args.peer_loop_only:  # the Trainer's schedule, its defaults where unset
        trainer = dataclasses.replace(TrainerSection(), **cfg["trainer"])
        peer_args += [f"--checkpoint_every={trainer.checkpoint_every}"]
        peer_args += [f"--eval_every={trainer.eval_every or trainer.checkpoint_every}"]
    cpu, flags = cpu_info()
    peer_precisions = [args.peer_precision] if args.peer_precision else ["fp32"]
    if not args.peer_precision and {"avx512_bf16", "amx_bf16"} & set(flags):
        peer_precisions.append("bf16")  # else torch's bf16 is emulated: slow, not worth it
    if not args.skip_peer and not peer_available():
        print("torch/transformers not importable: skipping the HF PyTorch peer")
        args.skip_peer = True

    variants = {"both": ("demo", "short"), "all": ("demo", "short", "debian")}.get(
        args.variant, (args.variant,)
    )
    tables = []
    with tempfile.TemporaryDirectory(prefix="finetune_speed_data_") as tmp:
        demo_dir = demo_data(os.path.join(tmp, "demo"))
        for variant in variants:
            data_dir = variant_data(variant, demo_dir, os.path.join(tmp, variant))
            rows, notes = [], []
            if not args.skip_ours:
                command = [sys.executable, os.path.join(HERE, "tfmodels_finetune_run.py")]
                command += [f"--config={args.config}", f"--data_dir={data_dir}"]
                command += [f"--precision={args.precision}"] if args.precision else []
                command += [f"--epochs={args.epochs}"] if args.epochs else []
                r = run_child(command, args.threads)
                if r:
                    rows.append((f"tfmodels {r['precision']}", r))
            for precision in [] if args.skip_peer else peer_precisions:
                command = [sys.executable, os.path.join(HERE, "hf_finetune_peer.py")]
                command += [f"--data_dir={data_dir}", f"--precision={precision}", *peer_args]
                r = run_child(command, args.threads)
                if r:
                    schedule = " loop only" if args.peer_loop_only else ""
                    rows.append((f"HF PyTorch {precision}{schedule}", r))
                    notes.append(
                        f"HF PyTorch {precision} batches padded to "
                        f"{r['mean_batch_length']:.1f} tokens on average"
                    )
            tokens = mean_tokens(data_dir)
            if tokens is not None:
                notes.insert(0, f"mean train text length: {tokens:.1f} tokens")
            text = f"### {variant}\n\n" + table(rows, batch_size) + "\n\n"
            tables.append(text + "".join(f"- {n}\n" for n in notes))
            print("\n" + tables[-1], flush=True)
    print(
        f"{time.strftime('%Y-%m-%d')}, {cpu} ({', '.join(flags) or 'no bf16/vnni flags'}), "
        f"{args.threads} threads\n"
    )
    print("\n".join(tables))


if __name__ == "__main__":
    main()
