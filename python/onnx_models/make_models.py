#!/usr/bin/env python3
"""Builds the ONNX test models of diffscope's `onnx` scene kind (docs/science/speciation.md §6).

Every graph is a closed form written with onnx.helper (no training, no torch): the exact denoiser of
a known law, exported in one of the time conventions and prediction types diffscope converts. Each
graph converts its own time input back to OU time t and its state back to the OU state x_t, computes
the exact posterior mean D(x, t) = E[x_0 | x_t] there, and returns the prediction its `prediction` key
names, in the model's own parameterisation x_model = alpha x_0 + sigma z.

    /tmp/onnxenv/bin/python python/onnx_models/make_models.py   # from the repository root

Requirements: onnx, numpy (pip). Output: assets/models/onnx-*.onnx and tests/data/onnx/*.onnx;
the script prints what it wrote. Runs are deterministic (no randomness at all).
"""

import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
D = 16  # state dimension of every test model


class Graph:
    """A tiny graph builder: every method adds one node and returns its output name."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.count = 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint="c"):
        name = self.name(hint)
        array = np.asarray(value, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def const_i64(self, value, hint="i"):
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), name))
        return name

    def op(self, op_type, *inputs, hint=None, out=None, **attrs):
        out = out or self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    # Arithmetic shorthands.
    def add(self, a, b, **k):
        return self.op("Add", a, b, **k)

    def sub(self, a, b, **k):
        return self.op("Sub", a, b, **k)

    def mul(self, a, b, **k):
        return self.op("Mul", a, b, **k)

    def div(self, a, b, **k):
        return self.op("Div", a, b, **k)

    def column(self, v):
        """[N] -> [N, 1]."""
        return self.op("Unsqueeze", v, self.const_i64([1]))

    def save(self, path, doc, x_name="x", t_name="t", out_name="out", dim=D):
        """A denoiser: x [N, dim], t [N] -> out [N, dim]."""
        self.write(path, doc, [(x_name, ["N", dim]), (t_name, ["N"])], [(out_name, ["N", dim])])

    def write(self, path, doc, inputs, outputs):
        """Any graph: inputs and outputs as (name, shape) pairs of float32 values."""
        typed = lambda values: [(n, TensorProto.FLOAT, shape) for n, shape in values]  # noqa: E731
        self.write_typed(path, doc, typed(inputs), typed(outputs))

    def write_typed(self, path, doc, inputs, outputs, producer=None):
        """Any graph: inputs and outputs as (name, element type, shape) triples."""
        inputs = [helper.make_tensor_value_info(n, kind, shape) for n, kind, shape in inputs]
        outputs = [helper.make_tensor_value_info(n, kind, shape) for n, kind, shape in outputs]
        graph = helper.make_graph(self.nodes, "diffscope_test_model", inputs, outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=producer or "diffscope python/onnx_models/make_models.py",
            doc_string=doc,
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Fixed bytes for fixed inputs: no timestamps in ONNX files.
        with open(path, "wb") as f:
            f.write(model.SerializeToString(deterministic=True))
        print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


# ---- Time conventions: the model's time input -> OU (a_t, Delta_t), the OU state, and the model's
# own (alpha, sigma) with x_model = alpha x_0 + sigma z. Each returns (x_ou, a, delta, alpha, sigma),
# the last four as [N, 1] columns.


def ddpm_betas(schedule, beta_start, beta_end, steps):
    i = np.arange(steps, dtype=np.float64)
    if schedule == "linear":
        return beta_start + (beta_end - beta_start) * i / (steps - 1)
    if schedule == "scaled_linear":
        root = math.sqrt(beta_start) + (math.sqrt(beta_end) - math.sqrt(beta_start)) * i / (steps - 1)
        return root**2

    def alpha_bar(u):
        return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    assert schedule == "cosine"
    return np.array([min(1 - alpha_bar((k + 1) / steps) / alpha_bar(k / steps), 0.999) for k in range(steps)])


def ddpm_ou_times(betas):
    """t_n = -1/2 ln alphabar_n, n = 0 .. N-1 (alphabar_n = prod_{i <= n} (1 - beta_i))."""
    return np.cumsum(-0.5 * np.log1p(-betas))


def ou_from_t(g, x, t):
    a = g.column(g.op("Exp", g.op("Neg", t)))
    delta = g.sub(g.const(1.0), g.mul(a, a))
    return x, a, delta, a, g.op("Sqrt", delta)


def convention_ou(g, x, tau):
    return ou_from_t(g, x, tau)


def convention_vp(beta_min, beta_max):
    def build(g, x, s):
        # t = 1/2 int_0^s beta = 1/2 (beta_min s + 1/2 (beta_max - beta_min) s^2)
        half_integral = g.mul(g.const(0.5), g.add(g.mul(g.const(beta_min), s),
                                                  g.mul(g.const(0.5 * (beta_max - beta_min)), g.mul(s, s))))
        return ou_from_t(g, x, half_integral)

    return build


def convention_ddpm(schedule, beta_start, beta_end, steps):
    table = ddpm_ou_times(ddpm_betas(schedule, beta_start, beta_end, steps))

    def build(g, x, tau):
        # t = T[i] + (tau - i)(T[i+1] - T[i]), i = clip(floor(tau), 0, N-2): piecewise-linear in ln alphabar,
        # extrapolated linearly past both ends.
        T = g.const(table, "ou_times")
        i_float = g.op("Clip", g.op("Floor", tau), g.const(0.0), g.const(float(steps - 2)))
        i = g.op("Cast", i_float, to=TensorProto.INT64)
        i_next = g.add(i, g.const_i64(1))
        t_i = g.op("Gather", T, i, axis=0)
        t_next = g.op("Gather", T, i_next, axis=0)
        t = g.add(t_i, g.mul(g.sub(tau, i_float), g.sub(t_next, t_i)))
        return ou_from_t(g, x, t)

    return build


def convention_edm(g, x_ve, sigma):
    sigma = g.column(sigma)
    sigma2 = g.mul(sigma, sigma)
    a = g.div(g.const(1.0), g.op("Sqrt", g.add(g.const(1.0), sigma2)))
    delta = g.mul(sigma2, g.mul(a, a))
    return g.mul(x_ve, a), a, delta, g.const(1.0), sigma


def convention_rectified_flow(scale):
    def build(g, x_rf, tau):
        s = g.column(g.div(tau, g.const(scale)))
        one_minus = g.sub(g.const(1.0), s)
        r = g.op("Sqrt", g.add(g.mul(one_minus, one_minus), g.mul(s, s)))
        a = g.div(one_minus, r)
        root_delta = g.div(s, r)
        return g.div(x_rf, r), a, g.mul(root_delta, root_delta), one_minus, s

    return build


# ---- Exact denoisers in OU time.


def two_gaussians_core(m):
    """1/2 N(+m, I) + 1/2 N(-m, I): D = a x + Delta m tanh(a m.x) (docs/science/speciation.md §1.3)."""

    def build(g, x, a, delta):
        projection = g.op("MatMul", x, g.const(m.reshape(D, 1), "m_column"))  # [N, 1]
        h = g.op("Tanh", g.mul(a, projection))
        return g.add(g.mul(a, x), g.op("MatMul", g.mul(delta, h), g.const(m.reshape(1, D), "m_row")))

    return build


def gaussian_core(variance):
    """N(0, s2 I): D = a s2 x / (a^2 s2 + Delta)."""

    def build(g, x, a, delta):
        gain = g.div(g.mul(a, g.const(variance)), g.add(g.mul(g.mul(a, a), g.const(variance)), delta))
        return g.mul(gain, x)

    return build


# ---- Predictions from D, in the model's parameterisation x_model = alpha x_0 + sigma z.


def predict(g, kind, x_model, D, alpha, sigma, out):
    if kind == "x0":
        return g.op("Identity", D, out=out)
    eps = g.div(g.sub(x_model, g.mul(alpha, D)), sigma)
    if kind == "eps":
        return g.op("Identity", eps, out=out)
    if kind == "v":  # v = alpha eps - sigma x_0
        return g.sub(g.mul(alpha, eps), g.mul(sigma, D), out=out)
    if kind == "velocity":  # z - x_0
        return g.sub(eps, D, out=out)
    if kind == "score":  # grad ln p(x_model) = -eps / sigma
        return g.op("Neg", g.div(eps, sigma), out=out)
    raise ValueError(kind)


def build_model(path, core, convention, prediction, doc, names=("x", "t", "out")):
    g = Graph()
    x_name, t_name, out_name = names
    x_ou, a, delta, alpha, sigma = convention(g, x_name, t_name)
    D_exact = core(g, x_ou, a, delta)
    predict(g, prediction, x_name, D_exact, alpha, sigma, out_name)
    g.save(path, doc, x_name, t_name, out_name)


def nan_model(path):
    g = Graph()
    g.mul("x", g.const(float("nan")), out="out")
    # t is an input the graph does not use: Identity keeps it in the graph.
    g.op("Identity", "t", out="t_unused")
    g.save(path, "returns NaN for every input (diffscope's NaN error test)")


# The linear classifier of tests/onnx_labellers.rs: logits = x W + b, W [D, 3] and b as below.
CLASSIFIER_W = np.zeros((D, 3))
CLASSIFIER_W[0, 0], CLASSIFIER_W[0, 1], CLASSIFIER_W[1, 2] = 1.0, -1.0, 2.0
CLASSIFIER_B = np.array([0.0, 0.5, -1.0])


def linear_classifier(path):
    g = Graph()
    g.add(g.op("MatMul", "x", g.const(CLASSIFIER_W, "w")), g.const(CLASSIFIER_B, "b"), out="logits")
    g.write(
        path,
        "linear 3-class classifier: logits = (x_0, 0.5 - x_0, 2 x_1 - 1), d = 16",
        [("x", ["N", D])],
        [("logits", ["N", 3])],
    )


def main():
    m = np.ones(D)
    mixture = two_gaussians_core(m)
    assets = os.path.join(ROOT, "assets", "models")
    tests = os.path.join(ROOT, "tests", "data", "onnx")
    mixture_doc = "exact denoiser of 1/2 N(+m, I) + 1/2 N(-m, I), m = (1, ..., 1), d = 16"

    # (a) The exact two-Gaussian denoiser in OU time.
    build_model(os.path.join(assets, "onnx-two-gaussians-d16.onnx"), mixture, convention_ou, "x0", mixture_doc)
    # (b) eps-prediction of N(0, 2 I) under the linear DDPM schedule (1e-4 .. 0.02, 1000 steps).
    build_model(
        os.path.join(assets, "onnx-gaussian-var2-d16-ddpm-eps.onnx"),
        gaussian_core(2.0),
        convention_ddpm("linear", 1e-4, 0.02, 1000),
        "eps",
        "exact eps-prediction of N(0, 2 I), d = 16, linear DDPM schedule 1e-4 .. 0.02 over 1000 steps",
    )
    # (c) The same mixture in every time convention, and every prediction type.
    variants = [
        ("vp-x0", convention_vp(0.1, 20.0), "x0"),
        ("edm-x0", convention_edm, "x0"),
        ("rf1000-x0", convention_rectified_flow(1000.0), "x0"),
        ("ddpm-linear-x0", convention_ddpm("linear", 1e-4, 0.02, 1000), "x0"),
        ("ou-score", convention_ou, "score"),
        ("vp-v", convention_vp(0.1, 20.0), "v"),
        ("edm-eps", convention_edm, "eps"),
        ("rf1-velocity", convention_rectified_flow(1.0), "velocity"),
        ("ddpm-cosine-eps", convention_ddpm("cosine", None, None, 1000), "eps"),
        ("ddpm-scaled-linear-v", convention_ddpm("scaled_linear", 0.00085, 0.012, 1000), "v"),
    ]
    for name, convention, prediction in variants:
        build_model(
            os.path.join(tests, f"two-gaussians-d16-{name}.onnx"),
            mixture,
            convention,
            prediction,
            f"{mixture_doc}; time convention and prediction: {name}",
        )
    nan_model(os.path.join(tests, "nan-d16.onnx"))
    linear_classifier(os.path.join(tests, "linear-classifier-d16-k3.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
