#!/usr/bin/env python3
"""Builds the fp32 ONNX graph of all-MiniLM-L6-v2 from its safetensors weights.

No torch: the BERT encoder is written out with onnx.helper and numpy.
The encoder is onnx_encoder.Graph's (inputs input_ids, attention_mask,
token_type_ids; output last_hidden_state [batch, seq, 384]); pooling and
normalisation happen in the Rust embedder. LayerNormalization eps 1e-12.

Usage: build_minilm_onnx.py MODEL_DIR OUT.onnx
"""
import json
import struct
import sys

import numpy as np

from onnx_encoder import Graph


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
    eps = cfg["layer_norm_eps"]
    w = load_safetensors(f"{model_dir}/model.safetensors")
    g = Graph()

    def linear(x, prefix):
        weight = g.init(f"{prefix}.weight_t", w[f"{prefix}.weight"].T)
        bias = g.init(f"{prefix}.bias", w[f"{prefix}.bias"])
        return g.node("Add", [g.node("MatMul", [x, weight]), bias])

    def layer_norm(x, prefix):
        gamma = g.init(f"{prefix}.weight", w[f"{prefix}.weight"])
        beta = g.init(f"{prefix}.bias", w[f"{prefix}.bias"])
        return g.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    parts = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
        "up": "intermediate.dense", "down": "output.dense", "out_norm": "output.LayerNorm",
    }
    word = g.node("Gather", [g.init("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"])
    x = g.embeddings(
        word,
        "token_type_embeddings", w["embeddings.token_type_embeddings.weight"],
        "position_embeddings", w["embeddings.position_embeddings.weight"],
        lambda y: layer_norm(y, "embeddings.LayerNorm"),
    )
    x = g.encoder(
        x, cfg["num_hidden_layers"], hidden, cfg["num_attention_heads"],
        lambda y, i, part: linear(y, f"encoder.layer.{i}.{parts[part]}"),
        lambda y, i, part: layer_norm(y, f"encoder.layer.{i}.{parts[part]}"),
    )
    g.save(x, "all-MiniLM-L6-v2", hidden, out_path)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
