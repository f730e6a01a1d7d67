"""SavedModel for TF Serving: raw text in (tokenizer inside, vocab as an asset), scores out.

Two signatures: ``serving_default`` takes strings (``text``, or ``text_a``/``text_b``
for pair tasks) and ``serve_ids`` takes ``input_ids``/``input_mask``/``segment_ids``.
A classifier returns ``logits``, ``probabilities`` and ``label`` (the label name
when names are known); a backbone returns ``sequence_output``/``pooled_output``.

Besides the signatures, the loaded object's ``serve_input_ids(input_ids)`` answers as
``serve_ids`` with the mask all ones and the segments 0, as HF models called with
``input_ids`` alone (a function for ``tf.saved_model.load`` users, not a signature:
signatures have no optional inputs, and TF Serving's clients see the two above).

``tokenizer_ops`` picks the ops that tokenize inside ``serving_default``. A stock TF
Serving model server has no tensorflow-text kernels; WordPiece and byte-level BPE
have twins built from core TensorFlow ops only (``tfmodels/tokenizers/core_*.py``,
same ids), which ``"auto"`` and ``"core"`` use. SentencePiece has none: ``"auto"``
keeps tf-text for it (such a SavedModel needs a server with tf-text's ops),
``"core"`` refuses it.
"""

import os
import shutil

import tensorflow as tf

from tfmodels.atomic import atomic_path
from tfmodels.errors import ConfigError
from tfmodels.models.base import FEATURE_DEFAULTS, complete_features

_IDS = ("input_ids", "input_mask", "segment_ids")
TOKENIZER_OPS = ("auto", "core", "tf_text")


def core_ops_preprocessor(preprocessor):
    """The twin of ``preprocessor`` built from core TF ops only, or None where there is
    none (SentencePiece, or a preprocessor class with its own ``call``)."""
    from tfmodels.tokenizers import (
        ByteBPEPreprocessor,
        ByteBPETokenizer,
        Preprocessor,
        SegmentPacker,
        WordPieceTokenizer,
    )
    from tfmodels.tokenizers.core_byte_bpe import CoreByteBPETokenizer
    from tfmodels.tokenizers.core_packer import CoreSegmentPacker
    from tfmodels.tokenizers.core_wordpiece import CoreWordPieceTokenizer

    twins = {WordPieceTokenizer: CoreWordPieceTokenizer, ByteBPETokenizer: CoreByteBPETokenizer}
    if (  # exact types: a subclass may tokenize or pack in its own way
        type(preprocessor) not in (Preprocessor, ByteBPEPreprocessor)
        or type(preprocessor.packer) is not SegmentPacker
        or type(preprocessor.tokenizer) not in twins
    ):
        return None
    tokenizer = twins[type(preprocessor.tokenizer)].from_tokenizer(preprocessor.tokenizer)
    config = preprocessor.get_config()
    del config["tokenizer"]
    core = type(preprocessor)(tokenizer, **config)
    core.packer = CoreSegmentPacker.from_packer(preprocessor.packer)
    return core


def _serving_preprocessor(preprocessor, tokenizer_ops):
    if tokenizer_ops not in TOKENIZER_OPS:
        raise ConfigError(f"tokenizer_ops {tokenizer_ops!r}; known: {', '.join(TOKENIZER_OPS)}")
    if preprocessor is None or tokenizer_ops == "tf_text":
        return preprocessor
    core = core_ops_preprocessor(preprocessor)
    if core is None and tokenizer_ops == "core":
        tokenizer = type(getattr(preprocessor, "tokenizer", None)).__name__
        raise ConfigError(
            f"tokenizer_ops='core': {type(preprocessor).__name__} with a {tokenizer} has "
            "no core-TF-ops version (WordPiece and byte-level BPE preprocessors have one; "
            "SentencePiece needs tensorflow-text ops); use tokenizer_ops='auto' or 'tf_text'"
        )
    return preprocessor if core is None else core


class _ServingModule(tf.Module):
    def __init__(self, model, preprocessor, label_names):
        super().__init__()
        self.model = model
        self.preprocessor = preprocessor
        self.label_names = tf.constant(label_names) if label_names else None

    def outputs(self, features):
        if isinstance(self.model.input, dict):
            # The model's own defaults fill what is left out; a model without them (a
            # QAT clone is a plain keras.Model) gets BERT's.
            defaults = getattr(self.model, "feature_defaults", FEATURE_DEFAULTS)
            features = complete_features(features, self.model.input, defaults, self.model.name)
        out = self.model(features, training=False)
        if "logits" in out:
            logits = tf.cast(out["logits"], tf.float32)
            result = {"logits": logits}
            if logits.shape[-1] > 1:
                result["probabilities"] = tf.nn.softmax(logits, -1)
                label = tf.argmax(logits, -1, output_type=tf.int32)
                result["label"] = (
                    label if self.label_names is None else tf.gather(self.label_names, label)
                )
            return result
        return {
            k: tf.cast(out[k], tf.float32) for k in ("sequence_output", "pooled_output") if k in out
        }


def saved_model(
    model, export_dir, preprocessor=None, label_names=None, pair=False, tokenizer_ops="auto"
):
    """Writes the SavedModel to ``export_dir`` (a temporary folder first, then renamed).

    ``tokenizer_ops``: ``"auto"`` (core TF ops where the tokenizer has them, else
    tensorflow-text), ``"core"`` (core ops or a ConfigError) or ``"tf_text"``.
    """
    if not hasattr(model, "inputs") or not isinstance(model.inputs, (list, dict)):
        raise ConfigError("export.saved_model takes a tfmodels model")
    preprocessor = _serving_preprocessor(preprocessor, tokenizer_ops)
    label_names = label_names or getattr(model, "label_names", None)
    module = _ServingModule(model, preprocessor, list(label_names) if label_names else None)
    id_spec = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in _IDS}
    serve_ids = tf.function(
        lambda input_ids, input_mask, segment_ids: module.outputs(
            {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}
        ),
        input_signature=[id_spec[n] for n in _IDS],
    )
    serve_input_ids = tf.function(
        lambda input_ids: module.outputs({"input_ids": input_ids}),
        input_signature=[id_spec["input_ids"]],
    )
    signatures = {"serve_ids": serve_ids}
    if preprocessor is not None:
        if pair:
            text = tf.function(
                lambda text_a, text_b: module.outputs(preprocessor((text_a, text_b))),
                input_signature=[
                    tf.TensorSpec([None], tf.string, name="text_a"),
                    tf.TensorSpec([None], tf.string, name="text_b"),
                ],
            )
        else:
            text = tf.function(
                lambda text: module.outputs(preprocessor(text)),
                input_signature=[tf.TensorSpec([None], tf.string, name="text")],
            )
        signatures["serving_default"] = text
    else:
        signatures["serving_default"] = serve_ids
    module.serve_text = signatures["serving_default"]
    module.serve_ids = serve_ids
    module.serve_input_ids = serve_input_ids
    with atomic_path(export_dir.rstrip("/")) as tmp:
        tf.saved_model.save(module, tmp, signatures=signatures)
        if os.path.isdir(export_dir):
            shutil.rmtree(export_dir)  # os.replace does not replace a non-empty directory
    return export_dir
