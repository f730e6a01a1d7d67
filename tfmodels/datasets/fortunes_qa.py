"""A real-text extractive QA set in SQuAD v1.1 format, built from Debian's ``fortunes``.

Many fortunes are quotations closed by an attribution line (``-- Mark Twain, "Title"``).
A passage here is 3-4 such quotations, each with its attribution, and each quotation
gets questions about itself that quote its first words:

* ``author``: ``Who said "<first 7 words>..."?`` -> the author (the attribution up to
  its first comma, quote or parenthesis);
* ``source``: ``Which work is "<first 7 words>..." from?`` -> the quoted title of the
  attribution, asked only where another quotation of the passage also has a title.

The other quotations' authors and titles in the same passage are distractors of the
right type, so neither the answer type nor its position gives the answer: the reader
has to match the quoted words (SQuAD's "lexical variation" is absent, but the span
must be the one tied to the quoted sentence; Rajpurkar et al. 2016, section 4).
Authors (all their quotations) go to one split only, so dev authors are unseen in
training; a passage never holds two quotations of one author (or one title).

:func:`baseline_predictions` gives two trivial baselines scored with the official
metric (:mod:`tfmodels.tasks.squad_metrics`): the passage's first sentence (the
position prior of SQuAD's sliding-window baselines, section 5) and the first
attribution of the right type in the passage (knows the answer type and where
answers live, ignores the question's quote: expected EM ~ 1 / quotations per passage).
"""

import json
import os
import re

import numpy as np

from tfmodels.atomic import atomic_write
from tfmodels.datasets.fortunes import FORTUNES_DIR
from tfmodels.errors import DataError
from tfmodels.tasks.squad_metrics import squad_evaluate

TEMPLATES = {"author": 'Who said "{quote}..."?', "source": 'Which work is "{quote}..." from?'}
QUOTE_WORDS = 7
MAX_AUTHOR_WORDS = 8
# Attribution lines that name no speaker ("-- Seen on a bumper sticker").
_NOT_A_NAME = {
    "a",
    "an",
    "the",
    "from",
    "seen",
    "overheard",
    "heard",
    "found",
    "written",
    "sign",
    "graffiti",
    "bumper",
    "anonymous",
    "unknown",
    "as",
    "in",
    "on",
    "at",
    "by",
    "quoted",
    "attributed",
    "posted",
    "printed",
    "message",
    "button",
    "motto",
    "epitaph",
    "ad",
    "advertisement",
    "inscription",
    "told",
    "said",
    "after",
    "with",
    "variously",
    "anon",
    "misc",
    "various",
    "author",
}
_ATTRIBUTION = re.compile(r"^\s+(--|~~)\s+(.*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|.\x08")
_AUTHOR_END = re.compile(r'[,"(\[;:<]|\s-\s|\s(?:in|on|about|to|at)\s')
_TITLE = re.compile(r'"([^"]{3,80})"')
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")


def _clean(text):
    return re.sub(r"\s+", " ", _CONTROL.sub("", text)).strip()


def _key(text):
    return re.sub(r"\W+", " ", text.lower()).strip()


def parse_quotation(lines):
    """``{"text", "attribution", "author", "title"}`` for one fortune, or None when it
    is not a quotation with one closing attribution and a usable author."""
    starts = [i for i, line in enumerate(lines) if _ATTRIBUTION.match(line)]
    if len(starts) != 1 or starts[0] == 0:
        return None
    at = starts[0]
    # Everything after the attribution line must be its indented continuation.
    if any(not line[:1].isspace() for line in lines[at + 1 :] if line.strip()):
        return None
    text = _clean(" ".join(lines[:at]))
    attribution = _clean(" ".join([_ATTRIBUTION.match(lines[at]).group(2)] + lines[at + 1 :]))
    author = _AUTHOR_END.split(attribution, 1)[0].strip().rstrip(".")
    words = author.split()
    if (
        not words
        or len(words) > MAX_AUTHOR_WORDS
        or not words[0][:1].isupper()
        or words[0].lower().strip(".,") in _NOT_A_NAME
        or not re.search(r"[A-Za-z]", author)
    ):
        return None
    if len(text.split()) <= QUOTE_WORDS or '"' in " ".join(text.split()[:QUOTE_WORDS]):
        return None
    if " -- " in text or " -- " in attribution:
        return None  # the passage marks attributions with " -- "
    match = _TITLE.search(attribution[len(author) :])
    title = match.group(1).strip() if match else None
    return {
        "text": text,
        "attribution": attribution,
        "author": author,
        "title": title if title and re.search(r"[A-Za-z]", title) else None,
    }


def read_quotations(path, max_words=45):
    """The quotations of one fortune file (see :func:`parse_quotation`), at most
    ``max_words`` words of text each so a passage of four fits one 192-token window."""
    entries, current = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line == "%":
                entries.append(current)
                current = []
            else:
                current.append(line)
    entries.append(current)
    quotes = []
    for lines in entries:
        quote = parse_quotation(lines)
        if quote and len(quote["text"].split()) <= max_words:
            quotes.append(quote)
    return quotes


def _topic_files(source_dir):
    if not os.path.isdir(source_dir):
        raise DataError(
            f"fortunes directory not found: {source_dir} (install Debian's `fortunes` package)"
        )
    names = sorted(
        n
        for n in os.listdir(source_dir)
        if "." not in n and os.path.isfile(os.path.join(source_dir, n))
    )
    if not names:
        raise DataError(f"no fortune files in {source_dir}")
    return [os.path.join(source_dir, n) for n in names]


def _quote_of(text):
    return " ".join(text.split()[:QUOTE_WORDS])


def collect_quotations(source_dir=FORTUNES_DIR):
    """Every usable quotation of every fortune file, deduplicated by text and by the
    words a question quotes (so questions are unique), in file order."""
    seen_text, seen_quote, quotes = set(), set(), []
    for path in _topic_files(source_dir):
        for quote in read_quotations(path):
            text_key, quote_key = _key(quote["text"]), _key(_quote_of(quote["text"]))
            if text_key in seen_text or quote_key in seen_quote:
                continue
            seen_text.add(text_key)
            seen_quote.add(quote_key)
            quotes.append(quote)
    return quotes


def _group(quotes, rng, sizes=(3, 4)):
    """Passages of 3-4 quotations with distinct authors and titles (order kept random)."""
    pending, passages = [], []
    for quote in quotes:
        keys = {("author", _key(quote["author"]))}
        if quote["title"]:
            keys.add(("title", _key(quote["title"])))
        pending.append(dict(quote, keys=keys))
    while pending:
        size, group, rest, taken = int(rng.choice(sizes)), [], [], set()
        for quote in pending:
            keys = quote["keys"]
            if len(group) >= size or keys & taken:
                rest.append(quote)
            else:
                group.append(quote)
                taken |= keys
        if len(group) < min(sizes):
            break  # the leftovers all share an author: too few for a passage
        passages.append(group)
        pending = rest
    return passages


def _article(passages, split, templates):
    paragraphs = []
    for p, group in enumerate(passages):
        context, spans = "", []
        for quote in group:
            if context:
                context += "\n"
            context += quote["text"] + " -- "
            author_start = len(context)
            context += quote["attribution"]
            spans.append(author_start)
        qas = []
        for q, (quote, author_start) in enumerate(zip(group, spans)):
            answers = {"author": (quote["author"], author_start)}
            if quote["title"] and sum(bool(other["title"]) for other in group) >= 2:
                answers["source"] = (
                    quote["title"],
                    context.index(f'"{quote["title"]}"', author_start + len(quote["author"])) + 1,
                )
            for kind in templates:
                if kind not in answers:
                    continue
                text, start = answers[kind]
                assert context[start : start + len(text)] == text
                qas.append(
                    {
                        "id": f"fortunes-{split}-{p}-{q}-{kind}",
                        "question": TEMPLATES[kind].format(quote=_quote_of(quote["text"])),
                        "answers": [{"text": text, "answer_start": start}],
                    }
                )
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "v1.1", "data": [{"title": f"fortunes-{split}", "paragraphs": paragraphs}]}


def make_fortunes_qa(
    source_dir=FORTUNES_DIR,
    seed=13,
    dev_fraction=0.15,
    templates=("author", "source"),
    max_train=None,
    max_dev=None,
):
    """``{"train": squad_json, "dev": squad_json}``: deterministic for a seed. Authors are
    split (all of an author's quotations in one split); ``max_train``/``max_dev`` cap
    the quotations per split (before grouping into passages)."""
    unknown = [t for t in templates if t not in TEMPLATES]
    if unknown:
        raise DataError(f"unknown fortunes QA template(s) {unknown}; known: {sorted(TEMPLATES)}")
    quotes = collect_quotations(source_dir)
    rng = np.random.default_rng(seed)
    authors = sorted({_key(q["author"]) for q in quotes})
    dev_authors = set(
        authors[i] for i in rng.permutation(len(authors))[: int(round(dev_fraction * len(authors)))]
    )
    splits = {}
    for split, cap in (("train", max_train), ("dev", max_dev)):
        members = [q for q in quotes if (_key(q["author"]) in dev_authors) == (split == "dev")]
        members = [members[i] for i in rng.permutation(len(members))][:cap]
        splits[split] = _article(_group(members, rng), split, templates)
    return splits


def write_squad_json(data, path):
    """Writes one SQuAD JSON under a temporary name, then renames it."""
    with atomic_write(path) as f:
        json.dump(data, f, ensure_ascii=False, indent=1)


def build_fortunes_qa(out_dir, **kwargs):
    """Writes ``train.json`` and ``dev.json`` (SQuAD v1.1) to ``out_dir``; returns
    ``{split: {"passages": n, "questions": n}}``. Keyword arguments as
    :func:`make_fortunes_qa`."""
    splits = make_fortunes_qa(**kwargs)
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for split, data in splits.items():
        write_squad_json(data, os.path.join(out_dir, f"{split}.json"))
        paragraphs = data["data"][0]["paragraphs"]
        counts[split] = {
            "passages": len(paragraphs),
            "questions": sum(len(p["qas"]) for p in paragraphs),
        }
    return counts


# ------------------------------------------------------------------------------ baselines


def first_sentence(context):
    """The passage up to its first sentence end (``.!?`` before a space, or a line end)."""
    match = _SENTENCE_END.search(context)
    return context[: match.end()].strip() if match else context.strip()


def first_attribution(context, question):
    """The first answer of the question's type in the passage: the first author for
    "Who ..." questions, the first quoted title after an attribution otherwise."""
    for line in context.split("\n"):
        at = line.find(" -- ")
        if at < 0:
            continue
        attribution = line[at + 4 :]
        if question.startswith("Who"):
            return _AUTHOR_END.split(attribution, 1)[0].strip().rstrip(".")
        match = _TITLE.search(attribution)
        if match:
            return match.group(1).strip()
    return ""


BASELINES = {
    "first_sentence": lambda context, question: first_sentence(context),
    "first_attribution": first_attribution,
}


def baseline_predictions(dataset):
    """``{baseline: {qid: text}}`` for a SQuAD JSON dict (as written by this module)."""
    predictions = {name: {} for name in BASELINES}
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for name, predict in BASELINES.items():
                    predictions[name][qa["id"]] = predict(paragraph["context"], qa["question"])
    return predictions


def golds_of(dataset):
    """``{qid: [answer texts]}`` of a SQuAD JSON dict."""
    return {
        qa["id"]: [a["text"] for a in qa["answers"]]
        for article in dataset["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }


def baseline_scores(dataset, kinds=None):
    """``{baseline: {"exact", "f1", "total"}}`` with the official SQuAD metric; ``kinds``
    restricts to question templates (the id's last part, e.g. ``("author",)``)."""
    golds = golds_of(dataset)
    if kinds is not None:
        golds = {q: a for q, a in golds.items() if q.rsplit("-", 1)[-1] in kinds}
    return {
        name: squad_evaluate(golds, preds) for name, preds in baseline_predictions(dataset).items()
    }
