"""The fortunes QA set (SQuAD v1.1 from Debian's fortunes) and its trivial baselines."""
import collections
import os

import pytest

from tfmodels.datasets import fortunes_qa
from tfmodels.errors import DataError
from tfmodels.tasks import squad

needs_fortunes = pytest.mark.skipif(
    not os.path.isfile(os.path.join(fortunes_qa.FORTUNES_DIR, "people")),
    reason="Debian's fortunes package is not installed (`make fortunes`)")


def test_parse_quotation_cuts_author_and_title():
    quote = fortunes_qa.parse_quotation([
        "Simplicity is prerequisite for reliability, and that is",
        "all there is to it.",
        '\t\t-- Edsger W. Dijkstra, "How do we tell truths that',
        '\t\tmight hurt?", 1975'])
    assert quote["text"] == ("Simplicity is prerequisite for reliability, and that is all "
                             "there is to it.")
    assert quote["author"] == "Edsger W. Dijkstra"
    assert quote["title"] == "How do we tell truths that might hurt?"
    assert quote["attribution"].endswith('hurt?", 1975')


@pytest.mark.parametrize("lines", [
    ["No attribution at all, just a long enough sentence here."],
    ["Seen on a wall in a very long sentence of many words.", "\t-- Seen on a wall"],
    ["Too short.", "\t-- Mark Twain"],
    ["One two three four five six seven eight.", "\t-- A", "More text.", "\t-- B"],
    ["One two three four five six seven eight.",
     "\t-- One Two Three Four Five Six Seven Eight Nine"],
])
def test_parse_quotation_rejects(lines):
    assert fortunes_qa.parse_quotation(lines) is None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not os.path.isfile(os.path.join(fortunes_qa.FORTUNES_DIR, "people")):
        pytest.skip("Debian's fortunes package is not installed (`make fortunes`)")
    out = tmp_path_factory.mktemp("fortunes_qa")
    counts = fortunes_qa.build_fortunes_qa(str(out), max_train=600, max_dev=200)
    return out, counts


@needs_fortunes
def test_written_files_read_back_and_answers_point_at_text(built):
    out, counts = built
    assert sorted(os.listdir(out)) == ["dev.json", "train.json"]  # no temp files left
    authors = {}
    for split in ("train", "dev"):
        examples, version_2 = squad.read_squad(str(out / f"{split}.json"))  # checks offsets
        assert not version_2
        assert len(examples) == counts[split]["questions"] > 100
        assert len({e.context for e in examples}) == counts[split]["passages"]
        for e in examples:
            (text, start), = e.answers
            assert e.context[start:start + len(text)] == text
            assert text.strip() == text and text
            if e.qid.endswith("-author"):
                assert e.context[start - 4:start] == " -- "  # the author opens its attribution
        questions = [e.question for e in examples]
        assert len(set(questions)) == len(questions)
        authors[split] = {e.answers[0][0] for e in examples if e.qid.endswith("-author")}
        # A passage holds 3-4 quotations, by different authors: the others are distractors.
        by_context = collections.defaultdict(list)
        for e in examples:
            if e.qid.endswith("-author"):
                by_context[e.context].append(e.answers[0][0])
        assert all(3 <= len(a) <= 4 and len(set(a)) == len(a) for a in by_context.values())
    assert not authors["train"] & authors["dev"]


@needs_fortunes
def test_deterministic_by_seed():
    a = fortunes_qa.make_fortunes_qa(seed=5, max_train=80, max_dev=40)
    b = fortunes_qa.make_fortunes_qa(seed=5, max_train=80, max_dev=40)
    c = fortunes_qa.make_fortunes_qa(seed=6, max_train=80, max_dev=40)
    assert a == b
    assert a["train"] != c["train"]


def test_missing_source_dir_raises(tmp_path):
    with pytest.raises(DataError, match="fortunes directory not found"):
        fortunes_qa.make_fortunes_qa(source_dir=str(tmp_path / "nowhere"))


def _qa(qid, question, context, answer, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = context.index(answer, start + 1)
    return {"context": context, "qas": [{"id": qid, "question": question,
                                         "answers": [{"text": answer, "answer_start": start}]}]}


def test_baselines_on_a_crafted_example(tmp_path):
    one = ("Dijkstra was here. -- Edsger Dijkstra\n"
           "Simplicity is prerequisite for reliability. -- Edsger W. Dijkstra")
    two = ('Golf is a good walk spoiled. -- Mark Twain, "Notebook"\n'
           'Other words go on this line. -- Ann Author, "The Other Book"')
    data = {"version": "v1.1", "data": [{"title": "t", "paragraphs": [
        _qa("q1-author", 'Who said "Simplicity is prerequisite for reliability..."?', one,
            "Edsger W. Dijkstra"),
        _qa("q2-source", 'Which work is "Golf is a good walk spoiled..." from?', two,
            "Notebook")]}]}
    path = str(tmp_path / "crafted.json")
    fortunes_qa.write_squad_json(data, path)
    assert len(squad.read_squad(path)[0]) == 2
    predictions = fortunes_qa.baseline_predictions(data)
    assert predictions["first_sentence"] == {"q1-author": "Dijkstra was here.",
                                             "q2-source": "Golf is a good walk spoiled."}
    assert predictions["first_attribution"] == {"q1-author": "Edsger Dijkstra",
                                                "q2-source": "Notebook"}
    scores = fortunes_qa.baseline_scores(data)
    # q1: "dijkstra was here" vs "edsger w dijkstra": 1 shared token, P = R = 1/3 -> F1 1/3;
    # "edsger dijkstra": P = 1, R = 2/3 -> F1 0.8. q2: 0 and an exact match.
    assert scores["first_sentence"]["exact"] == 0.0
    assert scores["first_sentence"]["f1"] == pytest.approx(100 * (1 / 3 + 0) / 2)
    assert scores["first_attribution"]["exact"] == pytest.approx(50.0)
    assert scores["first_attribution"]["f1"] == pytest.approx(100 * (0.8 + 1) / 2)
    assert fortunes_qa.baseline_scores(data, kinds=("source",))["first_attribution"]["f1"] \
        == pytest.approx(100.0)
