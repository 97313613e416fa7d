"""Build the ONNX graph of a BERT encoder straight from its safetensors weights.

No torch: the graph is written with the `onnx` helper API, op for op what Hugging Face's
`BertModel` computes (embeddings + LayerNorm, post-norm self-attention blocks with exact
GELU), so onnxruntime returns the same `last_hidden_state` as the torch model (to ~1e-6;
tests/rag/test_embedders_real.py). Pooling and normalisation stay in the caller.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

OPSET = 17  # first opset with LayerNormalization


def build_bert_onnx(model_dir: Path, target: Path) -> None:
    """Write `target` (.onnx) for the BertModel in `model_dir` (config.json, model.safetensors)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"not a BERT model with exact GELU: {model_dir / 'config.json'}")
    weights = load_file(str(model_dir / "model.safetensors"))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def w(key: str, *, transpose: bool = False) -> str:
        arr = weights[key].astype(np.float32)
        return const(key, np.ascontiguousarray(arr.T) if transpose else arr)

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def linear(x: str, prefix: str, out: str) -> str:
        y = node("MatMul", [x, w(f"{prefix}.weight", transpose=True)], f"{out}/matmul")
        return node("Add", [y, w(f"{prefix}.bias")], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, w(f"{prefix}.weight"), w(f"{prefix}.bias")],
                    out, axis=-1, epsilon=eps)

    # Embeddings: word + absolute position + token type, then LayerNorm.
    shape = node("Shape", ["input_ids"], "emb/shape")
    seq = node("Gather", [shape, const("one_i", np.array(1, dtype=np.int64))], "emb/seq")
    positions = node("Range", [const("zero_i", np.array(0, dtype=np.int64)), seq,
                               const("step_i", np.array(1, dtype=np.int64))], "emb/positions")
    word = node("Gather", [w("embeddings.word_embeddings.weight"), "input_ids"], "emb/word")
    pos = node("Gather", [w("embeddings.position_embeddings.weight"), positions], "emb/pos")
    types = node("Gather", [w("embeddings.token_type_embeddings.weight"), "token_type_ids"],
                 "emb/type")
    summed = node("Add", [node("Add", [word, pos], "emb/add1"), types], "emb/sum")
    x = layer_norm(summed, "embeddings.LayerNorm", "emb/out")

    # Additive attention mask, as transformers builds it: (1 - mask) * float32 min.
    maskf = node("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    inverted = node("Sub", [const("one_f", np.array(1.0, dtype=np.float32)), maskf], "mask/inv")
    bias = node("Mul", [inverted, const("min_f", np.array(np.finfo(np.float32).min,
                                                          dtype=np.float32))], "mask/bias")
    bias = node("Unsqueeze", [bias, const("axes_12", np.array([1, 2], dtype=np.int64))],
                "mask/bias4d")

    split = const("split_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge = const("merge_shape", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    one = "one_f"

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        t = f"l{i}"

        def heads_of(x: str, name: str, perm: list[int], p: str = p, t: str = t) -> str:
            proj = linear(x, f"{p}.attention.self.{name}", f"{t}/{name}")
            split_ = node("Reshape", [proj, split], f"{t}/{name}/split")
            return node("Transpose", [split_], f"{t}/{name}/heads", perm=perm)

        q = heads_of(x, "query", [0, 2, 1, 3])
        k = heads_of(x, "key", [0, 2, 3, 1])
        v = heads_of(x, "value", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{t}/qk"), scale], f"{t}/scaled")
        probs = node("Softmax", [node("Add", [scores, bias], f"{t}/masked")], f"{t}/probs",
                     axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"{t}/ctx")], f"{t}/ctx_t",
                   perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, merge], f"{t}/ctx_merged")
        attn = linear(ctx, f"{p}.attention.output.dense", f"{t}/attn_out")
        x1 = layer_norm(node("Add", [attn, x], f"{t}/res1"), f"{p}.attention.output.LayerNorm",
                        f"{t}/ln1")
        inter = linear(x1, f"{p}.intermediate.dense", f"{t}/inter")
        # Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
        erf = node("Erf", [node("Div", [inter, sqrt2], f"{t}/gelu/div")], f"{t}/gelu/erf")
        gelu = node("Mul", [node("Mul", [inter, half], f"{t}/gelu/half"),
                            node("Add", [erf, one], f"{t}/gelu/plus1")], f"{t}/gelu")
        out = linear(gelu, f"{p}.output.dense", f"{t}/ffn_out")
        x = layer_norm(node("Add", [out, x1], f"{t}/res2"), f"{p}.output.LayerNorm",
                       f"{t}/out")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    ids_info = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
                for n in ("input_ids", "attention_mask", "token_type_ids")]
    out_info = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                             ["batch", "seq", hidden])
    graph = helper.make_graph(nodes, "bert", ids_info, [out_info], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="paperchat")
    model.ir_version = 8  # readable by every onnxruntime >= 1.13
    onnx.checker.check_model(model)
    onnx.save_model(model, str(target))
