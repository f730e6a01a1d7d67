"""Weight initializer shared by all layers: truncated normal, BERT's std 0.02.

A new instance per weight: one instance reused across weights would give them
identical values (Keras initializers are seeded per instance).
"""

import tf_keras as keras


def weight_initializer(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)
