"""GLUE's official metrics (Wang et al. 2019, table 1), in numpy.

CoLA: Matthews correlation; STS-B: Pearson and Spearman correlation; MRPC and QQP:
F1 of the positive class and accuracy; the others: accuracy. Definitions follow
scikit-learn / scipy, which the GLUE baselines used.
"""

import numpy as np


def accuracy(labels, predictions):
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def f1(labels, predictions, positive=1):
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    tp = np.sum((predictions == positive) & (labels == positive))
    fp = np.sum((predictions == positive) & (labels != positive))
    fn = np.sum((predictions != positive) & (labels == positive))
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


def matthews_corrcoef(labels, predictions):
    """Multi-class Matthews correlation (Gorodkin 2004), as scikit-learn computes it."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    classes = np.union1d(labels, predictions)
    confusion = np.array(
        [[np.sum((labels == a) & (predictions == b)) for b in classes] for a in classes], np.float64
    )
    t, p = confusion.sum(1), confusion.sum(0)
    c, s = np.trace(confusion), confusion.sum()
    denominator = np.sqrt((s * s - p @ p) * (s * s - t @ t))
    return float((c * s - t @ p) / denominator) if denominator else 0.0


def pearson(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denominator) if denominator else 0.0


def _ranks(x):
    """Ranks with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sorted_x = x[order]
    start = 0
    for end in range(1, len(x) + 1):
        if end == len(x) or sorted_x[end] != sorted_x[start]:
            ranks[order[start:end]] = (start + end + 1) / 2.0
            start = end
    return ranks


def spearman(x, y):
    return pearson(_ranks(x), _ranks(y))


def classification_metrics(labels, predictions, kind):
    """The metric dict for a task whose ``kind`` is accuracy, f1, matthews or correlation."""
    if kind == "correlation":
        p, s = pearson(labels, predictions), spearman(labels, predictions)
        return {"pearson": p, "spearman": s, "score": (p + s) / 2}
    acc = accuracy(labels, predictions)
    if kind == "matthews":
        mcc = matthews_corrcoef(labels, predictions)
        return {"matthews_corr": mcc, "accuracy": acc, "score": mcc}
    if kind == "f1":
        f = f1(labels, predictions)
        return {"f1": f, "accuracy": acc, "score": (f + acc) / 2}
    return {"accuracy": acc, "score": acc}


def glue_average(task_scores):
    """GLUE score: the mean over tasks of each task's score (averaged metrics where two)."""
    return float(np.mean(list(task_scores.values()))) if task_scores else 0.0
