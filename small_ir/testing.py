"""
Helpers to property-test passes: run IR with xDSL's interpreter (every IR level
of small-ir runs, see `small_ir.interpreter`) and check that a pipeline keeps
the outputs.

* `interpret(module, inputs, function=None)` runs a function in destination
  passing style: its arguments are the inputs followed by the outputs. The
  outputs are allocated (zeros) from the trailing argument types and returned
  as numpy arrays.
* `assert_pipeline_preserves_semantics(module, passes, inputs,
  reference_outputs=None, rtol=1e-4)` interprets a clone of the module before
  the passes and after each one (verifying it first), and fails naming the
  pass after which the module stopped verifying, stopped running, or its
  outputs diverged from the first run (or from `reference_outputs`). Outputs
  agree when `|actual - expected| <= atol + rtol * |expected|` with
  `atol = rtol * max(1, max |expected|)`. `passes` is a sequence of
  `ModulePass` instances or a pipeline string such as
  `"nn-to-small,canonicalize"` (xDSL's passes and `small_ir.passes`). Returns
  the transformed clone; the caller's module is never modified.
* `single_layer_module(case)` builds the one-layer `nn` module of a
  `small_ir.strategies.LayerCase`: `func.func @net(inputs..., output)`;
  `expressible_layer_module(case)`, the same in a hypothesis test, rejects
  the layers nn cannot express (softmax off the channel axis, ...).
* `planned_winograd_tile(module, target)` is the `winograd` tile that the
  target's pipeline gives the module's one conv (None: a direct conv), and
  `winograd_tile_in_c(compiled)` the tile whose transformed filters the C holds.

For example, to check a pass on random layers:

    @settings(max_examples=25, deadline=None)
    @given(case=conv2d_cases(max_channels=5, max_size=6, max_filter=3))
    def test_my_pass(case):
        module = single_layer_module(case)
        inputs = case.random_inputs(np.random.default_rng(0))
        assert_pipeline_preserves_semantics(
            module, [NNToSmall(), MyPass()], inputs, reference_outputs=[case.reference(*inputs)]
        )
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import MemRefType, ModuleOp
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass, PassPipeline
from xdsl.traits import SymbolTable
from xdsl.utils.exceptions import VerifyException

from small_ir import reference
from small_ir.builder import NetworkBuilder
from small_ir.context import make_context
from small_ir.interpreter import make_interpreter, numpy_view, shaped_array_from_numpy
from small_ir.strategies import LayerCase

__all__ = ["assert_pipeline_preserves_semantics", "expressible_layer_module", "interpret", "single_layer_module"]


def _function(module: ModuleOp, name: str | None) -> func.FuncOp:
    if name is not None:
        found = SymbolTable.lookup_symbol(module, name)
        if not isinstance(found, func.FuncOp):
            raise ValueError(f"the module has no func.func @{name}")
        return found
    for op in module.ops:
        if not isinstance(op, func.FuncOp) or not op.body.blocks:
            continue
        if op.sym_visibility is None or op.sym_visibility.data == "public":
            return op
    raise ValueError("the module has no public func.func with a body")


def interpret(module: ModuleOp, inputs: Sequence[np.ndarray], function: str | None = None) -> list[np.ndarray]:
    """Runs `function` (by default the first public one) on `inputs`; returns its output arguments."""
    function_op = _function(module, function)
    types = function_op.function_type.inputs.data
    if len(inputs) > len(types):
        raise ValueError(f"{len(inputs)} inputs for @{function_op.sym_name.data}, which takes {len(types)} arguments")
    if not all(isinstance(type, MemRefType) for type in types):
        raise ValueError(f"@{function_op.sym_name.data} must take only memrefs, got {[str(t) for t in types]}")
    interpreter = make_interpreter(module)
    width = interpreter.index_bitwidth
    arguments = []
    for index, (data, type) in enumerate(zip(inputs, types)):
        data = np.asarray(data)
        if data.shape != tuple(type.get_shape()):
            raise ValueError(f"input {index} has shape {data.shape}, the argument is {type}")
        arguments.append(shaped_array_from_numpy(data, type, width))
    outputs = [shaped_array_from_numpy(np.zeros(type.get_shape()), type, width) for type in types[len(inputs) :]]
    interpreter.call_op(function_op, (*arguments, *outputs))
    return [numpy_view(output).copy() for output in outputs]


def _available_passes():
    from xdsl.transforms import get_all_passes

    from small_ir.passes import get_all_passes as get_small_ir_passes

    return get_all_passes() | get_small_ir_passes()


def _run(module: ModuleOp, inputs: Sequence[np.ndarray], where: str) -> list[np.ndarray]:
    try:
        return interpret(module, inputs)
    except Exception as error:
        raise AssertionError(f"interpreting the module failed {where}: {error}") from error


def _compare(actual: list[np.ndarray], expected: list[np.ndarray], rtol: float, where: str) -> None:
    if len(actual) != len(expected):
        raise AssertionError(f"{len(actual)} outputs {where}, expected {len(expected)}")
    for index, (got, want) in enumerate(zip(actual, expected)):
        if got.shape != want.shape:
            raise AssertionError(f"output {index} has shape {got.shape} {where}, expected {want.shape}")
        atol = rtol * max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"output {index} diverged {where}")


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    """The project's tolerance for compiled outputs: rtol, and an atol of rtol times the largest |expected| (at least 1)."""
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    atol = rtol * max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def check_dominance(module: ModuleOp) -> None:
    """
    Raises VerifyException when an op uses a value defined after it (xDSL 0.74's
    verifier does not check SSA dominance). Values are visible from their
    definition to the end of their block, and in the regions nested there.
    """

    visible: set[SSAValue] = set()

    def visit(block: Block) -> None:
        defined = list(block.args)
        visible.update(defined)
        for op in block.ops:
            for operand in op.operands:
                if operand not in visible:
                    raise VerifyException(f"{op.name} uses a value before its definition ({operand.type})")
            for region in op.regions:
                for inner in region.blocks:
                    visit(inner)
            visible.update(op.results)
            defined.extend(op.results)
        visible.difference_update(defined)

    for block in module.body.blocks:
        visit(block)


def assert_pipeline_preserves_semantics(
    module: ModuleOp,
    passes: Sequence[ModulePass] | str,
    inputs: Sequence[np.ndarray],
    reference_outputs: Sequence[np.ndarray] | None = None,
    rtol: float = 1e-4,
) -> ModuleOp:
    """Checks that every pass keeps the module's outputs (see the module docstring)."""
    pipeline = PassPipeline.parse_spec(_available_passes(), passes).passes if isinstance(passes, str) else tuple(passes)
    ctx = make_context()
    module = module.clone()
    first = _run(module, inputs, "before any pass")
    expected = first
    if reference_outputs is not None:
        expected = [np.asarray(output) for output in reference_outputs]
        _compare(first, expected, rtol, "before any pass")
    for index, module_pass in enumerate(pipeline, 1):
        where = f"after pass {index} `{module_pass.spec()}`"
        module_pass.apply(ctx, module)
        try:
            module.verify()
            check_dominance(module)
        except VerifyException as error:
            raise AssertionError(f"the module does not verify {where}: {error}") from error
        _compare(_run(module, inputs, where), expected, rtol, where)
    return module


def single_layer_module(case: LayerCase) -> ModuleOp:
    """
    The nn module `func.func @net(inputs..., output)` of one layer. Reshape
    targets with -1 or 0 are resolved, negative axes normalised; raises
    VerifyException for layers nn cannot express (softmax or concat off the
    channel axis, reshapes that do not keep batch 1 first).
    """
    params = dict(case.params)
    rank = len(case.input_shapes[0])
    if case.op == "reshape":
        params["shape"] = reference.reshape(np.zeros(case.input_shapes[0], np.float32), shape=params["shape"]).shape
    if case.op in ("softmax", "concat"):
        params["axis"] %= rank
    net = NetworkBuilder("net", *case.input_shapes)
    module = net.build(net.layer(case.op, net.inputs, params))
    module.verify()
    return module


def expressible_layer_module(case: LayerCase) -> ModuleOp:
    """`single_layer_module(case)` inside a hypothesis test: a layer nn cannot express rejects the example."""
    from hypothesis import reject

    try:
        return single_layer_module(case)
    except VerifyException:
        reject()


def planned_winograd_tile(module: ModuleOp, target: str) -> int | None:
    """The `winograd` tile of the module's one conv after the target's pipeline up to small-winograd{min_channels=1 max_stride=2}."""
    from small_ir.compiler import pipeline_spec, run_pipeline
    from small_ir.dialects import small

    passes = pipeline_spec(target, winograd_min_channels=1, winograd_max_stride=2).split(",")
    module = module.clone()
    tiling = next(index for index, name in enumerate(passes) if name.startswith("small-tile"))
    run_pipeline(module, ",".join(passes[:tiling]))
    (conv,) = [op for op in module.walk() if isinstance(op, small.LayerOp) and op.kind.data == "conv"]
    return conv.winograd.value.data if conv.winograd is not None else None


def winograd_tile_in_c(compiled) -> int | None:
    """The Winograd tile of the C of a `CompiledModel`: the one in the name of its transformed filters (None: none)."""
    import re

    found = re.search(r"wino(\d)x\d_0\[", compiled.c_source)
    return int(found.group(1)) if found else None


def target_params(only: Sequence[str] | None = None, emulated: bool = False) -> list:
    """
    pytest parameters for the host targets (with `emulated`, for the targets
    that run under an emulator instead), or those of them in `only`. A host
    target this CPU cannot run is skipped, saying which CPU feature it lacks;
    an emulated one whose compiler or emulator is missing, saying what to install.
    """
    import pytest

    from small_ir.backends import targets
    from small_ir.compiler import missing_cpu_features
    from small_ir.platforms import platform

    params = []
    for name, spec in targets().items():
        if (only is not None and name not in only) or spec.native == emulated:
            continue
        if spec.native:
            missing = missing_cpu_features(spec)
            reason = f"this CPU lacks {', '.join(missing)}" if missing else ""
        else:
            reason = "; ".join(platform(spec.platform).missing_tools())
        params.append(pytest.param(name, marks=pytest.mark.skipif(bool(reason), reason=reason or "runs here")))
    return params
