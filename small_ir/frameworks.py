"""
Running a model in the framework it came from, to check small-ir against it:
onnxruntime for .onnx, the TFLite interpreter (ai-edge-litert) for .tflite.
Both are optional (`pip install small-ir[check]`).

`run_framework(framework, path, inputs, intermediates)` returns the model's outputs and
the named intermediate tensors, in the framework's own layout (NCHW for
ONNX, NHWC for TFLite).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from small_ir.errors import SmallIRError


def _require(module: str, package: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise SmallIRError(f"{package} is needed to run the original model: pip install 'small-ir[check]'") from error


@lru_cache(maxsize=4)
def onnx_session(path: Path, intermediates: tuple[str, ...]):
    """An onnxruntime session on one thread whose outputs also include the known `intermediates`."""
    onnx = _require("onnx", "onnx")
    onnxruntime = _require("onnxruntime", "onnxruntime")
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    outputs = [output.name for output in graph.output]
    known = {info.name: info for info in graph.value_info}
    extra = [name for name in intermediates if name in known and name not in outputs]
    graph.output.extend(known[name] for name in extra)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session, outputs, extra


def run_onnx(path: Path, inputs: list[np.ndarray], intermediates: list[str]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    session, outputs, extra = onnx_session(path, tuple(intermediates))
    feeds = {graph_input.name: array for graph_input, array in zip(session.get_inputs(), inputs)}
    results = session.run(outputs + extra, feeds)
    return results[: len(outputs)], dict(zip(extra, results[len(outputs) :]))


@lru_cache(maxsize=4)
def tflite_interpreter(path: Path, keep_tensors: bool):
    litert = _require("ai_edge_litert.interpreter", "ai-edge-litert")
    with warnings.catch_warnings():  # keeping every tensor is what we want here; TFLite warns it is for debugging
        warnings.simplefilter("ignore", UserWarning)
        interpreter = litert.Interpreter(model_path=str(path), experimental_preserve_all_tensors=keep_tensors, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(path: Path, inputs: list[np.ndarray], intermediates: list[str]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    interpreter = tflite_interpreter(path, bool(intermediates))
    for detail, array in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], array.astype(detail["dtype"]))
    interpreter.invoke()
    outputs = [interpreter.get_tensor(detail["index"]).copy() for detail in interpreter.get_output_details()]
    by_name = {detail["name"]: detail["index"] for detail in interpreter.get_tensor_details()}
    found = {name: interpreter.get_tensor(by_name[name]).copy() for name in intermediates if name in by_name}
    return outputs, found


RUNNERS = {"onnx": run_onnx, "tflite": run_tflite}


def run_framework(
    framework: str, path: Path, inputs: list[np.ndarray], intermediates: list[str] = ()
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Runs the model file with `framework` ("onnx" or "tflite")."""
    if framework not in RUNNERS:
        raise SmallIRError(f"{path}: no framework runs {framework} models (only onnx and tflite)")
    return RUNNERS[framework](Path(path), inputs, list(intermediates))
