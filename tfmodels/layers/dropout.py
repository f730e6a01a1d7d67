"""Dropout whose masks a resumed run repeats.

Inside a :class:`~tfmodels.training.trainer.Trainer` step the mask is drawn with a
stateless op keyed by the run's seed, the step and the layer's place among the step's
draws (:mod:`tfmodels.training.noise`): a run resumed from a checkpoint then drops
exactly what an uninterrupted run drops, and two runs of one config agree. Elsewhere
(Keras ``fit``, inference) it is Keras' own Dropout.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.training import noise


class Dropout(keras.layers.Dropout):
    def call(self, inputs, training=None):
        if training is not True or not self.rate:
            return super().call(inputs, training=training)
        key = noise.seed()
        if key is None:
            return super().call(inputs, training=training)
        return tf.nn.experimental.stateless_dropout(
            inputs, self.rate, seed=key, noise_shape=self._get_noise_shape(inputs)
        )
