"""
The targets that run under an emulator (neon, rvv, cortex-m4, cortex-m7,
cortex-m55): the host targets' property tests, batched so that one program
and one emulator launch run many cases, and the MLPerf Tiny models end to end.
rvv runs every program at VLEN 128 and 512.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from xdsl.utils.exceptions import VerifyException

import small_ir
from small_ir.frameworks import run_framework
from small_ir.frontends import load_model
from small_ir.harness import Case, run_cases
from small_ir.strategies import layer_cases, network_chains, winograd_convs
from small_ir.testing import (
    assert_close,
    interpret,
    planned_winograd_tile,
    single_layer_module,
    target_params,
    winograd_tile_in_c,
)

EMULATED = target_params(emulated=True)
MODELS = Path(__file__).parents[2] / "examples" / "models"
LAYERS_PER_BATCH = 60
CHAINS_PER_BATCH = 20
# A batch draws distinct cases: hypothesis' first example would otherwise be its simplest case, repeated.
# No shrinking: a batch shrinks for many minutes; the failure message names every failing case instead.
BATCHES = settings(
    max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate]
)


def vlens(target: str) -> tuple[int | None, ...]:
    return (128, 512) if target == "rvv" else (None,)


def mismatch(actual: np.ndarray, expected: np.ndarray, what: str) -> str | None:
    """None if close (the host tests' tolerance), else what differs."""
    try:
        assert_close(actual, expected)
    except AssertionError as error:
        return f"{what}: {error}"
    return None


def assert_all_close(results: list[str | None]) -> None:
    failures = [failure for failure in results if failure is not None]
    assert not failures, f"{len(failures)} of {len(results)} cases differ:\n" + "\n".join(failures[:5])


def run_everywhere(target: str, cases: list[Case]) -> list[tuple[int | None, list[list[np.ndarray]]]]:
    return [(vlen, run_cases(cases, vlen=vlen)) for vlen in vlens(target)]


@pytest.mark.parametrize("target", EMULATED)
@BATCHES
@given(data=st.data())
def test_random_layers_match_reference(target: str, data):
    count = LAYERS_PER_BATCH * 3 // 2  # about a fifth are layers nn does not express
    drawn = []
    for case in data.draw(st.lists(layer_cases(max_channels=40, max_size=14, max_filter=5), min_size=count, max_size=count, unique_by=repr)):
        try:
            drawn.append((case, single_layer_module(case)))
        except VerifyException:
            continue  # softmax off the channel axis, ...
    drawn = drawn[:LAYERS_PER_BATCH]
    rng = np.random.default_rng(0)
    cases = [
        Case(small_ir.compile(module, target=target, name=f"layer{index}"), case.random_inputs(rng))
        for index, (case, module) in enumerate(drawn)
    ]
    for vlen, results in run_everywhere(target, cases):
        assert_all_close(
            [
                mismatch(output, case.reference(*run.inputs), f"{case} on {target}, vlen {vlen}")
                for (case, _), run, (output,) in zip(drawn, cases, results)
            ]
        )


@pytest.mark.parametrize("target", EMULATED)
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_chains_match_interpreter(target: str, data):
    chains = data.draw(st.lists(network_chains(), min_size=CHAINS_PER_BATCH, max_size=CHAINS_PER_BATCH, unique_by=lambda chain: str(chain[0])))
    cases = [
        Case(small_ir.compile(module, target=target, name=f"chain{index}"), [image])
        for index, (module, image) in enumerate(chains)
    ]
    expected = [interpret(module, [image])[0] for module, image in chains]
    for vlen, results in run_everywhere(target, cases):
        assert_all_close(
            [
                mismatch(output, reference, f"chain {index} on {target}, vlen {vlen}")
                for index, ((output,), reference) in enumerate(zip(results, expected))
            ]
        )


@pytest.mark.parametrize("target", EMULATED)
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_winograd_convs_match_interpreter(target: str, data):
    """Winograd on every layer it can take (cortex-m targets have it off by default)."""
    convs = data.draw(st.lists(winograd_convs(max_channels=24, max_size=10), min_size=CHAINS_PER_BATCH, max_size=CHAINS_PER_BATCH, unique_by=repr))
    cases = [
        Case(small_ir.compile(conv.module, target=target, name=f"conv{index}", winograd_min_channels=1, winograd_max_stride=2), conv.inputs)
        for index, conv in enumerate(convs)
    ]
    assert [winograd_tile_in_c(case.model) for case in cases] == [planned_winograd_tile(conv.module, target) for conv in convs]
    expected = [interpret(conv.module, conv.inputs)[0] for conv in convs]
    for vlen, results in run_everywhere(target, cases):
        assert_all_close(
            [
                mismatch(output, reference, f"{conv} on {target}, vlen {vlen}")
                for conv, (output,), reference in zip(convs, results, expected)
            ]
        )


@pytest.mark.parametrize("target", EMULATED)
@pytest.mark.parametrize(
    "file", ["ic_resnet8_float.tflite", "kws_dscnn_float.tflite", "vww_mobilenetv1_float.tflite", "ad_autoencoder_float.tflite"]
)
def test_model_matches_tflite(file: str, target: str):
    """5 random inputs in one launch: max abs error <= 1e-4 x the output's range, same argmax."""
    path = MODELS / file
    compiled = small_ir.compile(load_model(path).module, target=target)
    rng = np.random.default_rng(len(file))
    batch = [[rng.standard_normal(shape).astype(np.float32) for shape in compiled.input_shapes] for _ in range(5)]
    expected = np.stack([run_framework("tflite", path, inputs)[0][0] for inputs in batch])
    for vlen, results in run_everywhere(target, [Case(compiled, inputs) for inputs in batch]):
        ours = np.stack([outputs[0] for outputs in results]).reshape(expected.shape)
        spread = float(expected.max() - expected.min())
        error = float(np.abs(ours.astype(np.float64) - expected).max())
        assert error <= 1e-4 * spread, f"{file} on {target} (vlen {vlen}): max abs error {error:.3g}, range {spread:.3g}"
        flat = lambda a: a.reshape(len(batch), -1)  # noqa: E731
        np.testing.assert_array_equal(flat(ours).argmax(axis=1), flat(expected).argmax(axis=1))


@pytest.mark.parametrize("target", EMULATED)
def test_run_goes_through_the_emulator(target: str):
    """CompiledModel.run is the same call on every target."""
    module, image = _separable_block()
    (expected,) = interpret(module, [image])
    (output,) = small_ir.compile(module, target=target).run(image)
    assert_all_close([mismatch(output, expected, target)])


def _separable_block():
    rng = np.random.default_rng(3)
    w = lambda *shape: rng.uniform(-1, 1, shape).astype(np.float32)  # noqa: E731
    net = small_ir.NetworkBuilder("block", (1, 6, 9, 9))
    x = net.relu6(net.conv2d(net.input, w(6, 1, 3, 3), w(6), pads=(1, 1, 1, 1), group=6))
    x = net.leaky_relu(net.conv2d(x, w(10, 6, 1, 1), w(10)), alpha=0.1)
    x = net.sigmoid(net.conv2d(x, w(12, 10, 1, 1), w(12)))
    return net.build(x), rng.uniform(-1, 1, (1, 6, 9, 9)).astype(np.float32)
