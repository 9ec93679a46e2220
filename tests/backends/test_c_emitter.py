"""The c target: hand-written IR, printed, compiled with -Wall -Wextra -Werror, run, compared to numpy."""

from collections.abc import Sequence
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.utils.arg_spec import parse_spec

from small_ir.backends import targets
from small_ir.backends.c_emitter import CEmitError, CTarget, emit_c
from small_ir.compiler import runs_here
from small_ir.context import make_context
from small_ir.toolchain import build_shared_library, load_function, run_with_sanitizers

AVX2_FLAGS = list(targets()["avx2"].cflags)


HAS_AVX2 = runs_here(targets()["avx2"])


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def run(
    tmp_path: Path,
    module: ModuleOp,
    entry: str,
    inputs: list[np.ndarray],
    output_shapes: list[tuple[int, ...]],
    flags: Sequence[str] = (),
) -> list[np.ndarray]:
    """Builds the module as a shared library and calls entry(inputs..., outputs...)."""
    c_file = tmp_path / "model.c"
    c_file.write_text(emit_c(module))
    library = build_shared_library([c_file], tmp_path / "model.so", flags)
    function = load_function(library, entry, len(inputs) + len(output_shapes))
    outputs = [np.zeros(shape, dtype=np.float32) for shape in output_shapes]
    function(*(np.ascontiguousarray(x, dtype=np.float32) for x in inputs), *outputs)
    return outputs


def dense_f32(values: np.ndarray) -> str:
    """A bit-exact dense attribute (hex blob), specials included."""
    data = np.ascontiguousarray(values, dtype="<f4")
    shape = "x".join(map(str, data.shape))
    return f'dense<"0x{data.tobytes().hex().upper()}"> : tensor<{shape}xf32>'


SUM = """
func.func @sum(%x: memref<16xf32>, %y: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %s = scf.for %i = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %x[%i] : memref<16xf32>
    %next = arith.addf %acc, %v : f32
    scf.yield %next : f32
  }
  memref.store %s, %y[%c0] : memref<1xf32>
  func.return
}
"""


def test_sum_loop_with_iter_args(tmp_path: Path):
    module = parse(SUM)
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)

    (y,) = run(tmp_path, module, "sum", [x], [(1,)])

    np.testing.assert_allclose(y[0], x.sum(), rtol=1e-6)
    source = emit_c(module)
    assert "void sum(const float *restrict x, float *restrict y)" in source
    assert "float s = 0.0f;" in source


def test_sum_loop_under_sanitizers():
    x = np.arange(16, dtype=np.float32)
    (y,) = run_with_sanitizers(emit_c(parse(SUM)), "sum", [x], [1])
    assert y[0] == 120.0


FIBONACCI = """
func.func @fibonacci(%y: memref<2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c10 = arith.constant 10 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %r:2 = scf.for %i = %c0 to %c10 step %c1 iter_args(%a = %zero, %b = %one) -> (f32, f32) {
    %sum = arith.addf %a, %b : f32
    scf.yield %b, %sum : f32, f32
  }
  memref.store %r#0, %y[%c0] : memref<2xf32>
  memref.store %r#1, %y[%c1] : memref<2xf32>
  func.return
}
"""


def test_loop_carried_values_are_assigned_in_parallel(tmp_path: Path):
    (y,) = run(tmp_path, parse(FIBONACCI), "fibonacci", [], [(2,)])
    assert y.tolist() == [55.0, 89.0]


NCHW_TO_NHWC = """
func.func @relayout(%x: memref<2x3x4x5xf32>, %y: memref<2x4x5x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  scf.for %n = %c0 to %c2 step %c1 {
    scf.for %c = %c0 to %c3 step %c1 {
      scf.for %h = %c0 to %c4 step %c1 {
        scf.for %w = %c0 to %c5 step %c1 {
          %v = memref.load %x[%n, %c, %h, %w] : memref<2x3x4x5xf32>
          %row = arith.muli %h, %c5 : index
          %pixel = arith.addi %row, %w : index
          %pixel_i32 = arith.index_cast %pixel : index to i32
          %pixel_f32 = arith.sitofp %pixel_i32 : i32 to f32
          %sum = arith.addf %v, %pixel_f32 : f32
          %flipped = arith.subi %c4, %w : index
          memref.store %sum, %y[%n, %h, %flipped, %c] : memref<2x4x5x3xf32>
        }
      }
    }
  }
  %first = memref.load %x[%c1, %c0, %c0, %c4] : memref<2x3x4x5xf32>
  memref.store %first, %y[%c0, %c0, %c0, %c0] : memref<2x4x5x3xf32>
  func.return
}
"""


def test_nested_loops_with_index_arithmetic_over_4d_memrefs(tmp_path: Path):
    module = parse(NCHW_TO_NHWC)
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)

    (y,) = run(tmp_path, module, "relayout", [x], [(2, 4, 5, 3)])

    pixel = (np.arange(4)[:, None] * 5 + np.arange(5)[None, :]).astype(np.float32)
    expected = (x + pixel).transpose(0, 2, 3, 1)[:, :, ::-1, :].copy()
    expected[0, 0, 0, 0] = x[1, 0, 0, 4]
    np.testing.assert_array_equal(y, expected)
    source = emit_c(module)
    assert "x[n * 60 + c * 20 + h * 5 + w]" in source
    assert "x[64]" in source  # constant indices fold into one offset


def test_global_weights_are_printed_exactly(tmp_path: Path):
    specials = [0.0, -0.0, 1e-40, -3.4028235e38, 0.1, 1.0, 123456.0, np.inf, -np.inf, np.nan]
    random = np.random.default_rng(2).standard_normal(32 - len(specials)) * 10.0 ** np.arange(-11, 11)
    weights = np.concatenate([specials, random]).astype(np.float32).reshape(4, 8)
    module = parse(
        f"""
        "memref.global"() <{{sym_name = "weights", sym_visibility = "private", type = memref<4x8xf32>,
                             initial_value = {dense_f32(weights)}, constant}}> : () -> ()
        "memref.global"() <{{sym_name = "offsets", sym_visibility = "private", type = memref<4xi32>,
                             initial_value = dense<[-3, 0, 7, 2147483647]> : tensor<4xi32>,
                             constant}}> : () -> ()
        func.func @copy(%y: memref<4x8xf32>, %z: memref<4xf32>) {{
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %c4 = arith.constant 4 : index
          %c8 = arith.constant 8 : index
          %w = memref.get_global @weights : memref<4x8xf32>
          %o = memref.get_global @offsets : memref<4xi32>
          scf.for %i = %c0 to %c4 step %c1 {{
            scf.for %j = %c0 to %c8 step %c1 {{
              %v = memref.load %w[%i, %j] : memref<4x8xf32>
              memref.store %v, %y[%i, %j] : memref<4x8xf32>
            }}
            %k = memref.load %o[%i] : memref<4xi32>
            %kf = arith.sitofp %k : i32 to f32
            memref.store %kf, %z[%i] : memref<4xf32>
          }}
          func.return
        }}
        """
    )

    y, z = run(tmp_path, module, "copy", [], [(4, 8), (4,)])

    finite = ~np.isnan(weights)
    np.testing.assert_array_equal(y[finite].view(np.uint32), weights[finite].view(np.uint32))
    assert np.isnan(y[~finite]).all()
    np.testing.assert_array_equal(z, np.array([-3, 0, 7, 2147483647], dtype=np.float32))
    source = emit_c(module)
    assert "static const float weights[32] __attribute__((aligned(64))) = {" in source
    assert "static const int32_t offsets[4]" in source


ARENA = """
"memref.global"() <{sym_name = "arena", sym_visibility = "private", type = memref<192xi8>,
                    initial_value}> : () -> ()
func.func @through_arena(%x: memref<16xf32>, %y: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %two = arith.constant 2.0 : f32
  %one = arith.constant 1.0 : f32
  %arena = memref.get_global @arena : memref<192xi8>
  %a = memref.view %arena[%c0][] : memref<192xi8> to memref<16xf32>
  %shift = arith.addi %c64, %c64 : index
  %b = memref.view %arena[%shift][] : memref<192xi8> to memref<4x4xf32>
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %x[%i] : memref<16xf32>
    %d = arith.mulf %v, %two : f32
    memref.store %d, %a[%i] : memref<16xf32>
  }
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %a[%i] : memref<16xf32>
    %s = arith.addf %v, %one : f32
    %row = arith.divsi %i, %c4 : index
    %col = arith.remsi %i, %c4 : index
    memref.store %s, %b[%row, %col] : memref<4x4xf32>
  }
  scf.for %i = %c0 to %c16 step %c1 {
    %row = arith.divui %i, %c4 : index
    %col = arith.remui %i, %c4 : index
    %v = memref.load %b[%row, %col] : memref<4x4xf32>
    memref.store %v, %y[%i] : memref<16xf32>
  }
  func.return
}
"""


def test_arena_and_views(tmp_path: Path):
    module = parse(ARENA)
    x = np.random.default_rng(3).standard_normal(16).astype(np.float32)

    (y,) = run(tmp_path, module, "through_arena", [x], [(16,)])

    np.testing.assert_array_equal(y, x * 2 + 1)
    source = emit_c(module)
    assert "static float arena[48] __attribute__((aligned(64)));" in source
    assert "float *a = arena + 0;" in source
    assert "float *b = arena + shift / 4;" in source
    (y_sanitized,) = run_with_sanitizers(source, "through_arena", [x], [16])
    np.testing.assert_array_equal(y_sanitized, y)


def row_sums_ir(rows: int, cols: int) -> str:
    """An f32 tile of `cols` sums, addressed by constant indices only."""
    tile = f"memref<{cols}xf32>"
    constants = "\n".join(f"  %c{j} = arith.constant {j} : index" for j in range(max(cols, 2)))
    init = "\n".join(f"  memref.store %zero, %tile[%c{j}] : {tile}" for j in range(cols))
    update = "\n".join(
        f"""    %t{j} = memref.load %tile[%c{j}] : {tile}
    %x{j} = memref.load %x[%r, %c{j}] : memref<{rows}x{cols}xf32>
    %s{j} = arith.addf %t{j}, %x{j} : f32
    memref.store %s{j}, %tile[%c{j}] : {tile}"""
        for j in range(cols)
    )
    store = "\n".join(
        f"""  %f{j} = memref.load %tile[%c{j}] : {tile}
  memref.store %f{j}, %y[%c{j}] : memref<{cols}xf32>"""
        for j in range(cols)
    )
    return f"""
func.func @row_sums(%x: memref<{rows}x{cols}xf32>, %y: memref<{cols}xf32>) {{
{constants}
  %rows = arith.constant {rows} : index
  %zero = arith.constant 0.0 : f32
  %tile = memref.alloca() : {tile}
{init}
  scf.for %r = %c0 to %rows step %c1 {{
{update}
  }}
{store}
  func.return
}}
"""


def test_alloca_tile_with_constant_indices_is_scalarised(tmp_path: Path):
    module = parse(row_sums_ir(8, 4))
    x = np.random.default_rng(4).standard_normal((8, 4)).astype(np.float32)

    (y,) = run(tmp_path, module, "row_sums", [x], [(4,)])

    np.testing.assert_allclose(y, x.sum(axis=0), rtol=1e-6)
    source = emit_c(module)
    assert "tile[" not in source
    assert "float tile_3;" in source


def test_alloca_with_computed_indices_is_an_array(tmp_path: Path):
    module = parse(
        """
        func.func @reverse(%x: memref<8xf32>, %y: memref<8xf32>) {
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %c7 = arith.constant 7 : index
          %c8 = arith.constant 8 : index
          %buffer = memref.alloca() : memref<8xf32>
          scf.for %i = %c0 to %c8 step %c1 {
            %v = memref.load %x[%i] : memref<8xf32>
            %j = arith.subi %c7, %i : index
            memref.store %v, %buffer[%j] : memref<8xf32>
          }
          scf.for %i = %c0 to %c8 step %c1 {
            %v = memref.load %buffer[%i] : memref<8xf32>
            memref.store %v, %y[%i] : memref<8xf32>
          }
          func.return
        }
        """
    )
    x = np.arange(8, dtype=np.float32)

    (y,) = run(tmp_path, module, "reverse", [x], [(8,)])

    np.testing.assert_array_equal(y, x[::-1])
    assert "float buffer[8];" in emit_c(module)


M256 = '!emitc.opaque<"__m256">'
PTR = "!emitc.ptr<f32>"


def avx2_microkernel_ir() -> str:
    """y[2x8] = x[2x4] @ w[4x8]: a 2-pixel register tile of __m256, one FMA per pixel and k."""
    tile = f"memref<2x{M256}>"
    fma = f"({M256}, {M256}, {M256}) -> {M256}"
    update = "\n".join(
        f"""    %x{p} = memref.load %x[%c{p}, %k] : memref<2x4xf32>
    %b{p} = emitc.call_opaque "_mm256_set1_ps"(%x{p}) : (f32) -> {M256}
    %t{p} = memref.load %tile[%c{p}] : {tile}
    %r{p} = emitc.call_opaque "_mm256_fmadd_ps"(%b{p}, %wv, %t{p}) : {fma}
    memref.store %r{p}, %tile[%c{p}] : {tile}"""
        for p in range(2)
    )
    store = "\n".join(
        f"""  %f{p} = memref.load %tile[%c{p}] : {tile}
  %py{p} = cptr.addr %y[%c{p}, %c0] : memref<2x8xf32> -> {PTR}
  emitc.call_opaque "_mm256_storeu_ps"(%py{p}, %f{p}) : ({PTR}, {M256}) -> ()"""
        for p in range(2)
    )
    return f"""
builtin.module attributes {{c.includes = ["immintrin.h"]}} {{
  func.func @microkernel(%x: memref<2x4xf32>, %w: memref<4x8xf32>, %y: memref<2x8xf32>) {{
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %tile = memref.alloca() : {tile}
    %zero = emitc.call_opaque "_mm256_setzero_ps"() : () -> {M256}
    memref.store %zero, %tile[%c0] : {tile}
    memref.store %zero, %tile[%c1] : {tile}
    scf.for %k = %c0 to %c4 step %c1 {{
      %pw = cptr.addr %w[%k, %c0] : memref<4x8xf32> -> {PTR}
      %wv = emitc.call_opaque "_mm256_loadu_ps"(%pw) : ({PTR}) -> {M256}
  {update}
    }}
  {store}
    func.return
  }}
}}
"""


@pytest.mark.skipif(not HAS_AVX2, reason="the host CPU has no AVX2 and FMA (per /proc/cpuinfo)")
def test_avx2_intrinsics_through_call_opaque(tmp_path: Path):
    module = parse(avx2_microkernel_ir())
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    w = rng.standard_normal((4, 8)).astype(np.float32)

    (y,) = run(tmp_path, module, "microkernel", [x, w], [(2, 8)], AVX2_FLAGS)

    np.testing.assert_allclose(y, x @ w, rtol=1e-5, atol=1e-6)
    source = emit_c(module)
    assert "#include <immintrin.h>" in source
    assert "__m256 tile_0;" in source and "tile[" not in source
    assert "_mm256_storeu_ps(&y[8], f1);" in source
    (y_sanitized,) = run_with_sanitizers(source, "microkernel", [x, w], [16], AVX2_FLAGS)
    np.testing.assert_array_equal(y_sanitized.reshape(2, 8), y)


SOFTMAX = """
func.func @softmax(%x: memref<8xf32>, %y: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %minus_inf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %max = scf.for %i = %c0 to %c8 step %c1 iter_args(%m = %minus_inf) -> (f32) {
    %v = memref.load %x[%i] : memref<8xf32>
    %next = arith.maximumf %m, %v : f32
    scf.yield %next : f32
  }
  %sum = scf.for %i = %c0 to %c8 step %c1 iter_args(%s = %zero) -> (f32) {
    %v = memref.load %x[%i] : memref<8xf32>
    %d = arith.subf %v, %max : f32
    %e = math.exp %d : f32
    memref.store %e, %y[%i] : memref<8xf32>
    %next = arith.addf %s, %e : f32
    scf.yield %next : f32
  }
  %inverse = arith.divf %one, %sum : f32
  scf.for %i = %c0 to %c8 step %c1 {
    %e = memref.load %y[%i] : memref<8xf32>
    %r = arith.mulf %e, %inverse : f32
    memref.store %r, %y[%i] : memref<8xf32>
  }
  func.return
}
"""


def test_math_exp_softmax(tmp_path: Path):
    module = parse(SOFTMAX)
    x = (np.random.default_rng(6).standard_normal(8) * 4).astype(np.float32)

    (y,) = run(tmp_path, module, "softmax", [x], [(8,)])

    expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    assert "expf(d)" in emit_c(module)
    (y_sanitized,) = run_with_sanitizers(emit_c(module), "softmax", [x], [8])
    np.testing.assert_array_equal(y_sanitized, y)


def integer_ops_ir() -> str:
    rows = [
        "%fd = arith.floordivsi %v, %c3 : index",
        "%cd = arith.ceildivsi %v, %c3 : index",
        "%rs = arith.remsi %v, %c3 : index",
        "%ds = arith.divsi %v, %c3 : index",
        "%mx = arith.maxsi %v, %c2 : index",
        "%mn = arith.minsi %v, %cm2 : index",
        "%mu = arith.minui %v, %c5 : index",
        "%ab = arith.select %negative, %neg, %v : index",
        "%ev = scf.if %even -> (index) {\n  %d = arith.muli %v, %c2 : index\n  scf.yield %d : index\n}"
        " else {\n  scf.yield %c0 : index\n}",
        "%lg = arith.select %small_or_first, %c1, %c0 : index",
    ]
    body = []
    for row, op in enumerate(rows):
        name = op.split()[0]
        body += [
            op,
            f"%i64_{row} = arith.index_cast {name} : index to i64",
            f"%f_{row} = arith.sitofp %i64_{row} : i64 to f32",
            f"%row_{row} = arith.constant {row} : index",
            f"memref.store %f_{row}, %y[%row_{row}, %i] : memref<10x16xf32>",
        ]
    body_text = "\n".join(body).replace("\n", "\n    ")
    return f"""
func.func @integers(%y: memref<10x16xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %cm2 = arith.constant -2 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {{
    %v = arith.subi %i, %c8 : index
    %neg = arith.subi %c0, %v : index
    %negative = arith.cmpi slt, %v, %c0 : index
    %r2 = arith.remsi %v, %c2 : index
    %even = arith.cmpi eq, %r2, %c0 : index
    %positive = arith.cmpi sgt, %v, %c0 : index
    %below5 = arith.cmpi ult, %v, %c5 : index
    %small = arith.andi %positive, %below5 : i1
    %first = arith.cmpi eq, %v, %cm2 : index
    %small_or_first = arith.ori %small, %first : i1
    {body_text}
  }}
  func.return
}}
"""


def test_integer_arithmetic(tmp_path: Path):
    module = parse(integer_ops_ir())

    (y,) = run(tmp_path, module, "integers", [], [(10, 16)])

    v = np.arange(16) - 8
    expected = [
        v // 3,
        -(-v // 3),
        np.fmod(v, 3),
        np.trunc(v / 3),
        np.maximum(v, 2),
        np.minimum(v, -2),
        np.where(v < 0, 5, np.minimum(v, 5)),
        np.abs(v),
        np.where(v % 2 == 0, v * 2, 0),
        ((v > 0) & (v < 5)) | (v == -2),
    ]
    np.testing.assert_array_equal(y, np.array(expected, dtype=np.float32))


FLOATS = """
func.func @floats(%a: memref<8xf32>, %b: memref<8xf32>, %y: memref<8x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %c6 = arith.constant 6 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %a[%i] : memref<8xf32>
    %z = memref.load %b[%i] : memref<8xf32>
    %max = arith.maximumf %x, %z : f32
    memref.store %max, %y[%c0, %i] : memref<8x8xf32>
    %min = arith.minimumf %x, %z : f32
    memref.store %min, %y[%c1, %i] : memref<8x8xf32>
    %neg = arith.negf %x : f32
    memref.store %neg, %y[%c2, %i] : memref<8x8xf32>
    %lt = arith.cmpf olt, %x, %z : f32
    %lt_f = arith.select %lt, %one, %zero : f32
    memref.store %lt_f, %y[%c3, %i] : memref<8x8xf32>
    %uno = arith.cmpf uno, %x, %z : f32
    %uno_f = arith.select %uno, %one, %zero : f32
    memref.store %uno_f, %y[%c4, %i] : memref<8x8xf32>
    %abs = arith.maximumf %x, %neg : f32
    %root = math.sqrt %abs : f32
    memref.store %root, %y[%c5, %i] : memref<8x8xf32>
    %q = arith.divf %x, %z : f32
    %ordered = arith.cmpf ord, %q, %q : f32
    %finite = arith.select %ordered, %q, %zero : f32
    %clamped = arith.minimumf %finite, %one : f32
    %positive = arith.maximumf %clamped, %zero : f32
    %hundred = arith.constant 100.0 : f32
    %scaled = arith.mulf %positive, %hundred : f32
    %int = arith.fptosi %scaled : f32 to i32
    %back = arith.uitofp %int : i32 to f32
    memref.store %back, %y[%c6, %i] : memref<8x8xf32>
    %minus_half = arith.constant -0.5 : f32
    %neg_constant = arith.negf %minus_half : f32
    %sum = arith.addf %x, %neg_constant : f32
    memref.store %sum, %y[%c7, %i] : memref<8x8xf32>
  }
  func.return
}
"""


def test_float_arithmetic_and_nan_semantics(tmp_path: Path):
    nan = np.nan
    a = np.array([1.0, -2.0, nan, 0.0, -0.0, 3.0, 7.5, -1.0], dtype=np.float32)
    b = np.array([2.0, -3.0, 1.0, -0.0, 0.0, nan, 2.5, 4.0], dtype=np.float32)

    (y,) = run(tmp_path, parse(FLOATS), "floats", [a, b], [(8, 8)])

    with np.errstate(invalid="ignore"):
        q = np.clip(a / b, 0, 1)
        expected = [
            np.maximum(a, b),
            np.minimum(a, b),
            -a,
            a < b,
            np.isnan(a) | np.isnan(b),
            np.sqrt(np.abs(a)),
            np.trunc(np.nan_to_num(q) * 100),  # NaN quotients become 0
            a + 0.5,
        ]
    np.testing.assert_array_equal(y, np.array(expected, dtype=np.float32))
    # maximumf and minimumf order -0 below +0
    assert not np.signbit(y[0, 3]) and not np.signbit(y[0, 4])
    assert np.signbit(y[1, 3]) and np.signbit(y[1, 4])


def test_unused_values_and_parameters_are_not_printed(tmp_path: Path):
    module = parse(
        """
        func.func @dead(%x: memref<4xf32>, %unused: memref<4xf32>, %n: index, %y: memref<4xf32>) {
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %c4 = arith.constant 4 : index
          %v = memref.load %x[%c0] : memref<4xf32>
          %dead1 = arith.mulf %v, %v : f32
          %dead2 = arith.addf %dead1, %v : f32
          %dead_loop = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %v) -> (f32) {
            %next = arith.addf %acc, %dead2 : f32
            scf.yield %next : f32
          }
          %dead_tile = memref.alloca() : memref<2xf32>
          memref.store %v, %dead_tile[%c0] : memref<2xf32>
          memref.store %v, %y[%c1] : memref<4xf32>
          func.return
        }
        """
    )

    (y,) = run(tmp_path, module, "dead", [np.full(4, 3.0), np.zeros(4), np.zeros(1)], [(4,)])

    assert y.tolist() == [0.0, 3.0, 0.0, 0.0]
    source = emit_c(module)
    assert "dead" not in source.replace("void dead(", "")
    assert "(void)unused;" in source and "(void)n;" in source


def test_target_is_named_c_and_emits_to_a_stream():
    output = StringIO()
    CTarget().emit(make_context(), parse(SUM), output)
    assert CTarget.name == "c"
    assert CTarget.from_spec(parse_spec("c")) == CTarget()
    assert output.getvalue() == emit_c(parse(SUM))
    assert output.getvalue().startswith("/* Generated by small-ir")


def test_kernel_ops_must_be_lowered_first():
    module = parse(
        """
        func.func @conv(%t: !kernel.tile<4x16xf32>, %x: memref<1x4x4x16xf32>, %w: memref<1x1x1x1x16x16xf32>) {
          %c0 = arith.constant 0 : index
          kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1, %w[%c0, %c0, %c0, %c0, %c0, %c0]
              : !kernel.tile<4x16xf32>, memref<1x4x4x16xf32>, memref<1x1x1x1x16x16xf32>
          func.return
        }
        """
    )
    hint = "lower kernel ops with a backend pass first"
    with pytest.raises(CEmitError, match=rf"the c target cannot print kernel\.fma: {hint}"):
        emit_c(module)


def test_memref_alloc_must_be_planned_first():
    module = parse(
        """
        func.func @scratch(%y: memref<4xf32>) {
          %buffer = memref.alloc() : memref<4xf32>
          func.return
        }
        """
    )
    with pytest.raises(CEmitError, match=r"cannot print memref\.alloc: run the plan-memory pass first"):
        emit_c(module)


def test_layout_maps_are_rejected():
    module = parse(
        """
        func.func @strided(%x: memref<4xf32, strided<[2]>>, %y: memref<4xf32>) {
          %c0 = arith.constant 0 : index
          %v = memref.load %x[%c0] : memref<4xf32, strided<[2]>>
          memref.store %v, %y[%c0] : memref<4xf32>
          func.return
        }
        """
    )
    with pytest.raises(CEmitError, match="identity"):
        emit_c(module)


def test_private_functions_are_static_and_callable(tmp_path: Path):
    module = parse(
        """
        func.func @model(%x: memref<4xf32>, %y: memref<4xf32>) {
          %c0 = arith.constant 0 : index
          %c2 = arith.constant 2 : index
          func.call @relu_from(%x, %y, %c2) : (memref<4xf32>, memref<4xf32>, index) -> ()
          func.return
        }
        func.func private @relu_from(%x: memref<4xf32>, %y: memref<4xf32>, %start: index) {
          %c1 = arith.constant 1 : index
          %c4 = arith.constant 4 : index
          %zero = arith.constant 0.0 : f32
          scf.for %i = %start to %c4 step %c1 {
            %v = memref.load %x[%i] : memref<4xf32>
            %positive = arith.cmpf ogt, %v, %zero : f32
            scf.if %positive {
              memref.store %v, %y[%i] : memref<4xf32>
            }
          }
          func.return
        }
        """
    )

    (y,) = run(tmp_path, module, "model", [np.array([5.0, 6.0, -7.0, 8.0])], [(4,)])

    assert y.tolist() == [0.0, 0.0, 0.0, 8.0]
    source = emit_c(module)
    assert "static void relu_from(const float *restrict, float *restrict, ptrdiff_t);" in source
    assert "static void relu_from(const float *restrict x, float *restrict y, ptrdiff_t start) {" in source


@pytest.mark.parametrize("symbol", ["y0", "exp", "fmaf", "_mm_secret"])
def test_symbols_that_clash_with_the_c_library_are_rejected(symbol: str):
    module = parse(f"""
    func.func @{symbol}(%x: memref<4xf32>) {{
      func.return
    }}
    """)
    with pytest.raises(CEmitError, match=f"@{symbol} is not a C identifier or clashes with the C library"):
        emit_c(module)


def test_freestanding_modules_bring_their_own_expf(tmp_path: Path):
    """With c.freestanding there is no <math.h>: small_ir_expf is within 2 ulp of exp from -104 to 89."""
    from small_ir.backends.c_emitter import _FREESTANDING_EXPF, _FREESTANDING_MATH

    module = parse(
        """
        builtin.module attributes {c.freestanding} {
          func.func @exp_all(%x: memref<4096xf32>, %y: memref<4096xf32>) {
            %c0 = arith.constant 0 : index
            %c1 = arith.constant 1 : index
            %n = arith.constant 4096 : index
            scf.for %i = %c0 to %n step %c1 {
              %v = memref.load %x[%i] : memref<4096xf32>
              %e = math.exp %v : f32
              memref.store %e, %y[%i] : memref<4096xf32>
            }
            func.return
          }
        }
        """
    )
    source = emit_c(module)
    assert "#include <math.h>" not in source
    assert _FREESTANDING_MATH in source and _FREESTANDING_EXPF in source
    x = np.concatenate([np.linspace(-104, 89, 4000), [0.0, -0.0, 1e-30, -1e-30, 88.72, -87.3, 1.0, -1.0] * 12])
    x = x[:4096].astype(np.float32)
    (c_file := tmp_path / "exp.c").write_text(source)
    library = build_shared_library([c_file], tmp_path / "libexp.so", ["-ffreestanding", "-fno-builtin"])
    y = np.zeros_like(x)
    load_function(library, "exp_all", 2)(x, y)
    expected = np.exp(x.astype(np.float64))
    representable = expected < np.finfo(np.float32).max
    finite = expected[representable]
    ulp = np.maximum(np.spacing(finite.astype(np.float32)), np.finfo(np.float32).smallest_subnormal)
    error_in_ulp = np.abs(y[representable] - finite) / ulp
    assert error_in_ulp.max() <= 2.0, x[representable][error_in_ulp.argmax()]
    assert np.isposinf(y[~representable]).all()
