"""The fortunes QA set (SQuAD v1.1 from Debian's fortunes) and its trivial baselines."""

import collections
import json
import os

import numpy as np
import pytest

from tfmodels.datasets import fortunes_qa
from tfmodels.errors import DataError
from tfmodels.tasks import squad

REAL = os.path.isfile(os.path.join(fortunes_qa.FORTUNES_DIR, "people"))
FIRST_NAMES = "Ada Basil Cora Dmitri Edith Felix Greta Hugo".split()
LAST_NAMES = "Ashdown Birchley Crane Dunmore Ellery".split()
AUTHORS = [f"{first} {last}" for last in LAST_NAMES for first in FIRST_NAMES]  # 40
WORDS = (
    "time money truth love work life people world friend night day reason power "
    "nothing always never good old young small great bad own other same know think "
    "make find give tell keep leave ask need seem feel try"
).split()


def write_quotations(folder, seed=0):
    """Fortune files in the real format: 3 attributed quotations by each of 40 authors
    (half with a quoted title, some attributions over two lines) among entries the
    builder must skip. Returns the quotations :func:`collect_quotations` must find."""
    rng = np.random.default_rng(seed)
    seen = set()

    def sentence(n):
        while True:
            words = [str(w) for w in rng.choice(WORDS, n)]
            if " ".join(words[:7]) not in seen:
                seen.add(" ".join(words[:7]))
                return " ".join(words).capitalize() + "."

    def entry(text, *attribution):
        words = text.split()
        return [" ".join(words[i : i + 8]) for i in range(0, len(words), 8)] + list(attribution)

    expected, files = [], {"alpha": [], "beta": [], "gamma.dat": []}
    for i, author in enumerate(AUTHORS * 3):
        text = sentence(int(rng.integers(9, 40)))
        title = "The " + " ".join(w.capitalize() for w in rng.choice(WORDS, 2)) if i % 2 else None
        attribution = f'{author}, "{title}"' if title else author + (", 1901" if i % 4 else "")
        lines = (
            (f"\t\t-- {author},", f'\t\t   "{title}"') if i % 6 == 1 else (f"\t\t-- {attribution}",)
        )
        files["alpha" if i < 60 else "beta"].append(entry(text, *lines))
        expected.append(
            {"text": text, "attribution": attribution, "author": author, "title": title}
        )
    files["alpha"][5:5] = [
        entry(sentence(12)),  # no attribution
        entry(sentence(12), "\t\t-- Seen on a wall"),  # names nobody
        entry(sentence(12), "\t-- Ada Crane", "More text.", "\t-- Hugo Crane"),
    ]
    files["beta"] += [
        entry(expected[0]["text"].upper(), "\t\t-- Hugo Ellery"),  # same text
        entry(
            " ".join(expected[1]["text"].split()[:7]) + " and more words.", "\t\t-- Hugo Ellery"
        ),  # same quoted first words
        entry(sentence(50), "\t\t-- Hugo Ellery"),  # too long for a passage
        entry("Too short.", "\t\t-- Hugo Ellery"),
    ]
    files["gamma.dat"].append(entry(sentence(12), "\t\t-- Hugo Ellery"))  # not a fortune file
    for name, entries in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write("\n%\n".join("\n".join(lines) for lines in entries) + "\n%\n")
    return expected


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fortunes")
    return str(folder), write_quotations(str(folder))


def test_parse_quotation_cuts_author_and_title():
    quote = fortunes_qa.parse_quotation(
        [
            "Simplicity is prerequisite for reliability, and that is",
            "all there is to it.",
            '\t\t-- Edsger W. Dijkstra, "How do we tell truths that',
            '\t\tmight hurt?", 1975',
        ]
    )
    assert quote["text"] == (
        "Simplicity is prerequisite for reliability, and that is all there is to it."
    )
    assert quote["author"] == "Edsger W. Dijkstra"
    assert quote["title"] == "How do we tell truths that might hurt?"
    assert quote["attribution"].endswith('hurt?", 1975')


@pytest.mark.parametrize(
    "lines",
    [
        ["No attribution at all, just a long enough sentence here."],
        ["Seen on a wall in a very long sentence of many words.", "\t-- Seen on a wall"],
        ["Too short.", "\t-- Mark Twain"],
        ["One two three four five six seven eight.", "\t-- A", "More text.", "\t-- B"],
        [
            "One two three four five six seven eight.",
            "\t-- One Two Three Four Five Six Seven Eight Nine",
        ],
    ],
)
def test_parse_quotation_rejects(lines):
    assert fortunes_qa.parse_quotation(lines) is None


def check_built(out, counts, min_questions):
    """The written SQuAD files: offsets, passages of 3-4 distinct authors, unique
    questions, authors split; returns ``{split: {authors}}``."""
    assert sorted(os.listdir(out)) == ["dev.json", "train.json"]  # no temp files left
    authors = {}
    for split in ("train", "dev"):
        examples, version_2 = squad.read_squad(str(out / f"{split}.json"))  # checks offsets
        assert not version_2
        assert len(examples) == counts[split]["questions"] > min_questions[split]
        assert len({e.context for e in examples}) == counts[split]["passages"]
        for e in examples:
            ((text, start),) = e.answers
            assert e.context[start : start + len(text)] == text
            assert text.strip() == text and text
            if e.qid.endswith("-author"):
                assert e.context[start - 4 : start] == " -- "  # the author opens its attribution
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
    return authors


def test_collect_quotations_keeps_exactly_the_usable_ones(source):
    folder, expected = source
    assert fortunes_qa.collect_quotations(folder) == expected


def test_written_files_read_back_and_answers_point_at_text(source, tmp_path):
    folder, expected = source
    counts = fortunes_qa.build_fortunes_qa(str(tmp_path), source_dir=folder)
    authors = check_built(tmp_path, counts, {"train": 100, "dev": 15})
    assert authors["train"] | authors["dev"] == set(AUTHORS)
    assert len(authors["dev"]) == round(0.15 * len(AUTHORS))
    for split in ("train", "dev"):
        with open(tmp_path / f"{split}.json") as f:
            data = json.load(f)
        author_questions = sum(
            qa["id"].endswith("-author") for p in data["data"][0]["paragraphs"] for qa in p["qas"]
        )
        # One per quotation of the split's authors (3 each), but for the leftovers that
        # fill no passage of 3 distinct authors: at most two authors' quotations.
        assert 3 * len(authors[split]) - 6 <= author_questions <= 3 * len(authors[split])
        # The first attribution is right exactly for each passage's first quotation.
        scores = fortunes_qa.baseline_scores(data, kinds=("author",))
        assert scores["first_attribution"]["exact"] == pytest.approx(
            100 * counts[split]["passages"] / author_questions
        )
        assert scores["first_sentence"]["exact"] == 0.0


@pytest.mark.skipif(not REAL, reason="Debian's fortunes package is not installed")
def test_real_fortunes_build(tmp_path):
    counts = fortunes_qa.build_fortunes_qa(str(tmp_path), max_train=600, max_dev=200)
    check_built(tmp_path, counts, {"train": 100, "dev": 100})


def test_deterministic_by_seed(source):
    folder, _ = source
    a, b, c = (fortunes_qa.make_fortunes_qa(folder, seed=seed) for seed in (5, 5, 6))
    assert a == b
    assert a["train"] != c["train"]


def test_missing_source_dir_raises(tmp_path):
    with pytest.raises(DataError, match="fortunes directory not found"):
        fortunes_qa.make_fortunes_qa(source_dir=str(tmp_path / "nowhere"))


def _qa(qid, question, context, answer, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = context.index(answer, start + 1)
    return {
        "context": context,
        "qas": [
            {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": start}]}
        ],
    }


def test_baselines_on_a_crafted_example(tmp_path):
    one = (
        "Dijkstra was here. -- Edsger Dijkstra\n"
        "Simplicity is prerequisite for reliability. -- Edsger W. Dijkstra"
    )
    two = (
        'Golf is a good walk spoiled. -- Mark Twain, "Notebook"\n'
        'Other words go on this line. -- Ann Author, "The Other Book"'
    )
    data = {
        "version": "v1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    _qa(
                        "q1-author",
                        'Who said "Simplicity is prerequisite for reliability..."?',
                        one,
                        "Edsger W. Dijkstra",
                    ),
                    _qa(
                        "q2-source",
                        'Which work is "Golf is a good walk spoiled..." from?',
                        two,
                        "Notebook",
                    ),
                ],
            }
        ],
    }
    path = str(tmp_path / "crafted.json")
    fortunes_qa.write_squad_json(data, path)
    assert len(squad.read_squad(path)[0]) == 2
    predictions = fortunes_qa.baseline_predictions(data)
    assert predictions["first_sentence"] == {
        "q1-author": "Dijkstra was here.",
        "q2-source": "Golf is a good walk spoiled.",
    }
    assert predictions["first_attribution"] == {
        "q1-author": "Edsger Dijkstra",
        "q2-source": "Notebook",
    }
    scores = fortunes_qa.baseline_scores(data)
    # q1: "dijkstra was here" vs "edsger w dijkstra": 1 shared token, P = R = 1/3 -> F1 1/3;
    # "edsger dijkstra": P = 1, R = 2/3 -> F1 0.8. q2: 0 and an exact match.
    assert scores["first_sentence"]["exact"] == 0.0
    assert scores["first_sentence"]["f1"] == pytest.approx(100 * (1 / 3 + 0) / 2)
    assert scores["first_attribution"]["exact"] == pytest.approx(50.0)
    assert scores["first_attribution"]["f1"] == pytest.approx(100 * (0.8 + 1) / 2)
    assert fortunes_qa.baseline_scores(data, kinds=("source",))["first_attribution"][
        "f1"
    ] == pytest.approx(100.0)
