"""The BERT-family encoder both model builds write out with onnx.helper:
embeddings summed and normalised, then self-attention layers with an
additive mask, exact erf GELU and post-layer LayerNormalization.

The graph's inputs are input_ids, attention_mask and token_type_ids (int64
[batch, seq]); its output last_hidden_state (float32 [batch, seq, hidden]),
or for a cross-encoder logits (float32 [batch, labels]).
Opset 17. Nodes and initializers are emitted in call order, so a build is
byte-for-byte repeatable.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    """Initializers and nodes of one graph, in the order they are made."""

    def __init__(self):
        self.inits = []
        self.nodes = []
        self.counter = 0

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(self, name, values, dtype=np.int64):
        return self.init(name, np.array(values, dtype=dtype))

    def node(self, op, inputs, **attrs):
        self.counter += 1
        out = f"{op.lower()}_{self.counter}"
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def embeddings(self, word, type_name, type_table, pos_name, pos_table, layer_norm):
        """word + token type + position embeddings, then `layer_norm`.

        Position ids are a 1-D slice of the table: a scalar Range + Gather is
        rewritten by ORT's optimiser into an invalid Slice.
        """
        tok = self.node("Gather", [self.init(type_name, type_table), "token_type_ids"])
        seq_len = self.node("Slice", [self.node("Shape", ["input_ids"]), self.const("one_1d", [1]),
                                      self.const("two_1d", [2]), self.const("zero_1d", [0])])
        pos = self.node("Slice", [self.init(pos_name, pos_table), self.const("zero_start", [0]),
                                  seq_len, self.const("axis0", [0])])
        return layer_norm(self.node("Add", [self.node("Add", [word, tok]), pos]))

    def encoder(self, x, layers, hidden, heads, linear, layer_norm):
        """`layers` attention layers over `x`. `linear(x, i, part)` and
        `layer_norm(x, i, part)` add layer i's weights; parts are q, k, v,
        out (attention output), attn_norm, up, down and out_norm."""
        head_dim = hidden // heads
        mask = self.node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
        mask = self.node("Unsqueeze", [mask, self.const("mask_axes", [1, 2])])
        one = self.init("one_f", np.array(1.0, dtype=np.float32))
        fmin = self.init("fmin", np.array(np.finfo(np.float32).min, dtype=np.float32))
        bias = self.node("Mul", [self.node("Sub", [one, mask]), fmin])

        split_shape = self.const("split_shape", [0, 0, heads, head_dim])
        merge_shape = self.const("merge_shape", [0, 0, hidden])
        scale = self.init("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
        sqrt2 = self.init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
        half = self.init("half", np.array(0.5, dtype=np.float32))
        n = self.node

        def split(y, perm):
            return n("Transpose", [n("Reshape", [y, split_shape])], perm=perm)

        for i in range(layers):
            q = split(linear(x, i, "q"), [0, 2, 1, 3])
            k = split(linear(x, i, "k"), [0, 2, 3, 1])
            v = split(linear(x, i, "v"), [0, 2, 1, 3])
            scores = n("Add", [n("Mul", [n("MatMul", [q, k]), scale]), bias])
            probs = n("Softmax", [scores], axis=-1)
            ctx = n("Reshape", [n("Transpose", [n("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_shape])
            x = layer_norm(n("Add", [linear(ctx, i, "out"), x]), i, "attn_norm")
            h = linear(x, i, "up")
            gelu = n("Mul", [n("Mul", [h, half]), n("Add", [n("Erf", [n("Div", [h, sqrt2])]), one])])
            x = layer_norm(n("Add", [linear(gelu, i, "down"), x]), i, "out_norm")
        return x

    def save(self, x, name, hidden, out_path):
        """Names `x` last_hidden_state, checks the model and writes it."""
        self.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
        self._write(name, "last_hidden_state", ["batch", "seq", hidden], out_path)

    def save_classifier(self, x, name, pooler, classifier, labels, out_path):
        """A cross-encoder's head on `x`, as BERT's sequence classifier: the
        first token through `pooler` (a linear layer) and tanh, then
        `classifier` (a linear layer to `labels` logits), named logits."""
        first = self.node("Gather", [x, self.const("first_token", [0])], axis=1)
        first = self.node("Reshape", [first, self.const("rows", [0, -1])])
        logits = classifier(self.node("Tanh", [pooler(first)]))
        self.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
        self._write(name, "logits", ["batch", labels], out_path)

    def _write(self, name, output, shape, out_path):
        ints = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
        graph = helper.make_graph(
            self.nodes,
            name,
            [ints("input_ids"), ints("attention_mask"), ints("token_type_ids")],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="memory")
        model.ir_version = 8
        onnx.checker.check_model(model)
        with open(out_path, "wb") as f:
            f.write(model.SerializeToString())
