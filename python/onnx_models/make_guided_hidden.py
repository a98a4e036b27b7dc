#!/usr/bin/env python3
"""Builds the class-conditional and hidden-value ONNX test models of diffscope's `onnx` scene kind
(docs/science/speciation.md §6-7), with the graph builder of make_models.py.

Both are exact denoisers of 1/2 N(+m, I) + 1/2 N(-m, I), m = (1, ..., 1), d = 16, in OU time with
x0-prediction (assets/scenes/two-gaussians-d16.json is their exact reference; class 0 is +m, 1 is -m):

- onnx-two-gaussians-d16-class.onnx: inputs x [N, 16], t [N], y [N] int64. y = k in {0, 1} gives
  component k's posterior mean a x + Delta mu_k; y = 2 (the null class) the mixture's
  a x + Delta m tanh(a m.x). Classifier-free guidance of it is exact.
  (tests/data/onnx/two-gaussians-d16-class-float.onnx: the same with y float32.)
- onnx-two-gaussians-d16-hidden.onnx: inputs x, t; outputs out (the mixture's denoiser), posterior
  [N, 2] = (p(+ | x_t), p(- | x_t)) = (sigmoid(2 a m.x), sigmoid(-2 a m.x)) and signal [N, 4, 4] = a x
  reshaped; the intermediate value "projection" [N, 1] = m.x is not a graph output.

    /tmp/onnxenv/bin/python python/onnx_models/make_guided_hidden.py   # from the repository root

Requirements: onnx, numpy (pip). Deterministic (no randomness).
"""

import os
import sys

import numpy as np
from onnx import TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import D, ROOT, Graph, ou_from_t  # noqa: E402

NULL_CLASS = 2
PRODUCER = "diffscope python/onnx_models/make_guided_hidden.py"
DOC = "exact denoiser of 1/2 N(+m, I) + 1/2 N(-m, I), m = (1, ..., 1), d = 16, OU time, x0"


def class_conditional(path, float_labels):
    """out = a x + Delta c m, c = +1 (y = 0), -1 (y = 1) or tanh(a m.x) (y = 2, the null class)."""
    g = Graph()
    _, a, delta, _, _ = ou_from_t(g, "x", "t")
    labels = g.op("Cast", "y", to=TensorProto.INT64) if float_labels else "y"
    m = np.ones(D)
    projection = g.op("MatMul", "x", g.const(m.reshape(D, 1), "m_column"))  # [N, 1]
    h = g.op("Tanh", g.mul(a, projection))
    sign = g.column(g.op("Gather", g.const([1.0, -1.0, 0.0], "class_sign"), labels, axis=0))
    is_null = g.column(g.op("Gather", g.const([0.0, 0.0, 1.0], "class_null"), labels, axis=0))
    coefficient = g.add(sign, g.mul(is_null, h))  # [N, 1]
    g.add(g.mul(a, "x"), g.op("MatMul", g.mul(delta, coefficient), g.const(m.reshape(1, D), "m_row")), out="out")
    label_type = TensorProto.FLOAT if float_labels else TensorProto.INT64
    g.write_typed(
        path,
        f"{DOC}; class input y ({'float32' if float_labels else 'int64'}): 0 = +m, 1 = -m, "
        f"{NULL_CLASS} = none (the mixture)",
        [("x", TensorProto.FLOAT, ["N", D]), ("t", TensorProto.FLOAT, ["N"]), ("y", label_type, ["N"])],
        [("out", TensorProto.FLOAT, ["N", D])],
        PRODUCER,
    )


def with_hidden(path):
    g = Graph()
    _, a, delta, _, _ = ou_from_t(g, "x", "t")
    m = np.ones(D)
    g.op("MatMul", "x", g.const(m.reshape(D, 1), "m_column"), out="projection")  # [N, 1], m.x
    logit = g.mul(a, "projection")
    g.add(g.mul(a, "x"), g.op("MatMul", g.mul(delta, g.op("Tanh", logit)), g.const(m.reshape(1, D), "m_row")),
          out="out")
    two_logits = g.op("Concat", g.mul(g.const(2.0), logit), g.mul(g.const(-2.0), logit), axis=1)
    g.op("Sigmoid", two_logits, out="posterior")
    g.op("Reshape", g.mul(a, "x"), g.const_i64([-1, 4, 4]), out="signal")
    g.write_typed(
        path,
        f"{DOC}; extra outputs posterior [N, 2] = p(+/- | x_t) and signal [N, 4, 4] = a x",
        [("x", TensorProto.FLOAT, ["N", D]), ("t", TensorProto.FLOAT, ["N"])],
        [("out", TensorProto.FLOAT, ["N", D]), ("posterior", TensorProto.FLOAT, ["N", 2]),
         ("signal", TensorProto.FLOAT, ["N", 4, 4])],
        PRODUCER,
    )


def main():
    assets = os.path.join(ROOT, "assets", "models")
    tests = os.path.join(ROOT, "tests", "data", "onnx")
    class_conditional(os.path.join(assets, "onnx-two-gaussians-d16-class.onnx"), float_labels=False)
    class_conditional(os.path.join(tests, "two-gaussians-d16-class-float.onnx"), float_labels=True)
    with_hidden(os.path.join(assets, "onnx-two-gaussians-d16-hidden.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
