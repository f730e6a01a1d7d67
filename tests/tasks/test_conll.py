"""CoNLL reading, BIO <-> IOBES, first-sub-token features and their mapping back, the
masked token loss, and conlleval's entity scores on crafted predictions."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.errors import DataError
from tfmodels.tasks import conll

TRAIN = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_conll_skips_docstart_and_keeps_line_numbers(tmp_path):
    sentences = conll.read_conll(write(tmp_path, "train.txt", TRAIN))
    assert [s.words for s in sentences] == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
    ]
    assert sentences[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert sentences[1].lines == [9, 10]
    assert conll.label_set(sentences) == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"]


def test_bad_files_name_file_and_line(tmp_path):
    bad = TRAIN.replace("call NN I-NP O", "call NN O")
    path = write(tmp_path, "train.txt", bad)
    with pytest.raises(DataError, match=r"train\.txt:6: expected 4 columns .* got 3"):
        conll.read_conll(path)
    with pytest.raises(DataError, match="file not found"):
        conll.read_conll(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match=r"dev file not found: .*valid\.txt or .*dev\.txt"):
        conll.find_split(str(tmp_path), "dev")
    write(tmp_path, "dev.txt", TRAIN)
    assert conll.find_split(str(tmp_path), "dev").endswith("dev.txt")
    sentences = conll.read_conll(write(tmp_path, "valid.txt", TRAIN.replace("B-PER", "B-PERSON")))
    with pytest.raises(DataError, match=r"valid\.txt:9: tag 'B-PERSON' is not in the label set"):
        conll.label_ids(
            sentences,
            conll.label_set(conll.read_conll(path.replace("train.txt", "dev.txt"))),
            str(tmp_path / "valid.txt"),
        )
    broken = conll.read_conll(write(tmp_path, "x.txt", "a NN X-PER\n"))
    with pytest.raises(DataError, match=r"x\.txt:1: tag 'X-PER'"):
        conll.convert_sentences(broken, "BIO", str(tmp_path / "x.txt"))


def test_bio_iobes_conversion_round_trips():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG"]
    iobes = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG"]
    assert conll.convert(bio, "IOBES") == iobes
    assert conll.convert(iobes, "BIO") == bio
    assert conll.convert(conll.convert(iobes, "BIO"), "IOBES") == iobes
    # IOB1 (the original CoNLL-2003 files: I- opens a chunk, B- only between two of a type)
    assert conll.convert(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "BIO") == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
    ]
    sentences = [conll.Sentence(["a"], ["S-PER"], [1])]
    assert conll.detect_scheme(sentences) == "IOBES"


@pytest.mark.parametrize(
    "tags",
    [
        ["O", "E-PER", "S-PER", "I-PER", "B-LOC", "E-ORG"],
        ["I-PER", "B-PER", "I-PER", "I-LOC", "O", "I-LOC"],
        ["B-PER", "E-LOC", "I-LOC", "S-MISC", "E-MISC", "O"],
    ],
)
def test_chunks_follow_conlleval_as_seqeval_does(tags):
    from seqeval.metrics.sequence_labeling import get_entities

    assert conll.chunks(tags) == get_entities(tags)


def test_entity_scores_on_crafted_predictions():
    gold = [["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-ORG", "O", "B-MISC", "O"]]
    predicted = [
        ["B-PER", "O", "O", "O", "B-ORG", "I-ORG", "O"],  # boundary and type errors
        ["B-ORG", "O", "B-MISC", "B-MISC"],
    ]  # right, right, spurious
    # Gold chunks 4; predicted 5 (PER 0-0, ORG 4-5, ORG, MISC, MISC); 2 right.
    expected = {
        "precision": 2 / 5,
        "recall": 2 / 4,
        "f1": 2 * 0.4 * 0.5 / 0.9,
        "accuracy": 7 / 11,
        "f1_PER": 0.0,
        "f1_LOC": 0.0,
        "f1_ORG": 2 / 3,
        "f1_MISC": 2 / 3,
    }
    for scheme in ("BIO", "IOBES"):  # the same chunks in either scheme
        g = [conll.convert(t, scheme) for t in gold]
        p = [conll.convert(t, scheme) for t in predicted]
        got = conll.entity_metrics(g, p)
        for key, value in expected.items():
            if key != "accuracy" or scheme == "BIO":  # tags differ token by token in IOBES
                assert got[key] == pytest.approx(value), (scheme, key)
        assert got["per_type"]["ORG"] == pytest.approx(
            {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
        )
        assert got["per_type"]["LOC"]["support"] == 1
    # conlleval: I-X after O opens a chunk, so this prediction is right.
    assert conll.entity_metrics([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]])["f1"] == 1.0


@pytest.fixture(scope="module")
def preprocessor(minilm_path):
    return tfmodels.preprocessor_from_pretrained(minilm_path, seq_length=8)


def test_first_subtoken_labels_and_mapping_back(preprocessor):
    words = ["Johanson", "\u200b", "visited", "U.N.", "in", "Gdańsk"]
    sentences = [
        conll.Sentence(words, ["B-PER", "O", "O", "B-ORG", "O", "B-LOC"], list(range(1, 7))),
        conll.Sentence(["the"] * 9, ["O"] * 9, list(range(8, 17))),
        conll.Sentence(["antidisestablishmentarianism", "x"], ["B-MISC", "O"], [18, 19]),
    ]
    labels = ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER"]
    ids = conll.label_ids(sentences, labels, "t")
    f = conll.make_features(sentences, preprocessor, ids)
    pieces = conll.word_pieces(sentences, preprocessor)
    unk = preprocessor.tokenizer.token_to_id("[UNK]")
    assert [len(p) for p in pieces[0]] == [2, 1, 1, 4, 1, 1] and pieces[0][1] == [unk]
    # Budget 6 sub-tokens a window: words split at word boundaries, never inside a word.
    assert [(n, first, positions) for n, first, positions in f.windows] == [
        (0, 0, [1, 3, 4]),
        (0, 3, [1, 5, 6]),
        (1, 0, [1, 2, 3, 4, 5, 6]),
        (1, 6, [1, 2, 3]),
        (2, 0, [1]),
        (2, 1, [1]),
    ]
    assert f.truncated_words == 1  # 8 pieces cut to 6
    for r, (n, first, positions) in enumerate(f.windows):
        length = int(f.input_mask[r].sum())
        assert f.input_ids[r, 0] == 101 and f.input_ids[r, length - 1] == 102
        assert (f.input_ids[r, length:] == 0).all()
        for k, position in enumerate(positions):
            word = pieces[n][first + k][:6]
            np.testing.assert_array_equal(f.input_ids[r, position : position + len(word)], word)
        assert f.weights[r].sum() == len(positions)
        np.testing.assert_array_equal(np.nonzero(f.weights[r])[0], positions)
    assert f.weights.sum() == sum(len(s.words) for s in sentences)
    assert conll.words_from_rows(f.labels, f) == ids
    with pytest.raises(DataError, match=r"t:8: the sentence has 9 sub-tokens.*split_long"):
        conll.make_features(sentences[1:], preprocessor, ids[1:], split_long=False, path="t")


def test_token_loss_ignores_weight_zero_positions():
    labels = tf.constant([[0, 2, 1]])
    weights = tf.constant([[0.0, 1.0, 1.0]])
    logits = np.log(np.array([[[0.1, 0.1, 0.8], [0.2, 0.2, 0.6], [0.3, 0.5, 0.2]]]))
    loss, metrics = conll.token_loss(tf.constant(logits, tf.float32), labels, weights)
    assert float(loss) == pytest.approx(-(np.log(0.6) + np.log(0.5)) / 2, rel=1e-5)
    assert float(metrics["accuracy"]) == pytest.approx(1.0)  # position 0 is wrong but ignored
