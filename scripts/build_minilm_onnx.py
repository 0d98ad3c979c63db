#!/usr/bin/env python3
"""Builds the fp32 ONNX graph of all-MiniLM-L6-v2 from its safetensors weights.

No torch: the BERT encoder is written out with onnx.helper and numpy.
Inputs input_ids, attention_mask, token_type_ids (int64 [batch, seq]);
output last_hidden_state (float32 [batch, seq, 384]). Pooling and
normalisation happen in the Rust embedder. Opset 17, exact erf GELU,
LayerNormalization eps 1e-12, additive mask (1 - mask) * float32.min.

Usage: build_minilm_onnx.py MODEL_DIR OUT.onnx
"""
import json
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        out[name] = arr.copy()
    return out


def build(model_dir, out_path):
    cfg = json.load(open(f"{model_dir}/config.json"))
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    layers = cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    head_dim = hidden // heads
    w = load_safetensors(f"{model_dir}/model.safetensors")

    inits = []
    nodes = []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(name, values, dtype=np.int64):
        return init(name, np.array(values, dtype=dtype))

    counter = [0]

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x, prefix):
        weight = init(f"{prefix}.weight_t", w[f"{prefix}.weight"].T)
        bias = init(f"{prefix}.bias", w[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, weight]), bias])

    def layer_norm(x, prefix):
        g = init(f"{prefix}.weight", w[f"{prefix}.weight"])
        b = init(f"{prefix}.bias", w[f"{prefix}.bias"])
        return node("LayerNormalization", [x, g, b], axis=-1, epsilon=eps)

    # Embeddings. Position ids are a 1-D slice of the table: a scalar
    # Range + Gather is rewritten by ORT's optimiser into an invalid Slice.
    word = node("Gather", [init("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"])
    tok = node("Gather", [init("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"])
    seq_len = node("Slice", [node("Shape", ["input_ids"]), const("one_1d", [1]), const("two_1d", [2]), const("zero_1d", [0])])
    pos = node("Slice", [init("position_embeddings", w["embeddings.position_embeddings.weight"]), const("zero_start", [0]), seq_len, const("axis0", [0])])
    x = layer_norm(node("Add", [node("Add", [word, tok]), pos]), "embeddings.LayerNorm")

    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = node("Unsqueeze", [mask, const("mask_axes", [1, 2])])
    one = init("one_f", np.array(1.0, dtype=np.float32))
    fmin = init("fmin", np.array(np.finfo(np.float32).min, dtype=np.float32))
    bias = node("Mul", [node("Sub", [one, mask]), fmin])

    split_shape = const("split_shape", [0, 0, heads, head_dim])
    merge_shape = const("merge_shape", [0, 0, hidden])
    scale = init("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = init("half", np.array(0.5, dtype=np.float32))

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.query"), split_shape])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.key"), split_shape])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.value"), split_shape])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(node("Add", [linear(ctx, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        gelu = node("Mul", [node("Mul", [h, half]), node("Add", [node("Erf", [node("Div", [h, sqrt2])]), one])])
        x = layer_norm(node("Add", [linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    ints = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [ints("input_ids"), ints("attention_mask"), ints("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="memory")
    model.ir_version = 8
    onnx.checker.check_model(model)
    with open(out_path, "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
