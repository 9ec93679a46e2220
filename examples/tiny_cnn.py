"""
A small CNN with the building blocks of the MLPerf Tiny models: a strided conv,
a residual block, a depthwise-separable block, pooling, dense and softmax.
Weights are seeded random numbers, so the network is the same everywhere.

`build()` returns the nn module and a numpy reference of the same network.
"""

from __future__ import annotations

import numpy as np

from small_ir import NetworkBuilder
from small_ir import reference as ref

INPUT_SHAPE = (1, 3, 32, 32)


def build(seed: int = 0):
    rng = np.random.default_rng(seed)

    def weights(*shape):
        fan_in = np.prod(shape[1:])
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    def bias(n):
        return (0.1 * rng.standard_normal(n)).astype(np.float32)

    w0, b0 = weights(16, 3, 3, 3), bias(16)
    w1, b1 = weights(16, 16, 3, 3), bias(16)
    w2, b2 = weights(16, 16, 3, 3), bias(16)
    wd, bd = weights(16, 1, 3, 3), bias(16)
    wp, bp = weights(24, 16, 1, 1), bias(24)
    wf, bf = weights(10, 24), bias(10)

    net = NetworkBuilder("tiny_cnn", INPUT_SHAPE)
    x = net.relu(net.conv2d(net.input, w0, b0, strides=(2, 2), pads=(1, 1, 1, 1)))
    y = net.relu(net.conv2d(x, w1, b1, pads=(1, 1, 1, 1)))
    y = net.conv2d(y, w2, b2, pads=(1, 1, 1, 1))
    x = net.relu(net.add(y, x))
    x = net.relu6(net.conv2d(x, wd, bd, strides=(2, 2), pads=(0, 0, 1, 1), group=16))
    x = net.relu6(net.conv2d(x, wp, bp))
    x = net.max_pool2d(x, kernel_shape=(2, 2), strides=(2, 2))
    x = net.global_avg_pool(x)
    x = net.softmax(net.dense(net.flatten(x), wf, bf))
    module = net.build(x)

    def reference(image: np.ndarray) -> np.ndarray:
        x = ref.relu(ref.conv2d(image, w0, b0, strides=(2, 2), pads=(1, 1, 1, 1)))
        y = ref.relu(ref.conv2d(x, w1, b1, pads=(1, 1, 1, 1)))
        y = ref.conv2d(y, w2, b2, pads=(1, 1, 1, 1))
        x = ref.relu(ref.add(y, x))
        x = ref.clip(ref.conv2d(x, wd, bd, strides=(2, 2), pads=(0, 0, 1, 1), group=16), min=0.0, max=6.0)
        x = ref.clip(ref.conv2d(x, wp, bp), min=0.0, max=6.0)
        x = ref.max_pool2d(x, kernel_shape=(2, 2), strides=(2, 2))
        x = ref.flatten(ref.global_avg_pool(x))
        return ref.softmax(ref.dense(x, wf, bf))

    return module, reference
