"""Record diffusers sampling runs as diffscope trajectory files, and export diffusers denoisers to ONNX.

diffscope opens a trajectory file `[N, S, d]` with every step scrubbable (`diffscope FILE`, *Open…*,
`diffscope render FILE --view manifold --step K`). This module writes that file from any diffusers
scheduler loop, with the OU time diffscope uses (`docs/science/speciation.md` §1.1 and §6.1):

    x_t = a_t x_0 + sqrt(Delta_t) z,   a_t = e^{-t},   Delta_t = 1 - e^{-2t}

and converts each scheduler family's state and time to it:

  * VP schedulers (DDPM, DDIM, PNDM, DPM-Solver, UniPC, ... with `alphas_cumprod`): the latent is
    already x_t; t = -1/2 ln(alphabar) at the step's timestep (and at the final "previous" timestep).
  * Sigma schedulers (Euler, Heun, LMS, KDPM2, EDM ...: `init_noise_sigma` > 1): the latent is
    x_E = x_0 + sigma z; x_t = x_E / sqrt(1 + sigma^2), t = 1/2 ln(1 + sigma^2).
  * Flow-matching schedulers (`FlowMatch*`): the latent is x_s = (1 - s) x_0 + s z;
    x_t = x_s / sqrt((1 - s)^2 + s^2), t = 1/2 ln(1 + s^2 / (1 - s)^2).

A last state at exactly t = 0 (clean by the scheduler: DDIM's alphabar = 1, a final sigma = 0) is
stored at `FINAL_TIME_FLOOR` or half the previous step's time if that is smaller (diffscope's times
are positive and decreasing); the file's metadata says so.

The file (safetensors):
    trajectories  float32 [N, S, d]   every state, flattened latents (d = C*H*W), noise first
    times         float32 [S]         OU times, decreasing
    labels        int64   [N]         optional: the class of each trajectory
metadata: `times` (the times in full precision, JSON; diffscope prefers them to the float32 tensor),
`class_labels` (JSON list of class names, optional), `diffscope_source` (the recorder and scheduler),
`diffscope_shape` ("C,H,W"), `diffscope_time_note` when the floor was used.

Export: `export_onnx(unet, path, shape)` writes the UNet (or any module called as
`module(x, t).sample`) as an ONNX graph with inputs `x` [N, C, H, W] float32 and `t` [N] float32 (the
scheduler's timestep index) and output `out`, opset 17; `scene_model(...)` gives the matching diffscope
scene `model` block (DDPM time convention from the scheduler's betas, prediction type from its config).

Tested with torch 2.15.0 and diffusers 0.42.1 (PyPI, CPU) by `example_bars16.py`.
"""

import json
import math

import numpy as np
import torch
from safetensors.numpy import save_file

FINAL_TIME_FLOOR = 1e-4

# diffusers' beta_schedule names -> diffscope's `time.betas`.
BETA_SCHEDULES = {
    "linear": "linear",
    "scaled_linear": "scaled_linear",
    "squaredcos_cap_v2": "cosine",
}
# diffusers' prediction_type -> diffscope's `prediction`.
PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def scheduler_family(scheduler):
    """'flow', 'sigma' or 'vp': how the scheduler's latents relate to the OU state."""
    if type(scheduler).__name__.startswith("FlowMatch"):
        return "flow"
    if float(getattr(scheduler, "init_noise_sigma", 1.0)) != 1.0:
        return "sigma"
    if hasattr(scheduler, "alphas_cumprod"):
        return "vp"
    raise ValueError(f"unsupported scheduler {type(scheduler).__name__}: no alphas_cumprod or sigmas")


def ou_of_alphabar(alphabar):
    return -0.5 * math.log(alphabar)


def ou_of_sigma(sigma):
    """(t, factor): OU time of a VE level sigma and the factor x_t = factor * x_E."""
    return 0.5 * math.log1p(sigma * sigma), 1.0 / math.sqrt(1.0 + sigma * sigma)


def ou_of_flow(s):
    """(t, factor): OU time of a flow level s in [0, 1) and the factor x_t = factor * x_s."""
    norm = math.sqrt((1.0 - s) ** 2 + s * s)
    return 0.5 * math.log1p((s / (1.0 - s)) ** 2), 1.0 / norm


def _vp_final_alphabar(scheduler):
    """alphabar of the state left by the last step: DDIM's and PNDM's `final_alpha_cumprod`, DDPM's
    `one` (its last step returns the clean estimate), else step 0's."""
    for name in ("final_alpha_cumprod", "one"):
        final = getattr(scheduler, name, None)
        if final is not None:
            return float(final)
    return float(scheduler.alphas_cumprod[0])


@torch.no_grad()
def record(unet, scheduler, n, steps, shape, seed=0, class_of=None):
    """Runs `steps` steps of `scheduler` with `unet` on `n` latents of `shape` (C, H, W) from seeded
    noise and returns (trajectories [N, S, d] float32, times [S] float64, note or None, samples
    [N, C, H, W]); S = steps + 1 (the noise, then the state after every step)."""
    generator = torch.Generator().manual_seed(seed)
    scheduler.set_timesteps(steps)
    family = scheduler_family(scheduler)
    latents = torch.randn((n, *shape), generator=generator) * scheduler.init_noise_sigma
    states, times = [], []

    def keep(latent, index):
        """The OU state and time of `latent` after `index` steps (0: the initial noise)."""
        last = index == len(scheduler.timesteps)
        sigmas = getattr(scheduler, "sigmas", None)
        if family == "vp" and sigmas is not None and len(sigmas) == len(scheduler.timesteps) + 1:
            # DPM-Solver, UniPC: VP latents, levels kept as sigma = sqrt((1 - alphabar) / alphabar).
            t, factor = ou_of_sigma(float(sigmas[index]))[0], 1.0
        elif family == "vp":
            alphabar = (
                _vp_final_alphabar(scheduler)
                if last
                else float(scheduler.alphas_cumprod[int(scheduler.timesteps[index])])
            )
            t, factor = ou_of_alphabar(alphabar), 1.0
        elif family == "sigma":
            t, factor = ou_of_sigma(float(scheduler.sigmas[index]))
        else:
            t, factor = ou_of_flow(float(scheduler.sigmas[index]))
        states.append((latent * factor).reshape(n, -1).numpy().astype(np.float32))
        times.append(t)

    keep(latents, 0)
    for i, timestep in enumerate(scheduler.timesteps):
        model_input = scheduler.scale_model_input(latents, timestep)
        t_in = timestep.expand(n).to(torch.float32)
        prediction = unet(model_input, t_in).sample
        latents = scheduler.step(prediction, timestep, latents, generator=generator).prev_sample
        keep(latents, i + 1)
    note = None
    if times[-1] <= 0.0:
        floor = min(FINAL_TIME_FLOOR, times[-2] / 2)
        note = f"the last state is at t = 0 (clean data by the scheduler), stored at t = {floor:.3g}"
        times[-1] = floor
    trajectories = np.stack(states, axis=1)
    return trajectories, np.array(times, dtype=np.float64), note, latents


def save_recording(path, trajectories, times, shape, source, labels=None, class_names=None, note=None):
    """Writes the diffscope trajectory file (layout in the module docstring)."""
    if np.any(np.diff(times) >= 0):
        raise ValueError(f"times must decrease step to step: {times}")
    tensors = {
        "trajectories": np.ascontiguousarray(trajectories, dtype=np.float32),
        "times": times.astype(np.float32),
    }
    if labels is not None:
        tensors["labels"] = np.asarray(labels, dtype=np.int64)
    metadata = {
        "diffscope_source": source,
        "diffscope_shape": ",".join(str(s) for s in shape),
        "times": json.dumps([float(t) for t in times]),
    }
    if class_names:
        metadata["class_labels"] = json.dumps(list(class_names))
    if note:
        metadata["diffscope_time_note"] = note
    save_file(tensors, path, metadata=metadata)


class _Denoiser(torch.nn.Module):
    """`module(x, t).sample` as a graph with plain tensor inputs and output."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, x, t):
        return self.unet(x, t).sample


def export_onnx(unet, path, shape, opset=17):
    """Exports `unet` as x [N, C, H, W], t [N] (float32 timestep index) -> out [N, C, H, W]."""
    wrapper = _Denoiser(unet).eval()
    x = torch.zeros((2, *shape))
    t = torch.full((2,), 10.0)
    torch.onnx.export(
        wrapper,
        (x, t),
        path,
        input_names=["x", "t"],
        output_names=["out"],
        dynamic_axes={"x": {0: "n"}, "t": {0: "n"}, "out": {0: "n"}},
        opset_version=opset,
        dynamo=False,
    )


def scene_model(onnx_path, shape, scheduler):
    """The diffscope scene `model` block that runs the exported graph with `scheduler`'s training
    convention (a DDPM table: `train_steps`, `betas`, `beta_start`, `beta_end`)."""
    config = scheduler.config
    betas = BETA_SCHEDULES.get(config.beta_schedule)
    if betas is None:
        raise ValueError(f"beta_schedule {config.beta_schedule!r} has no diffscope equivalent")
    time = {"kind": "ddpm", "betas": betas, "train_steps": int(config.num_train_timesteps)}
    if betas != "cosine":
        time["beta_start"] = float(config.beta_start)
        time["beta_end"] = float(config.beta_end)
    return {
        "kind": "onnx",
        "path": onnx_path,
        "shape": list(shape),
        "inputs": {"x": "x", "t": "t"},
        "output": "out",
        "prediction": PREDICTIONS[config.prediction_type],
        "time": time,
    }
