#!/usr/bin/env python3
"""Exports diffscope's shipped MLP denoiser (assets/models/denoiser-two-gaussians.safetensors) to ONNX.

The network is the one `src/model/learned/mlp_denoiser.rs` builds in candle, written op by op with
onnx.helper and the weights read from the safetensors file (no torch):

    phi(s)  = [sin(w_1 s) .. sin(w_F s), cos(w_1 s) .. cos(w_F s)],  s = ln t,
              w_k geometric from 0.25 to 8 (the same f64 products as `params::sinusoidal`)
    F(x, t) = fc3(silu(fc2(silu(fc1([x; phi(ln t)])))))        (Linear: y = x W^T + b)
    D(x, t) = a_t x + sqrt(Delta_t) F(x, t),  a_t = e^{-t}, Delta_t = 1 - e^{-2t}

so the graph takes x [N, d] and OU time t [N] (float32, N symbolic) and returns D = E[x_0 | x_t] as
`out`: scene keys `"prediction": "x0"`, `"time": {"kind": "ou"}`.

    /tmp/h1env/bin/python python/onnx_models/export_mlp.py   # from the repository root

Requirements: onnx, numpy, safetensors (pip). Deterministic: the same weights give the same bytes.
"""

import json
import os
import sys

import numpy as np
from safetensors import safe_open

from make_models import ROOT, Graph

SOURCE = os.path.join(ROOT, "assets", "models", "denoiser-two-gaussians.safetensors")
TARGET = os.path.join(ROOT, "assets", "models", "onnx-mlp-two-gaussians.onnx")
# The frequency range of `mlp_denoiser.rs` (MIN_FREQUENCY, MAX_FREQUENCY).
MIN_FREQUENCY = 0.25
MAX_FREQUENCY = 8.0


def frequencies(count):
    """w_k as `params::sinusoidal` forms them: w_0 = min, w_{k+1} = w_k * ratio, in f64."""
    ratio = (MAX_FREQUENCY / MIN_FREQUENCY) ** (1.0 / (count - 1)) if count > 1 else 1.0
    out, omega = [], MIN_FREQUENCY
    for _ in range(count):
        out.append(omega)
        omega *= ratio
    return np.array(out)


def silu(g, h):
    return g.mul(h, g.op("Sigmoid", h))


def linear(g, x, weights, name):
    """Gemm with the [out, in] weight as stored (transB = 1), as candle's Linear computes x W^T + b."""
    w = g.const(weights[f"{name}.weight"], f"{name}_weight")
    b = g.const(weights[f"{name}.bias"], f"{name}_bias")
    return g.op("Gemm", x, w, b, transB=1, hint=name)


def main():
    with safe_open(SOURCE, "np") as f:
        config = json.loads(f.metadata()["diffscope_model"])["model"]
        weights = {k: f.get_tensor(k) for k in f.keys()}
    if config["kind"] != "mlp_denoiser":
        raise SystemExit(f"{SOURCE} holds a {config['kind']}, not an mlp_denoiser")
    dim, count = config["dim"], config["time_frequencies"]

    g = Graph()
    log_t = g.column(g.op("Log", "t"))  # [N, 1]
    phase = g.mul(log_t, g.const(frequencies(count).reshape(1, count), "omega"))  # [N, F]
    features = g.op("Concat", "x", g.op("Sin", phase), g.op("Cos", phase), axis=1)
    h = silu(g, linear(g, features, weights, "fc1"))
    h = silu(g, linear(g, h, weights, "fc2"))
    residual = linear(g, h, weights, "fc3")
    a = g.column(g.op("Exp", g.op("Neg", "t")))
    root_delta = g.op("Sqrt", g.sub(g.const(1.0), g.mul(a, a)))
    g.add(g.mul(a, "x"), g.mul(root_delta, residual), out="out")
    g.save(
        TARGET,
        f"diffscope's MLP denoiser {os.path.basename(SOURCE)} (d = {dim}, hidden {config['hidden']}, "
        f"{count} time frequencies) as D(x, t) = E[x_0 | x_t] in OU time",
        dim=dim,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
