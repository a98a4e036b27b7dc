#!/usr/bin/env python3
"""The exporter's worked example and the source of its committed test files.

Trains a tiny diffusers `UNet2DModel` (GroupNorm, SiLU, attention, down/up-sampling) a few CPU minutes
on synthetic 16x16 one-channel images of two classes (class 0: horizontal bars, class 1: vertical
bars; background -1, bars +1), with `DDPMScheduler` (linear betas 1e-4 .. 0.02, 1000 steps,
epsilon prediction). Then:

  * records a 20-step DDIM run and a 20-step Euler run of 16 images each with `diffscope_diffusers`,
    labelled by the bars' orientation (row-mean variance vs column-mean variance of the final image),
    into tests/data/diffusers/bars16-{ddim,euler}.safetensors;
  * exports the UNet to tests/data/diffusers/unet-bars16.onnx (x [N, 1, 16, 16], t [N] -> out),
    and writes its scene block and torch's output on a fixed batch (tests/data/diffusers/check.json) so
    the Rust test can compare diffscope's ONNX run with torch.

    /tmp/torchenv/bin/python python/diffusers_export/example_bars16.py     # from the repository root

`UNET_CACHE=FILE` keeps the trained weights in FILE (torch state dict) and reuses them on the next
run, so the recordings and the export can be redone without training again.

Requirements: torch, diffusers, safetensors, onnx (pip). Seeded; CPU only.
"""

import json
import os
import sys
import time

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler, UNet2DModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffscope_diffusers as dd  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "diffusers")
SHAPE = (1, 16, 16)
TRAIN_STEPS = int(os.environ.get("TRAIN_STEPS", "1200"))
BATCH = 32


def bars(n, generator):
    """n images [n, 1, 16, 16] and their classes: 1-3 bars of width 2 at random positions."""
    images = -torch.ones((n, 1, 16, 16))
    classes = torch.randint(0, 2, (n,), generator=generator)
    for i in range(n):
        count = int(torch.randint(1, 4, (1,), generator=generator))
        for _ in range(count):
            at = int(torch.randint(0, 15, (1,), generator=generator))
            if classes[i] == 0:
                images[i, 0, at : at + 2, :] = 1.0
            else:
                images[i, 0, :, at : at + 2] = 1.0
    return images, classes


def orientation(images):
    """0 for horizontal bars (rows differ), 1 for vertical (columns differ)."""
    x = images.reshape(-1, 16, 16)
    rows = x.mean(axis=2).var(axis=1)
    cols = x.mean(axis=1).var(axis=1)
    return (cols > rows).astype(np.int64)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    unet = UNet2DModel(
        sample_size=16,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=8,
    )
    params = sum(p.numel() for p in unet.parameters())
    train = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    cache = os.environ.get("UNET_CACHE")
    if cache and os.path.exists(cache):
        state = torch.load(cache)
        unet.load_state_dict(state["weights"])
        summary = state["summary"]
    else:
        summary = fit(unet, train, params)
        if cache:
            torch.save({"weights": unet.state_dict(), "summary": summary}, cache)
    unet.eval()
    os.makedirs(OUT, exist_ok=True)
    record_and_export(unet, train, summary)


def fit(unet, train, params):
    """Trains `unet` for TRAIN_STEPS steps of epsilon-prediction MSE; returns the training summary."""
    optimiser = torch.optim.AdamW(unet.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    start, losses = time.time(), []
    for step in range(TRAIN_STEPS):
        x0, _ = bars(BATCH, generator)
        noise = torch.randn(x0.shape, generator=generator)
        steps = torch.randint(0, 1000, (BATCH,), generator=generator)
        noisy = train.add_noise(x0, noise, steps)
        loss = torch.nn.functional.mse_loss(unet(noisy, steps).sample, noise)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == TRAIN_STEPS - 1:
            print(f"step {step} loss {np.mean(losses[-100:]):.4f} {time.time() - start:.0f} s")
    return {"parameters": params, "train_steps": TRAIN_STEPS, "batch": BATCH,
            "final_loss": float(np.mean(losses[-100:])), "train_seconds": time.time() - start,
            "torch": torch.__version__, "diffusers": __import__("diffusers").__version__}


def record_and_export(unet, train, summary):
    """The committed test files: two recordings, the ONNX graph, its scene block and a check batch."""
    for name, scheduler in [
        ("ddim", DDIMScheduler.from_config(train.config)),
        ("euler", EulerDiscreteScheduler.from_config(train.config)),
    ]:
        trajectories, times, note, samples = dd.record(unet, scheduler, 16, 20, SHAPE, seed=1)
        labels = orientation(samples.numpy())
        path = os.path.join(OUT, f"bars16-{name}.safetensors")
        dd.save_recording(path, trajectories, times, SHAPE,
                          f"diffscope_diffusers.record, {type(scheduler).__name__}, 20 steps",
                          labels=labels, class_names=["horizontal", "vertical"], note=note)
        summary[name] = {"times": [float(t) for t in times], "labels": labels.tolist(),
                         "final_mean": float(trajectories[:, -1].mean()),
                         "final_std": float(trajectories[:, -1].std())}
        print(name, "classes", np.bincount(labels, minlength=2), "t", times[0], "..", times[-1])
    onnx_path = os.path.join(OUT, "unet-bars16.onnx")
    dd.export_onnx(unet, onnx_path, SHAPE)
    check_x = torch.randn((3, *SHAPE), generator=torch.Generator().manual_seed(5))
    check_t = torch.tensor([10.0, 250.5, 900.0])
    with torch.no_grad():
        check_out = unet(check_x, check_t).sample
    summary["scene_model"] = dd.scene_model("unet-bars16.onnx", SHAPE, train)
    summary["check"] = {"x": check_x.flatten().tolist(), "t": check_t.tolist(),
                        "out": check_out.flatten().tolist()}
    with open(os.path.join(OUT, "check.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("check",)}, indent=1)[:2000])


if __name__ == "__main__":
    main()
