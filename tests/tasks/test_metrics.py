"""GLUE metrics against values computed by hand."""

import math

import pytest

from tfmodels.tasks import metrics


def test_accuracy_and_f1():
    labels, preds = [1, 0, 1, 1, 0, 0], [1, 0, 0, 1, 1, 0]
    assert metrics.accuracy(labels, preds) == pytest.approx(4 / 6)
    # tp=2, fp=1, fn=1 -> F1 = 4 / 6
    assert metrics.f1(labels, preds) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert metrics.f1([0, 0], [0, 0]) == 0.0


def test_matthews_correlation_binary():
    labels, preds = [1, 1, 1, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 1, 0, 1]
    tp, tn, fp, fn = 3, 3, 1, 1
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert metrics.matthews_corrcoef(labels, preds) == pytest.approx(expected)
    assert metrics.matthews_corrcoef([1, 1, 0], [1, 1, 1]) == 0.0  # constant prediction


def test_pearson_and_spearman():
    x, y = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 5.0, 4.0]
    # Pearson by hand: mean x 2.5, mean y 3.75; cov 3.5; var x 5; var y 4.75
    assert metrics.pearson(x, y) == pytest.approx(3.5 / math.sqrt(5 * 4.75))
    # Ranks of y with a tie: [1, 2.5, 4, 2.5]; Pearson of ranks.
    assert metrics.spearman(x, y) == pytest.approx(metrics.pearson([1, 2, 3, 4], [1, 2.5, 4, 2.5]))
    assert metrics.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)


def test_task_metric_sets_and_glue_average():
    assert set(metrics.classification_metrics([1, 0], [1, 1], "matthews")) == {
        "matthews_corr",
        "accuracy",
        "score",
    }
    mrpc = metrics.classification_metrics([1, 0, 1], [1, 1, 1], "f1")
    assert mrpc["score"] == pytest.approx((0.8 + 2 / 3) / 2)
    stsb = metrics.classification_metrics([0.0, 2.5, 5.0], [0.1, 2.0, 4.0], "correlation")
    assert stsb["spearman"] == pytest.approx(1.0)
    assert metrics.glue_average({"cola": 0.5, "sst2": 0.9}) == pytest.approx(0.7)


def test_glue_report_averages_task_scores(tmp_path):
    import json

    from tfmodels.tasks.glue_report import glue_report

    runs = {
        "mnli": {"dev_matched/score": 0.8, "dev_mismatched/score": 0.6},
        "mrpc": {"dev/score": 0.85, "dev/f1": 0.9, "dev/accuracy": 0.8},
    }
    for task, results in runs.items():
        (tmp_path / task).mkdir()
        (tmp_path / task / "eval_results.json").write_text(json.dumps(results))
        (tmp_path / task / "metrics.json").write_text(json.dumps({"task": task}))
    report = glue_report([str(tmp_path / t) for t in runs])
    assert report["mnli"] == pytest.approx(0.7)
    assert report["average"] == pytest.approx((0.7 + 0.85) / 2)
