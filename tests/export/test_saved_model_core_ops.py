"""A raw-text SavedModel that a stock TF Serving binary (no tensorflow-text ops) can load.

The export's WordPiece and byte-level BPE preprocessors become core-op twins
(``tokenizer_ops="auto"``). A fresh process that has TensorFlow alone, with imports of
tensorflow_text and tfmodels blocked, loads each SavedModel, checks that every op
its graphs name is registered there (a tf-text op would not be), and answers raw
strings with the logits the Keras model gives on the tf-text features.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tfmodels.errors import ConfigError
from tfmodels.export.saved_model import _serving_preprocessor
from tfmodels.tokenizers.core_wordpiece import CoreWordPieceTokenizer

TEXTS = [
    "a test sentence",
    "Ärger CAFÉ naïve façade 🙂 東京は日本の首都です。",
    "",
    "   \t ",
    "Supercalifragilisticexpialidocious words, punctuation!!! and a rather long text "
    "that goes on well past the sequence length of the export",
    "tab\tnew\nline \u200b\x00 e\u0301",
]
PAIRED = ["second segment", "", "a b c d e f g h i j k l m n o p", "short", "x", "é"]
TF_TEXT_OPS = (
    "Wordpiece",
    "FastWordpiece",
    "FastBertNormalize",
    "RegexSplitWithOffsets",
    "NormalizeUTF8",
    "CaseFoldUTF8",
    "Sentencepiece",
    "UnicodeScriptTokenize",
    "SplitMergeTokenize",
    "WhitespaceTokenize",
)

SERVE = r"""
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow_text", "tfmodels"):
            raise ImportError(f"{name} is blocked: a stock TF Serving binary has no such ops")

sys.meta_path.insert(0, Block())
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

texts, paired, tf_text_ops = json.loads(sys.argv[1])
result = {}
for name, export_dir in json.loads(sys.argv[2]).items():
    proto = saved_model_pb2.SavedModel()
    with open(f"{export_dir}/saved_model.pb", "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node} | {
        n.op for f in graph.library.function for n in f.node_def
    }
    loaded = tf.saved_model.load(export_dir)
    fn = loaded.signatures["serving_default"]
    inputs = sorted(fn.structured_input_signature[1])
    args = {"text": texts} if inputs == ["text"] else {"text_a": texts, "text_b": paired}
    out = fn(**{k: tf.constant(v) for k, v in args.items()})
    result[name] = {
        "inputs": inputs,
        "unregistered": sorted(op for op in ops if op_def_registry.get(op) is None),
        "tf_text_like": sorted(op for op in ops if any(t in op for t in tf_text_ops)),
        "while_loops": sorted(op for op in ops if "While" in op),
        "logits": out["logits"].numpy().tolist(),
    }
result["modules"] = sorted(
    m for m in sys.modules if m.split(".")[0] in ("tensorflow_text", "tfmodels")
)
assert "tensorflow_text" not in sys.modules
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tiny_checkpoint):
    """{name: (keras model, tf-text preprocessor, export dir, pair?)}: a BERT classifier
    with WordPiece and a RoBERTa classifier with byte-level BPE, exported for pairs."""
    root = tmp_path_factory.mktemp("core_ops")
    roberta_dir = root / "roberta"
    shutil.copytree(fixture_path("roberta_tiny_classifier"), roberta_dir)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(fixture_path("roberta_bpe", name), roberta_dir)
    bert = tfmodels.from_pretrained(tiny_checkpoint, architecture="classification", num_labels=3)
    roberta = tfmodels.from_pretrained(str(roberta_dir))
    for weight in bert.weights:  # tiny random weights: logits that differ from text to
        if weight.name.startswith(("pooler/", "classifier/")) and "kernel" in weight.name:
            weight.assign(weight * 20.0)  # text by well more than the tolerance
    result = {}
    for name, model, path, pair in (
        ("wordpiece", bert, tiny_checkpoint, False),
        ("byte_bpe", roberta, str(roberta_dir), True),
    ):
        pre = tfmodels.preprocessor_from_pretrained(path, seq_length=16)
        export_dir = str(root / name)
        tfmodels.export.saved_model(model, export_dir, preprocessor=pre, pair=pair)
        result[name] = model, pre, export_dir, pair
    return result


def test_stock_tensorflow_serves_raw_text_without_tf_text(exports):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    dirs = {name: export_dir for name, (_, _, export_dir, _) in exports.items()}
    result = subprocess.run(
        [sys.executable, "-c", SERVE, json.dumps([TEXTS, PAIRED, TF_TEXT_OPS]), json.dumps(dirs)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=os.path.dirname(next(iter(dirs.values()))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served.pop("modules") == []
    for name, (model, pre, _, pair) in exports.items():
        got = served[name]
        assert got["unregistered"] == [] and got["tf_text_like"] == [], got
        assert got["while_loops"], name  # the tokenizer's loops are in the graph
        features = pre((tf.constant(TEXTS), tf.constant(PAIRED)) if pair else tf.constant(TEXTS))
        expected = model(features)["logits"].numpy()
        assert got["inputs"] == (["text_a", "text_b"] if pair else ["text"])
        np.testing.assert_allclose(got["logits"], expected, atol=1e-5, err_msg=name)
        # Features that differ give logits 10 tolerances apart: the check can fail.
        ids = features["input_ids"].numpy()
        differ = (ids[:, np.newaxis] != ids[np.newaxis]).any(-1)
        gaps = np.abs(expected[:, np.newaxis] - expected[np.newaxis]).max(-1)
        assert differ.sum() >= 20 and gaps[differ].min() > 1e-4, gaps


def test_vocabulary_file_stays_an_asset(exports):
    assert "vocab.txt" in os.listdir(os.path.join(exports["wordpiece"][2], "assets"))


def test_tokenizer_ops_choices(exports, tmp_path):
    """``"core"`` refuses SentencePiece (no core twin), an unknown value is refused,
    both before anything is written; ``"tf_text"`` keeps tf-text's ops."""
    model = exports["wordpiece"][0]
    spm = tfmodels.preprocessor_from_pretrained(fixture_path("albert_spiece"), seq_length=16)
    with pytest.raises(
        ConfigError, match="Preprocessor with a SentencePieceTokenizer has no core-TF-ops"
    ):
        tfmodels.export.saved_model(model, str(tmp_path / "a"), spm, tokenizer_ops="core")
    with pytest.raises(ConfigError, match="tokenizer_ops 'tf-text'; known: auto, core, tf_text"):
        tfmodels.export.saved_model(model, str(tmp_path / "b"), spm, tokenizer_ops="tf-text")
    assert os.listdir(tmp_path) == []
    pre = exports["wordpiece"][1]
    assert _serving_preprocessor(spm, "auto") is spm
    assert _serving_preprocessor(pre, "tf_text") is pre
    assert isinstance(_serving_preprocessor(pre, "core").tokenizer, CoreWordPieceTokenizer)
