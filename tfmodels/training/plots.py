"""Training curves as a PNG (loss and evaluation metrics against steps)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tfmodels.atomic import atomic_write


def plot_history(history, path, title=""):
    """``history``: the trainer's list of ``{step, loss, ..., eval_*}`` records."""
    train = [h for h in history if "loss" in h]
    evals = [h for h in history if any(k.startswith("eval_") for k in h)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot([h["step"] for h in train], [h["loss"] for h in train], label="train loss")
    if train and "accuracy" in train[0]:
        axes[0].plot(
            [h["step"] for h in train], [h["accuracy"] for h in train], label="train accuracy"
        )
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[0].set_title("training")
    keys = sorted(
        {
            k
            for h in evals
            for k in h
            if k.startswith("eval_")
            and k.endswith(("accuracy", "f1", "matthews_corr", "pearson", "spearman"))
        }
    )
    for key in keys:
        points = [(h["step"], h[key]) for h in evals if key in h]
        axes[1].plot(*zip(*points), marker="o", label=key[len("eval_") :])
    axes[1].set_xlabel("step")
    axes[1].set_title("evaluation")
    if keys:
        axes[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:  # a file object: gs:// paths too
        fig.savefig(f, dpi=90, format="png")
    plt.close(fig)
    return path
