"""A task model as one flat functional graph over the *same* layer objects.

Our task models nest the encoder (a functional ``keras.Model``) inside the task
model. TF-MOT's ``quantize_apply`` refuses nested models, and its pruning and
clustering wrappers are placed layer by layer; both want one graph whose nodes
are the Transformer's layers. :func:`flat_model` replays the nested graphs on new
inputs, so the result shares every layer and weight with the original: training
the flat model (e.g. with pruning masks) trains the original model.
"""

import tensorflow as tf
import tf_keras as keras
from tf_keras.src.engine.functional import Functional


def _replay(model, inputs):
    """Runs functional ``model``'s nodes on ``inputs``, entering nested functional models.

    The walk follows tf_keras's own ``Functional._run_internal_graph`` (depth order,
    tensors keyed by the id of the reference tensor they replace).
    """
    tensors = {}
    for reference, value in zip(model.inputs, model._flatten_to_reference_inputs(inputs)):
        key = str(id(reference))
        tensors[key] = [value] * model._tensor_usage_count[key]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            args, kwargs = node.map_arguments(tensors)
            if isinstance(node.layer, Functional):
                outputs = _replay(node.layer, args[0])
            else:
                outputs = node.layer(*args, **kwargs)
            for key, value in zip(node.flat_output_ids, tf.nest.flatten(outputs)):
                tensors[key] = [value] * model._tensor_usage_count[key]
    flat_outputs = [tensors[str(id(x))].pop() for x in model.outputs]
    return tf.nest.pack_sequence_as(model._nested_outputs, flat_outputs)


def flat_model(model):
    """``model`` (functional, possibly nesting functional models) as one flat graph.

    Inputs and outputs keep their names; every layer and weight is shared with
    ``model``.
    """
    if not isinstance(model, Functional):
        raise TypeError(
            f"{model.name}: flat_model takes a functional model, got {type(model).__name__}"
        )
    inputs = tf.nest.map_structure(
        lambda x: keras.Input(shape=x.shape[1:], dtype=x.dtype, name=x.name.split(":")[0]),
        model._nested_inputs,
    )
    return keras.Model(inputs, _replay(model, inputs), name=f"{model.name}_flat")
