"""Reference points for a classification result: majority class and bag-of-words
logistic regression (multinomial, L2-regularized, trained by full-batch gradient
descent in numpy). A fine-tuned Transformer should beat both."""

import collections
import re

import numpy as np

from tfmodels.tasks.metrics import accuracy

_WORD = re.compile(r"[a-z0-9']+")


def majority_baseline(train_labels, test_labels):
    majority = collections.Counter(np.asarray(train_labels).tolist()).most_common(1)[0][0]
    return accuracy(test_labels, np.full(len(test_labels), majority))


def _bag_of_words(texts, vocab):
    x = np.zeros((len(texts), len(vocab)), np.float32)
    for i, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            j = vocab.get(word)
            if j is not None:
                x[i, j] += 1.0
    x = np.log1p(x)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def logistic_regression_baseline(
    train_texts, train_labels, test_texts, test_labels, min_count=2, l2=1e-4, steps=300, lr=0.5
):
    counts = collections.Counter(w for t in train_texts for w in set(_WORD.findall(t.lower())))
    vocab = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= min_count))}
    x, x_test = _bag_of_words(train_texts, vocab), _bag_of_words(test_texts, vocab)
    y = np.asarray(train_labels)
    classes = int(max(y.max(), np.max(test_labels)) + 1)
    onehot = np.eye(classes, dtype=np.float32)[y]
    w = np.zeros((x.shape[1], classes), np.float32)
    b = np.zeros(classes, np.float32)
    m, v = [np.zeros_like(w), np.zeros_like(b)], [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, steps + 1):  # Adam on the mean cross-entropy
        logits = x @ w + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g_logits = (p - onehot) / len(x)
        grads = [x.T @ g_logits + l2 * w, g_logits.sum(0)]
        for k, (param, g) in enumerate(zip((w, b), grads)):
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            param -= lr * 0.01 * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    return accuracy(test_labels, np.argmax(x_test @ w + b, 1))
