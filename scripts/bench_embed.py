#!/usr/bin/env python3
"""The embedding benchmark's Python reference: the same ONNX file, tokenizer
settings, sentences, thread counts and batch sizes as the Rust side, through
onnxruntime. Prints one JSON object.

Usage: bench_embed.py MODEL_FILE TOKENIZER_FILE SENTENCES_FILE THREADS,.. BATCHES,.. SINGLES
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    model_file, tokenizer_file, path, threads, batches, singles = sys.argv[1:7]
    sentences = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
    tok = Tokenizer.from_file(tokenizer_file)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    tok.enable_truncation(256)
    out = {}
    for t in [int(x) for x in threads.split(",")]:
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        # The same session settings as the Rust embedder (embedder.rs).
        so.add_session_config_entry("optimization.disable_specified_optimizers", "SkipLayerNormFusion")
        s = ort.InferenceSession(model_file, so, providers=["CPUExecutionProvider"])

        def embed(texts):
            enc = tok.encode_batch(texts)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            h = s.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        embed(sentences[:32])
        for b in [int(x) for x in batches.split(",")]:
            start = time.perf_counter()
            for i in range(0, len(sentences), b):
                embed(sentences[i : i + b])
            out[f"t{t}_b{b}"] = len(sentences) / (time.perf_counter() - start)
        lat = []
        for text in sentences[: int(singles)]:
            start = time.perf_counter()
            embed([text])
            lat.append((time.perf_counter() - start) * 1000)
        lat.sort()
        out[f"t{t}_p50"] = lat[len(lat) // 2]
        out[f"t{t}_p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
