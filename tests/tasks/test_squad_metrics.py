"""SQuAD EM/F1 as the official scripts define them, on hand-computed cases."""

import pytest

from tfmodels.tasks.squad_metrics import (
    exact_match,
    f1_score,
    find_best_thresh,
    normalize_answer,
    raw_scores,
    squad_evaluate,
)


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("An apple a day", "apple day"),
        ("theory of the anatomy", "theory of anatomy"),  # articles only as whole words
        ("  U.S.A.\t(1990) ", "usa 1990"),
        ("a", ""),
        ("", ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_ignores_case_punctuation_articles_and_spaces():
    assert exact_match("Denver Broncos", "the denver  broncos.") == 1
    assert exact_match("Denver Broncos", "Broncos") == 0


def test_token_f1_by_hand():
    # gold {cat, sat, on, mat}, prediction {cat, on, mat}: P = 1, R = 3/4
    assert f1_score("the cat sat on the mat", "cat on mat") == pytest.approx(6 / 7)
    # repeated tokens count once per occurrence: common {y: 2} of 3 and 3
    assert f1_score("x y y", "y y y") == pytest.approx(2 / 3)
    assert f1_score("x", "z") == 0.0
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0 and f1_score("x", "") == 0.0


def test_max_over_gold_answers_and_no_answer_gold():
    golds = {"q1": ["Paris", "city of Paris"], "q2": [], "q3": ["the", "A."], "q4": ["x"]}
    exact, f1 = raw_scores(golds, {"q1": "Paris France", "q2": "", "q3": "something", "q4": ""})
    # q1: vs "Paris" P 1/2 R 1 -> 2/3; vs "city of Paris" P 1/2 R 1/3 -> 0.4
    assert exact == {"q1": 0.0, "q2": 1.0, "q3": 0.0, "q4": 0.0}
    assert f1 == pytest.approx({"q1": 2 / 3, "q2": 1.0, "q3": 0.0, "q4": 0.0})


def test_has_answer_and_no_answer_splits_and_missing_prediction():
    golds = {"a": ["red car"], "b": ["blue"], "c": [], "d": []}
    results = squad_evaluate(golds, {"a": "big red", "b": "blue", "c": ""})  # d missing
    assert results["total"] == 4
    assert results["exact"] == pytest.approx(50.0)  # b, c
    assert results["f1"] == pytest.approx(100 * 2.5 / 4)  # a: P = R = 1/2
    assert (results["HasAns_exact"], results["HasAns_f1"]) == (50.0, 75.0)
    assert (results["NoAns_exact"], results["NoAns_total"]) == (50.0, 2)
    assert "HasAns_exact" not in squad_evaluate({"a": ["x"]}, {"a": "x"})  # v1.1: no splits


def test_best_threshold_as_the_official_v2_script():
    golds = {"q1": ["Denver"], "q2": ["red car"], "q3": [], "q4": []}
    answers = {"q1": "Denver", "q2": "big red", "q3": "x", "q4": "y"}
    null_odds = {"q1": -2.0, "q2": 0.5, "q3": 3.0, "q4": 1.0}
    exact, f1 = raw_scores(golds, answers)
    has_answer = {"q1": True, "q2": True, "q3": False, "q4": False}
    # all "no answer": 2 of 4 right; answering q1 (-2): 3; q2 (0.5): +0 EM / +0.5 F1;
    # q4 (1.0): -1; q3 (3.0): -1
    assert find_best_thresh(answers, exact, null_odds, has_answer) == (75.0, -2.0)
    assert find_best_thresh(answers, f1, null_odds, has_answer) == (87.5, 0.5)
    results = squad_evaluate(golds, answers, null_odds, answers)
    assert (results["best_f1"], results["best_f1_thresh"]) == (87.5, 0.5)
    assert (results["best_exact"], results["best_exact_thresh"]) == (75.0, -2.0)
