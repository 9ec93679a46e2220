"""
Model importers: ONNX, TFLite, the text format, and nn-dialect .mlir, all
into the `nn` dialect (NCHW inside, batch 1).

    model = load_model("ic_resnet8.onnx")
    compiled = small_ir.compile(model.module, target="host")

A model keeps the layout its framework declares at its inputs and outputs:
`model.module` carries `small.io_layout` ("nchw" or "nhwc"), which the
compiler uses for the generated function's arguments.

Everything a model uses that is not supported is reported at once, by
`ModelImportError`, naming each node (name and op type) and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp, StringAttr

from small_ir.errors import SmallIRError

IO_LAYOUT = "small.io_layout"


class ModelImportError(SmallIRError):
    """A model file that cannot be imported, with every reason found."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path}: cannot import the model ({len(problems)} problem{'s' * (len(problems) != 1)}):\n{listing}")


@dataclass
class Problems:
    """Collects unsupported nodes while an importer walks a graph."""

    path: str | Path
    found: list[str] = field(default_factory=list)

    def add(self, node: str, op_type: str, reason: str) -> None:
        self.found.append(f"node '{node}' ({op_type}): {reason}")

    def raise_if_any(self) -> None:
        if self.found:
            raise ModelImportError(self.path, self.found)


@dataclass
class ImportedModel:
    module: ModuleOp
    """One `func.func` of nn ops: inputs first, then outputs (destination passing)."""
    input_names: list[str]
    output_names: list[str]
    source: Path
    framework: str | None = None
    """The framework that defines the model ("onnx", "tflite"), for `small-ir check`; None: small-ir itself."""
    hybrid: bool = False
    """The framework runs the model with hybrid kernels (int8 weights, activations quantized on
    the fly): its outputs differ from small-ir's exact float math by about the quantization step."""

    @property
    def io_layout(self) -> str:
        attribute = self.module.attributes.get(IO_LAYOUT)
        return attribute.data if isinstance(attribute, StringAttr) else "nchw"


def set_io_layout(module: ModuleOp, layout: str) -> None:
    module.attributes[IO_LAYOUT] = StringAttr(layout)


def load_model(path: str | Path) -> ImportedModel:
    """Imports a model file by its kind (suffix or content): ONNX, TFLite, .mlir (nn dialect) or the text format."""
    path = Path(path)
    if not path.is_file():
        raise SmallIRError(f"{path}: no such file")
    with path.open("rb") as file:
        head = file.read(8)
    suffix = path.suffix.lower()
    if suffix == ".tflite" or head[4:8] == b"TFL3":
        from small_ir.frontends.tflite import import_tflite

        return import_tflite(path)
    if suffix == ".onnx" or (suffix != ".mlir" and head[:1] == b"\x08"):  # ONNX protobufs start with ir_version
        from small_ir.frontends.onnx import import_onnx

        return import_onnx(path)
    if suffix == ".mlir":
        from small_ir.frontends.mlir import import_mlir

        return import_mlir(path)
    from small_ir.frontends.text import import_text

    return import_text(path)
