#!/usr/bin/env python3
"""Makes the int8 variant of an fp32 embedding graph with ONNX Runtime's
dynamic quantiser: signed per-channel weights, and only the MatMuls that
multiply by a weight (an initializer). Quantising the attention MatMuls too
loses several times more accuracy for little speed.

Usage: quantize_onnx.py IN.onnx OUT.onnx
"""
import os
import sys

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def main(src, dst):
    model = onnx.load(src)
    # The quantiser selects nodes by name; the built graphs leave them unnamed.
    for i, n in enumerate(model.graph.node):
        n.name = n.name or f"{n.op_type}_{i}"
    weights = {i.name for i in model.graph.initializer}
    matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul" and any(i in weights for i in n.input)]
    if not matmuls:
        raise SystemExit(f"{src}: no MatMul with a weight input; nothing to quantise")
    named = dst + ".named"
    onnx.save(model, named)
    try:
        quantize_dynamic(named, dst, weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=matmuls)
    finally:
        os.remove(named)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
