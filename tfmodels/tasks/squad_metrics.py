"""SQuAD scores, as the official evaluation scripts define them.

Rajpurkar et al. 2016 (section 5.1) and 2018 (section 5): answers are compared after
``normalize_answer`` (lower case, punctuation removed, the articles a/an/the
removed, whitespace collapsed); exact match (EM) and bag-of-tokens F1 take the
maximum over the gold answers. v2.0 scores a question without an answer against the
single gold answer ``""`` and reports the HasAns/NoAns splits; with the no-answer
scores (``null_odds``: higher means "no answer" more likely) it also finds the
threshold that maximizes EM and F1 (``find_best_thresh`` of evaluate-v2.0.py).

Conventions of evaluate-v2.0.py kept here: gold answers that normalize to nothing
are dropped (none left: ``[""]``); F1 of an empty against a non-empty answer is 0,
of two empty ones 1. A question without a prediction scores 0 (v1.1's rule; the
v2.0 script leaves it out instead).
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """Lower text and remove punctuation, articles and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text):
    return normalize_answer(text).split() if text else []


def exact_match(gold, prediction):
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_score(gold, prediction):
    gold_tokens, predicted = _tokens(gold), _tokens(prediction)
    if not gold_tokens or not predicted:
        return float(gold_tokens == predicted)
    same = sum((collections.Counter(gold_tokens) & collections.Counter(predicted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_texts(answers):
    """The gold answers a prediction is scored against (``[""]`` for no answer)."""
    return [a for a in answers if normalize_answer(a)] or [""]


def raw_scores(golds, predictions):
    """``({qid: EM}, {qid: F1})`` of ``predictions`` ({qid: text}) for ``golds``
    ({qid: [answer texts]}, empty for no answer)."""
    exact, f1 = {}, {}
    for qid, answers in golds.items():
        prediction = predictions.get(qid)
        if prediction is None:
            exact[qid] = f1[qid] = 0.0
            continue
        answers = gold_texts(answers)
        exact[qid] = float(max(exact_match(a, prediction) for a in answers))
        f1[qid] = max(f1_score(a, prediction) for a in answers)
    return exact, f1


def _averages(exact, f1, qids, prefix=""):
    n = len(qids)
    return {
        f"{prefix}exact": 100.0 * sum(exact[q] for q in qids) / n if n else 0.0,
        f"{prefix}f1": 100.0 * sum(f1[q] for q in qids) / n if n else 0.0,
        f"{prefix}total": n,
    }


def find_best_thresh(predictions, scores, null_odds, has_answer):
    """evaluate-v2.0.py's search: answering the questions whose null odds are at most a
    threshold, the best score (percent) and that threshold. ``predictions`` are the
    best non-null answers; a question is "no answer" when its null odds exceed the
    threshold."""
    current = best = sum(1 for q in scores if not has_answer[q])
    best_thresh = 0.0
    for qid in sorted(null_odds, key=lambda q: null_odds[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            diff = scores[qid]
        else:
            diff = -1 if predictions.get(qid) else 0
        current += diff
        if current > best:
            best, best_thresh = current, null_odds[qid]
    return 100.0 * best / len(scores), best_thresh


def squad_evaluate(golds, predictions, null_odds=None, non_null_predictions=None):
    """EM/F1 of ``predictions`` on ``golds`` ({qid: [texts]}), with HasAns/NoAns splits
    when some questions have no answer. With ``null_odds`` ({qid: null score - best
    non-null score}) and the best non-null answers, also ``best_exact``/``best_f1`` and
    their thresholds (``best_f1_thresh`` is what run_squad.py predicts with)."""
    exact, f1 = raw_scores(golds, predictions)
    results = _averages(exact, f1, list(golds))
    has_answer = {q: bool(gold_texts(a)[0]) for q, a in golds.items()}
    with_answer = [q for q in golds if has_answer[q]]
    if len(with_answer) < len(golds):
        results.update(_averages(exact, f1, with_answer, "HasAns_"))
        results.update(_averages(exact, f1, [q for q in golds if not has_answer[q]], "NoAns_"))
    if null_odds is not None:
        candidates = non_null_predictions if non_null_predictions is not None else predictions
        raw_exact, raw_f1 = raw_scores(golds, candidates)
        results["best_exact"], results["best_exact_thresh"] = find_best_thresh(
            candidates, raw_exact, null_odds, has_answer
        )
        results["best_f1"], results["best_f1_thresh"] = find_best_thresh(
            candidates, raw_f1, null_odds, has_answer
        )
    return results
