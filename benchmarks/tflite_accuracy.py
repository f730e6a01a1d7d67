"""Accuracy, size and latency of a fine-tuned classifier's TFLite variants vs Keras.

    python benchmarks/tflite_accuracy.py --init_from=runs/demo/hf_model \
        --data_dir=runs/data/fortunes --seq_length=64

Float, dynamic-range, float16 and int8 (calibrated on 100 training texts) files;
accuracy on test.tsv, agreement of predicted labels with the Keras model, file size
(plain and gzip), and mean batch-1 latency of the TFLite interpreter (2 threads) and
of the Keras model in a tf.function, measured in the same run. Full int8 is shown as
it comes out of the converter, accuracy loss included.
"""

import argparse
import gzip
import os
import tempfile
import time

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

# isort: off  (tfmodels selects Keras 2 before TensorFlow loads)
import tfmodels

# isort: on
from tfmodels.tasks.glue import get_task


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init_from", default="runs/demo/hf_model")
    parser.add_argument("--data_dir", default="runs/data/fortunes")
    parser.add_argument("--seq_length", type=int, default=64)
    parser.add_argument("--limit", type=int, default=1000, help="test examples to score")
    args = parser.parse_args()
    model = tfmodels.from_pretrained(args.init_from)
    pre = tfmodels.preprocessor_from_pretrained(args.init_from, args.seq_length)
    task = get_task("tsv", args.data_dir, "text", None, "label", model.label_names)
    test = task.read(args.data_dir, "test.tsv")
    n = min(args.limit, len(test))
    features = {k: v.numpy() for k, v in pre(tf.constant(test.text_a[:n])).items()}
    train = task.read(args.data_dir, "train.tsv")
    calibration = {k: v.numpy() for k, v in pre(tf.constant(train.text_a[:100])).items()}
    keras_logits = model.predict(features, batch_size=64, verbose=0)["logits"]
    keras_pred = keras_logits.argmax(-1)
    call = tf.function(lambda f: model(f, training=False)["logits"])  # graph, as served
    call({k: v[:1] for k, v in features.items()})
    started = time.perf_counter()
    for i in range(20):
        call({k: v[i : i + 1] for k, v in features.items()}).numpy()
    keras_ms = (time.perf_counter() - started) / 20 * 1000
    print(f"{'variant':10s} {'MB':>7s} {'gzip MB':>8s} {'accuracy':>9s} {'agree':>6s} {'ms':>7s}")
    print(
        f"{'keras':10s} {'':7s} {'':8s} {np.mean(keras_pred == test.labels[:n]):9.4f} "
        f"{1.0:6.3f} {keras_ms:7.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in (None, "dynamic", "float16", "int8"):
            path = tfmodels.export.tflite(
                model,
                os.path.join(tmp, f"{quantize}.tflite"),
                seq_length=args.seq_length,
                quantize=quantize,
                representative_data=calibration,
            )
            runner = Interpreter(model_path=path, num_threads=2).get_signature_runner()
            preds, times = [], []
            for i in range(n):
                started = time.perf_counter()
                out = runner(**{k: v[i : i + 1] for k, v in features.items()})["logits"]
                times.append(time.perf_counter() - started)
                preds.append(int(out.argmax()))
            preds = np.array(preds)
            with open(path, "rb") as f:
                gz = len(gzip.compress(f.read()))
            print(
                f"{str(quantize or 'float'):10s} {os.path.getsize(path) / 1e6:7.1f} "
                f"{gz / 1e6:8.1f} {np.mean(preds == test.labels[:n]):9.4f} "
                f"{np.mean(preds == keras_pred):6.3f} {1000 * np.mean(times):7.1f}"
            )


if __name__ == "__main__":
    main()
