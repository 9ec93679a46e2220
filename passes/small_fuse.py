"""
small-fuse: folds element-wise layers into the tile store of the layer that
produces their input, so they cost no pass over memory.

A `copy` layer whose input (or, for add / mul, either operand) is the output
buffer of another `small.layer`, used by nothing else, merges into it:

* relu / clip / leaky (`clamp_min` / `clamp_max`, `leaky`) become the producer's activation;
* add / mul with another tensor (`other`, `combine`) become the producer's
  residual combine, applied before its activation; so they fuse only into a
  producer that has no combine and no activation yet.

    %t = conv(%x)          ; %y = copy %t other %r {combine = "add", clamp}
    =>  %y = conv(%x) other %r {combine = "add", clamp}
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from small_ir.dialects import small

EPILOGUE = ("combine", "clamp_min", "clamp_max", "leaky", "sigmoid")


def sole_producer(buffer: SSAValue, consumer: small.LayerOp) -> small.LayerOp | None:
    """The small.layer writing `buffer` when `buffer` is a temporary only `consumer` reads."""
    if not isinstance(buffer.owner, memref.AllocOp):
        return None
    users = [use.operation for use in buffer.uses]
    writers = [op for op in users if isinstance(op, small.LayerOp) and op.output is buffer]
    if len(users) != 2 or len(writers) != 1 or consumer not in users:
        return None
    return writers[0]


def can_take(producer: small.LayerOp, consumer: small.LayerOp) -> bool:
    if producer.block != consumer.block:
        return False
    if producer.clamp_bounds is not None or producer.leaky is not None or producer.sigmoid is not None:
        return False
    return consumer.combine is None or producer.combine is None


class FuseEpilogue(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: small.LayerOp, rewriter: PatternRewriter):
        if op.kind.data != "copy":
            return
        candidates = [(op.input, op.other)]
        if op.other is not None and op.combine.data != "sub":  # a - b: only a's producer may take it
            candidates.append((op.other, op.input))
        for fused_input, other in candidates:
            producer = sole_producer(fused_input, op)
            if producer is None or producer is op or other is fused_input or not can_take(producer, op):
                continue
            self.fuse(producer, op, other, rewriter)
            return

    def fuse(self, producer: small.LayerOp, consumer: small.LayerOp, other: SSAValue | None, rewriter: PatternRewriter):
        """The fused layer takes the consumer's place, where all its operands are defined."""
        properties = dict(producer.properties)
        properties |= {name: consumer.properties[name] for name in EPILOGUE if name in consumer.properties}
        buffer = producer.output
        fused = producer.rebuild(other=other if other is not None else producer.other, output=consumer.output, properties=properties)
        rewriter.replace(consumer, fused)
        rewriter.erase(producer)
        rewriter.erase(buffer.owner)


@dataclass(frozen=True)
class SmallFuse(ModulePass):
    name = "small-fuse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseEpilogue()).rewrite_module(op)
