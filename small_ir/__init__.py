"""small-ir: SMaLL-style DNN compiler on xDSL. See README.md."""

from small_ir.builder import NetworkBuilder
from small_ir.compiler import CompiledModel, compile, pipeline_spec

__all__ = ["NetworkBuilder", "CompiledModel", "compile", "pipeline_spec"]
