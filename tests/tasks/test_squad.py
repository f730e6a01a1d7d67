"""SQuAD reading, windowing (char offsets -> tokens -> text round trips) and decoding."""

import json
import os

import numpy as np
import pytest

import tfmodels
from tests.conftest import fixture_path, minilm_dir
from tfmodels.errors import DataError
from tfmodels.tasks import squad

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu"
).split()
CONTEXT = (
    "In 1990 the café of Zürich (a small place) was opened by Anna Smith. "
    + " ".join(WORDS)
    + ". It closed in 2011, after the flood."
)
LONG_ANSWER = " ".join(WORDS[2:22])  # 20 tokens: more than any window holds


def qa(qid, question, answer=None, impossible=False, plausible=None, context=CONTEXT):
    row = {"id": qid, "question": question, "answers": []}
    if answer is not None:
        row["answers"] = [{"text": answer, "answer_start": context.index(answer)}]
    if impossible:
        row["is_impossible"] = True
        row["plausible_answers"] = [{"text": plausible, "answer_start": context.index(plausible)}]
    return row


def write_squad(path, questions, context=CONTEXT, version="1.1"):
    data = {
        "version": version,
        "data": [{"title": "t", "paragraphs": [{"context": context, "qas": questions}]}],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return str(path)


QUESTIONS = [
    qa("early", "Who opened it?", "Anna Smith"),
    qa("accent", "Where?", "café of Zürich"),
    qa("late", "When did it close?", "2011"),
    qa("long", "Which words?", LONG_ANSWER),
]


@pytest.fixture(scope="module")
def wordpiece():
    return tfmodels.preprocessor_from_pretrained(minilm_dir(), 24)


def convert(preprocessor, questions, tmp_path, context=CONTEXT):
    examples, _ = squad.read_squad(write_squad(tmp_path / "s.json", questions, context))
    return examples, squad.convert_examples(
        examples, preprocessor, 24, doc_stride=5, max_query_length=6
    )


def spans(examples, features):
    """{qid: [(window number, text of the target span)]} for windows holding the answer."""
    out, window = {}, {}
    for row, index in enumerate(features.example_index):
        qid = examples[index].qid
        window[qid] = window.get(qid, -1) + 1
        s, e = features.start_positions[row], features.end_positions[row]
        if s:
            text = examples[index].context[
                features.token_start[row, s] : features.token_end[row, e]
            ]
            out.setdefault(qid, []).append((window[qid], text))
    return out, window


def test_windows_round_trip_every_gold_answer(wordpiece, tmp_path):
    examples, features = convert(wordpiece, QUESTIONS, tmp_path)
    found, windows = spans(examples, features)
    answers = {e.qid: e.answers[0][0] for e in examples}
    for qid in ("early", "accent", "late"):
        assert found[qid] and all(text == answers[qid] for _, text in found[qid]), qid
    assert found["early"][0][0] == 0 and found["accent"][0][0] == 0
    assert min(w for w, _ in found["late"]) >= 2 and windows["late"] >= 3  # only later windows
    assert "long" not in found  # in no window whole: every window points at [CLS]
    rows = features.example_index == 3
    assert not features.start_positions[rows].any() and not features.end_positions[rows].any()
    # [CLS] question [SEP] passage [SEP] [PAD]..., passage in segment 1
    vocab = wordpiece.tokenizer.vocab
    first = [vocab[i] for i in features.input_ids[0][:6]]
    assert first == ["[CLS]", "who", "opened", "it", "?", "[SEP]"]
    assert list(features.segment_ids[0][:7]) == [0] * 6 + [1]
    assert (features.token_start[features.example_index == 0][:, :6] == -1).all()
    # every passage token of an example is the max-context token of exactly one window
    for index in range(len(examples)):
        rows = features.example_index == index
        starts = features.token_start[rows][features.max_context[rows]]
        tokens = squad.tokenize_with_offsets(wordpiece.tokenizer, [CONTEXT])[0][0]
        assert len(starts) == len(tokens)


def test_offsets_give_the_tokenizers_ids_and_original_text(wordpiece):
    text = "Zürich's  ÉCOLE\u00a0opened, in 1990s \x00 ﬁne."
    ids, starts, ends = squad.tokenize_with_offsets(wordpiece.tokenizer, [text])[0]
    assert list(ids) == list(wordpiece.tokenizer([text])[0].numpy())
    pieces = [text[s:e] for s, e in zip(starts, ends)]
    assert pieces[:5] == ["Zürich", "'", "s", "ÉCOLE", "opened"]
    assert "1990s" in "".join(pieces) or pieces.count("1990") == 1
    bpe = tfmodels.preprocessor_from_pretrained(fixture_path("roberta_bpe"), 24)
    text = text.replace("\x00", "")  # the byte-BPE tokenizer stops at a NUL character
    ids, starts, ends = squad.tokenize_with_offsets(bpe.tokenizer, [text])[0]
    assert list(ids) == list(bpe.tokenizer([text])[0].numpy())
    assert all(not text[s].isspace() for s, e in zip(starts, ends) if text[s:e].strip())
    assert (np.diff(starts) >= 0).all() and (ends > starts).all()
    covered = {i for s, e in zip(starts, ends) for i in range(s, e)}
    assert covered >= {i for i, c in enumerate(text) if not c.isspace()}  # bytes -> every char
    assert ends[-1] == len(text)


@pytest.mark.parametrize("fixture", ["roberta_bpe", "albert_spiece"])
def test_other_tokenizers_round_trip_whole_word_answers(fixture, tmp_path):
    """Byte-BPE has exact offsets; SentencePiece spans whole words (answers here are)."""
    preprocessor = tfmodels.preprocessor_from_pretrained(fixture_path(fixture), 24)
    questions = [
        qa("who", "Who opened it?", "Anna"),
        qa("late", "When did it close?", "2011,"),
        qa("mid", "Which?", "tango uniform"),
    ]
    examples, features = convert(preprocessor, questions, tmp_path)
    found, _ = spans(examples, features)
    for example in examples:
        assert found[example.qid] and all(t == example.answers[0][0] for _, t in found[example.qid])
    if fixture == "roberta_bpe":  # <s> q </s></s> passage </s>, one token type
        packer = preprocessor.packer
        q = min(6, len(preprocessor.tokenizer(["Who opened it?"])[0]))
        assert features.input_ids[0][q + 1] == features.input_ids[0][q + 2] == packer.end_id
        assert (features.segment_ids == 0).all()


def test_decode_maps_best_spans_back_and_scores_no_answer(wordpiece, tmp_path):
    examples, features = convert(wordpiece, QUESTIONS, tmp_path)
    n = len(features)
    starts, ends = np.full((n, 24), -5.0), np.full((n, 24), -5.0)
    rows = np.arange(n)
    starts[rows, features.start_positions] = 5.0  # "perfect" logits: the targets
    ends[rows, features.end_positions] = 5.0
    answers, null_odds = squad.decode(examples, features, starts, ends)
    assert answers["early"] == "Anna Smith" and answers["late"] == "2011"
    assert answers["accent"] == "café of Zürich"
    assert null_odds["early"] < 0 < null_odds["long"]  # "long" has its targets at [CLS]
    assert answers["long"] and len(answers["long"].split()) <= 30
    final = squad.apply_threshold(answers, null_odds, 0.0)
    assert final["long"] == "" and final["early"] == "Anna Smith"
    assert squad.apply_threshold(answers, null_odds, 1e10)["long"] == answers["long"]
    short, _ = squad.decode(examples, features, starts, ends, max_answer_length=1)
    assert len(short["early"].split()) == 1


def test_v2_unanswerable_questions_target_cls(wordpiece, tmp_path):
    questions = [qa("no", "Who sold it?", impossible=True, plausible="Anna Smith"), QUESTIONS[0]]
    examples, features = convert(wordpiece, questions, tmp_path)
    no = examples[0]
    assert no.is_impossible and no.answers == [] and no.plausible_answers[0][0] == "Anna Smith"
    assert squad.gold_answers(examples) == {"no": [], "early": ["Anna Smith"]}
    assert not features.start_positions[features.example_index == 0].any()
    _, version_2 = squad.read_squad(write_squad(tmp_path / "v2.json", questions, version="v2.0"))
    assert version_2


def test_bad_input_is_a_data_error_naming_file_and_question(wordpiece, tmp_path):
    bad = qa("q7", "Who?", "Anna Smith")
    bad["answers"][0]["answer_start"] += 1
    path = write_squad(tmp_path / "bad.json", [bad])
    with pytest.raises(
        DataError,
        match=r"bad\.json: question q7: answer 'Anna Smith' does "
        r"not match the context at answer_start",
    ):
        squad.read_squad(path)
    (tmp_path / "broken.json").write_text('{"data": [')
    with pytest.raises(DataError, match="broken.json:1: not valid JSON: Expecting value"):
        squad.read_squad(str(tmp_path / "broken.json"))
    (tmp_path / "shape.json").write_text('{"data": [{"paragraphs": [{"qas": []}]}]}')
    with pytest.raises(DataError, match="missing 'context'"):
        squad.read_squad(str(tmp_path / "shape.json"))
    with pytest.raises(DataError, match="not found"):
        squad.read_squad(str(tmp_path / "none.json"))
    control = "\x01\x02"
    with pytest.raises(DataError, match="q1: the tokenizer makes no tokens of its passage"):
        convert(wordpiece, [qa("q1", "Who?", control, context=control)], tmp_path, control)
    context = "Anna \x01 Smith"
    with pytest.raises(DataError, match="q2: the tokenizer cannot represent the answer"):
        examples, _ = squad.read_squad(
            write_squad(
                tmp_path / "c.json", [qa("q2", "Who?", "\x01", context=context)], context=context
            )
        )
        squad.convert_examples(examples, wordpiece, 24)
    assert sorted(os.listdir(tmp_path)) == [
        "bad.json",
        "broken.json",
        "c.json",
        "s.json",
        "shape.json",
    ]
