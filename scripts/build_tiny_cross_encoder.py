"""A tiny BERT cross-encoder with seeded random weights and its WordPiece
tokenizer.json, laid out as a Hugging Face cross-encoder repository
(onnx/model.onnx, tokenizer.json). No registry ships reranker weights, so
the reranker's tests run on this model and compare with ONNX Runtime's own
answer on the same pairs.

Usage:
  build_tiny_cross_encoder.py build OUT_DIR
  build_tiny_cross_encoder.py score OUT_DIR < pairs.json
      prints ONNX Runtime's logit for each [query, text] pair, as JSON
"""
import json
import os
import string
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HIDDEN, HEADS, LAYERS, INTERMEDIATE, POSITIONS = 32, 4, 2, 64, 512
WORDS = (
    "alice bob carol garden tomatoes sunflowers fence water morning coffee tea cats dogs "
    "lisbon trip summer allergic peanuts plays chess tennis sunday likes loves does have "
    "what where when who which the a an is are was in on of to and her his"
).split()


def vocab():
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits)
    return special + WORDS + chars + [f"##{c}" for c in chars] + list(string.punctuation)


def build(out):
    import onnx_encoder
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    os.makedirs(f"{out}/onnx", exist_ok=True)
    words = vocab()
    ids = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordPiece(ids, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    tok.save(f"{out}/tokenizer.json")

    rng = np.random.default_rng(7)
    rand = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)
    g = onnx_encoder.Graph()

    def linear(x, name, n_in, n_out):
        w = g.init(f"{name}.weight_t", rand(n_in, n_out))
        b = g.init(f"{name}.bias", rand(n_out))
        return g.node("Add", [g.node("MatMul", [x, w]), b])

    def layer_norm(x, name):
        gamma = g.init(f"{name}.weight", np.ones(HIDDEN, dtype=np.float32))
        beta = g.init(f"{name}.bias", np.zeros(HIDDEN, dtype=np.float32))
        return g.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-12)

    sizes = {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN),
             "out": (HIDDEN, HIDDEN), "up": (HIDDEN, INTERMEDIATE), "down": (INTERMEDIATE, HIDDEN)}
    word = g.node("Gather", [g.init("word_embeddings", rand(len(words), HIDDEN)), "input_ids"])
    x = g.embeddings(word, "token_type_embeddings", rand(2, HIDDEN),
                     "position_embeddings", rand(POSITIONS, HIDDEN),
                     lambda y: layer_norm(y, "embeddings.norm"))
    x = g.encoder(x, LAYERS, HIDDEN, HEADS,
                  lambda y, i, part: linear(y, f"layer.{i}.{part}", *sizes[part]),
                  lambda y, i, part: layer_norm(y, f"layer.{i}.{part}"))
    g.save_classifier(x, "tiny-cross-encoder",
                      lambda y: linear(y, "pooler", HIDDEN, HIDDEN),
                      lambda y: linear(y, "classifier", HIDDEN, 1),
                      1, f"{out}/onnx/model.onnx")


def score(out):
    import onnxruntime
    from tokenizers import Tokenizer

    pairs = json.load(sys.stdin)
    tok = Tokenizer.from_file(f"{out}/tokenizer.json")
    tok.enable_truncation(512, strategy="only_second")
    tok.enable_padding()
    enc = tok.encode_batch([tuple(p) for p in pairs])
    feed = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    session = onnxruntime.InferenceSession(f"{out}/onnx/model.onnx", providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], feed)
    print(json.dumps(logits[:, 0].tolist()))


if __name__ == "__main__":
    {"build": build, "score": score}[sys.argv[1]](sys.argv[2])
