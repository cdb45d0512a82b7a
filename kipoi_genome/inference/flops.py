"""FLOPs of a model's forward pass, counted from its TensorFlow graph.

Counts the matrix products (`MatMul`, `BatchMatMul*`, `Einsum`) and
convolutions (`Conv2D`, which Keras' `Conv1D` lowers to) at 2 FLOPs per
multiply-add, from static shapes. Element-wise work (normalisation,
activations, softmax) is left out: it is a few percent of the total for the
zoo's models and is memory-bound rather than compute-bound.
"""

import collections

import numpy as np
import tensorflow as tf

from kipoi_genome.models.enformer.chunked_inference import forward


def _shape(tensor):
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape):
        raise ValueError(f"FLOPs need static shapes; {tensor.name} has shape {shape}.")
    return [int(d) for d in shape]


def _einsum_flops(op):
    equation = op.get_attr("equation").decode()
    operands, _ = equation.replace(" ", "").split("->")
    sizes = {}
    for letters, tensor in zip(operands.split(","), op.inputs):
        if "." in letters:
            raise ValueError(f"Ellipsis einsum {equation!r} is not supported.")
        for letter, size in zip(letters, _shape(tensor)):
            sizes[letter] = size
    return 2 * int(np.prod(list(sizes.values()), dtype=np.int64))


def _op_flops(op):
    if op.type == "Conv2D":
        kernel = _shape(op.inputs[1])  # [kh, kw, in, out]
        return 2 * int(np.prod(_shape(op.outputs[0]), dtype=np.int64)) * kernel[0] * kernel[1] * kernel[2]
    if op.type == "MatMul":
        a = _shape(op.inputs[0])
        inner = a[0] if op.get_attr("transpose_a") else a[1]
        return 2 * int(np.prod(_shape(op.outputs[0]), dtype=np.int64)) * inner
    if op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        x = _shape(op.inputs[0])
        inner = x[-2] if op.get_attr("adj_x") else x[-1]
        return 2 * int(np.prod(_shape(op.outputs[0]), dtype=np.int64)) * inner
    if op.type in ("Einsum", "XlaEinsum"):
        return _einsum_flops(op)
    return 0


def forward_flops(model, input_shape, dtype=tf.float32):
    """FLOPs of one inference forward pass, by op type.

    Args:
        model: a Keras model (or any callable on tensors); an `Enformer`
            runs its stem and conv tower window by window, as at inference
            (`models.enformer.chunked_inference.forward`).
        input_shape: full input shape including the batch dimension, e.g.
            `(1, 196608, 4)`; or a dict name -> (shape, dtype) for models
            with several inputs.
        dtype: input dtype when `input_shape` is a tuple.

    Returns:
        dict op type -> FLOPs, with the sum under `"total"`.
    """
    if isinstance(input_shape, dict):
        spec = {name: tf.TensorSpec(shape, d) for name, (shape, d) in input_shape.items()}
    else:
        spec = tf.TensorSpec(input_shape, dtype)
    graph = tf.function(lambda x: forward(model, x)).get_concrete_function(spec).graph
    counts = collections.Counter()
    for op in graph.get_operations():
        if op.type in ("PartitionedCall", "StatefulPartitionedCall", "While", "If", "StatelessIf"):
            raise ValueError(f"Nested graph op {op.type} ({op.name}) cannot be counted.")
        flops = _op_flops(op)
        if flops:
            counts[op.type] += flops
    counts["total"] = sum(counts.values())
    return dict(counts)
