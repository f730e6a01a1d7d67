"""The Transformer's weights as safetensors: our own layout.

The original Transformer has no HuggingFace class, so ``save_pretrained`` writes
its variables under their Keras names (``encoder/encoder_layer_0/attention/query/kernel``,
``shared/embeddings``, ...), kernels [in, out] as Keras keeps them, and
``from_pretrained`` reads them back with the usual name and shape checks.
"""

PREFIX = "model"
IGNORED = frozenset()


def _name(variable):
    return variable.name.split(":")[0]


def backbone_weights(model):
    """Every variable of the network, by its Keras name."""
    return {_name(v): (v, False) for v in model.weights}


def head_weights(model):
    """The LM head is the shared table (tied): no weights of its own."""
    return {}
