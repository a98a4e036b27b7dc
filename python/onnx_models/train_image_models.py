#!/usr/bin/env python3
"""Trains diffscope's two tiny image denoisers (issue #15, "Image models") and exports them to ONNX.

Data: synthetic 16x16 one-channel images of two classes, half each. Background -1, bars +1. A
"horizontal" image has 1 to 3 bars, each two rows high, at distinct positions among the 8 two-row
stripes; a "vertical" image is the same with columns. So an image is a bar image of one class
exactly when its row means vary and its column means do not (the rule `tests/onnx_image_models.rs`
classifies samples by, and the classifier graph below computes).

Models (epsilon prediction, both exported with x [N, 1, 16, 16] and t [N] float32, N symbolic, output
`out` [N, 1, 16, 16]):
  (a) unet: a tiny UNet: 32 channels at 16x16, 48 at 8x8 and 4x4; residual blocks of GroupNorm(8),
      SiLU, 3x3 conv with the time embedding added; strided-conv down-sampling, nearest up-sampling
      (ONNX Resize) with skip concatenation; one self-attention block (4 heads) at 4x4.
  (b) dit: a tiny DiT: 2x2 patches (64 tokens of width 64), learned position embedding, 4 blocks of
      LayerNorm + multi-head self-attention (4 heads) + GELU MLP, each modulated by adaLN-Zero
      (shift, scale, gate from the time embedding), final adaLN layer and unpatchify.
Both embed time with sinusoidal features of the timestep followed by a two-layer SiLU MLP.

Time convention: DDPM, linear betas 1e-4 ... 0.02 over 1000 steps, input = the (float) timestep
index. It is the convention of the original DDPM UNet and of `diffusers`' default scheduler, so the
shipped graphs look like what a user brings; diffscope's `"time": {"kind": "ddpm", ...}` feeds the
fractional index tau with alpha_bar(tau) = e^{-2t} (interpolated in ln alpha_bar), and the
sinusoidal embedding is smooth in tau, so fractional indices between the trained integers are safe.
Training draws integer indices uniformly from 0..999 (the DDPM objective, unweighted MSE on eps).

Training: AdamW (lr 1e-3 with 100 warm-up steps, cosine to 1e-4, weight decay 0), batch 64 fresh
images every step, one torch thread, seed 0 (data, times, noise and weights all come from that
seed's generators), a fixed number of steps per model (`STEPS`).

Also written (onnx.helper, no training): `onnx-bars16-classifier.onnx`, the labeller of the image
scenes: x [N, 256] -> logits [N, 2] = GAIN * (v_rows - v_cols, v_cols - v_rows), where v_rows and
v_cols are the variances of the 16 row means and of the 16 column means (class 0 = horizontal).

Check files: `check-unet-bars16.json` and `check-dit-bars16.json` beside this script hold a fixed input
batch (4 images from a seeded normal generator) at two timesteps and torch's outputs for them;
`tests/onnx_image_models.rs` runs the same inputs through diffscope's loader and compares (<= 1e-4).

    /tmp/torchenv/bin/python python/onnx_models/train_image_models.py [unet] [dit]   # from the repo root

(default: both, one after the other; the shipped files were made by two runs in parallel, one per
model: every model has its own generators, so the result is the same.)

Requirements: torch (CPU), onnx, onnxscript, numpy (pip). Prints loss, CPU time, parameter count and
file size per model (recorded in assets/models/PROVENANCE.md).
"""

import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_models import ROOT, Graph

SIDE = 16
STRIPES = SIDE // 2
TRAIN_STEPS = 1000
BETA_START, BETA_END = 1e-4, 0.02
BATCH = 64
SEED = 0
OPSET = 17
STEPS = {"unet": 1200, "dit": 1500}
MODELS = os.path.join(ROOT, "assets", "models")
HERE = os.path.dirname(os.path.abspath(__file__))
CHECK_TIMESTEPS = [50.0, 700.0]
CLASSIFIER_GAIN = 20.0


def bars(count, generator):
    """`count` images [count, 1, 16, 16]: the first half horizontal bars, the second half vertical."""
    images = -torch.ones(count, SIDE, SIDE)
    bar_counts = torch.randint(1, 4, (count,), generator=generator)
    for i in range(count):
        stripes = torch.randperm(STRIPES, generator=generator)[: bar_counts[i]]
        for s in stripes.tolist():
            images[i, 2 * s : 2 * s + 2, :] = 1.0
    images[count // 2 :] = images[count // 2 :].transpose(1, 2).clone()
    return images.unsqueeze(1)


def alpha_bars():
    betas = torch.linspace(BETA_START, BETA_END, TRAIN_STEPS, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, 0).float()


class TimeEmbedding(nn.Module):
    """Sinusoidal features of the timestep (64 frequencies 1 ... 1/10000), then Linear-SiLU-Linear."""

    def __init__(self, width, features=64):
        super().__init__()
        half = features // 2
        self.register_buffer(
            "frequencies", torch.exp(-math.log(10000.0) * torch.arange(half) / half)
        )
        self.mlp = nn.Sequential(nn.Linear(features, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t):
        angles = t[:, None] * self.frequencies[None, :]
        return self.mlp(torch.cat([torch.sin(angles), torch.cos(angles)], dim=1))


def attention(q, k, v, heads):
    """Multi-head attention of [N, L, C] queries, keys, values (explicit MatMul/Softmax)."""
    n, length, channels = q.shape
    split = lambda a: a.reshape(n, length, heads, channels // heads).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(channels // heads), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(n, length, channels)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SelfAttention2d(nn.Module):
    def __init__(self, channels, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.norm(x).reshape(n, c, h * w).transpose(1, 2)
        q, k, v = self.qkv(tokens).chunk(3, dim=-1)
        out = self.proj(attention(q, k, v, self.heads))
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class TinyUNet(nn.Module):
    def __init__(self, c1=32, c2=48, temb=128):
        super().__init__()
        self.embed = TimeEmbedding(temb)
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, temb)  # 16x16
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = ResBlock(c2, c2, temb)  # 8x8
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c2, c2, temb)  # 4x4
        self.attn = SelfAttention2d(c2)
        self.mid2 = ResBlock(c2, c2, temb)
        self.up2 = ResBlock(2 * c2, c2, temb)  # 8x8
        self.up1 = ResBlock(c2 + c1, c1, temb)  # 16x16
        self.norm_out = nn.GroupNorm(8, c1)
        self.conv_out = nn.Conv2d(c1, 1, 3, padding=1)

    def forward(self, x, t):
        emb = self.embed(t)
        h1 = self.down1(self.conv_in(x), emb)
        h2 = self.down2(self.pool1(h1), emb)
        h = self.mid2(self.attn(self.mid1(self.pool2(h2), emb)), emb)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h2], 1), emb)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class DiTBlock(nn.Module):
    def __init__(self, width, heads, mlp_ratio=2):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width),
            nn.GELU(approximate="tanh"),
            nn.Linear(mlp_ratio * width, width),
        )
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, emb):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(emb)).chunk(6, dim=1)
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).chunk(3, dim=-1)
        x = x + gate1[:, None, :] * self.proj(attention(q, k, v, self.heads))
        return x + gate2[:, None, :] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class TinyDiT(nn.Module):
    def __init__(self, patch=2, width=64, depth=4, heads=4):
        super().__init__()
        self.patch = patch
        self.tokens = (SIDE // patch) ** 2
        self.embed = TimeEmbedding(width)
        self.patchify = nn.Linear(patch * patch, width)
        self.position = nn.Parameter(0.02 * torch.randn(1, self.tokens, width))
        self.blocks = nn.ModuleList(DiTBlock(width, heads) for _ in range(depth))
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(width, 2 * width)
        self.head = nn.Linear(width, patch * patch)
        for layer in (self.ada_out, self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, t):
        n, p, g = x.shape[0], self.patch, SIDE // self.patch
        # [N, 1, 16, 16] -> [N, g*g, p*p]: patch (i, j) holds rows i*p.., columns j*p..
        patches = x.reshape(n, g, p, g, p).permute(0, 1, 3, 2, 4).reshape(n, g * g, p * p)
        emb = self.embed(t)
        h = self.patchify(patches) + self.position
        for block in self.blocks:
            h = block(h, emb)
        shift, scale = self.ada_out(F.silu(emb)).chunk(2, dim=1)
        out = self.head(modulate(self.norm_out(h), shift, scale))
        return out.reshape(n, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(n, 1, SIDE, SIDE)


def train(name, model, steps):
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    alpha_bar = alpha_bars()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    warmup = 100
    schedule = lambda s: (s + 1) / warmup if s < warmup else 0.1 + 0.45 * (
        1 + math.cos(math.pi * (s - warmup) / (steps - warmup))
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    losses = []
    cpu_start = time.process_time()
    for step in range(steps):
        x0 = bars(BATCH, generator)
        t = torch.randint(0, TRAIN_STEPS, (BATCH,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        a = alpha_bar[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = F.mse_loss(model(xt, t.float()), noise)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
        losses.append(loss.item())
        if (step + 1) % 250 == 0:
            print(f"{name} step {step + 1}: loss {np.mean(losses[-250:]):.4f}", flush=True)
    cpu = time.process_time() - cpu_start
    return {"cpu_seconds": round(cpu, 1), "final_loss": round(float(np.mean(losses[-100:])), 4)}


def export(name, model, path):
    model.eval()
    x = torch.zeros(2, 1, SIDE, SIDE)
    t = torch.zeros(2)
    torch.onnx.export(
        model,
        (x, t),
        path,
        input_names=["x", "t"],
        output_names=["out"],
        dynamic_axes={"x": {0: "N"}, "t": {0: "N"}, "out": {0: "N"}},
        opset_version=OPSET,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(path))
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(4, 1, SIDE, SIDE, generator=generator)
    cases = []
    with torch.no_grad():
        for step in CHECK_TIMESTEPS:
            out = model(inputs, torch.full((4,), step))
            cases.append({"t": step, "out": out.flatten().tolist()})
    return {"x": inputs.flatten().tolist(), "cases": cases}


def bars_classifier(path):
    """x [N, 256] -> logits [N, 2] from the variances of the row and column means."""
    g = Graph()
    images = g.op("Reshape", "x", g.const_i64([-1, SIDE, SIDE]))

    def mean_variance(axis):
        means = g.op("ReduceMean", images, axes=[axis], keepdims=0)  # [N, 16]
        centred = g.sub(means, g.op("ReduceMean", means, axes=[1], keepdims=1))
        return g.op("ReduceMean", g.mul(centred, centred), axes=[1], keepdims=1)  # [N, 1]

    v_rows = mean_variance(2)  # mean over columns: one value per row
    v_cols = mean_variance(1)
    gap = g.mul(g.sub(v_rows, v_cols), g.const(CLASSIFIER_GAIN))
    g.op("Concat", gap, g.op("Neg", gap), axis=1, out="logits")
    g.write(
        path,
        "bars classifier: logits = GAIN (v_rows - v_cols, v_cols - v_rows), class 0 horizontal",
        [("x", ["N", SIDE * SIDE])],
        [("logits", ["N", 2])],
    )


def main():
    torch.set_num_threads(1)
    only = sys.argv[1:] or ["unet", "dit"]
    builders = {"unet": TinyUNet, "dit": TinyDiT}
    for name in only:
        torch.manual_seed(SEED)
        model = builders[name]()
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params} parameters", flush=True)
        stats = train(name, model, STEPS[name])
        path = os.path.join(MODELS, f"onnx-{name}-bars16.onnx")
        with open(os.path.join(HERE, f"check-{name}-bars16.json"), "w") as f:
            json.dump(export(name, model, path), f)
        stats.update(params=params, bytes=os.path.getsize(path), steps=STEPS[name])
        print(f"{name}: {json.dumps(stats)} -> {path}", flush=True)
    bars_classifier(os.path.join(MODELS, "onnx-bars16-classifier.onnx"))
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
