#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made by the project itself: shipped scenes and model files, and
# trajectories written by `diffscope sample` / models by `diffscope train` (plus the same arrays as
# CSV and as float64 / Fortran-order / format-2.0 .npy variants, so every reader branch has a seed), and
# sessions: each shipped scene inside a session written by the app's own writer (`render --save-session`),
# with views that use every value.
# Usage (from the repository root): fuzz/make_corpus.sh   → fuzz/corpus/<target>/
set -euo pipefail
cd "$(dirname "$0")/.."
# Release: the session seeds render each scene once (sampling and its other jobs).
cargo build --quiet --release --bin diffscope
bin=target/release/diffscope
out=fuzz/corpus
mkdir -p "$out"/{npy,safetensors,scene,csv,model_config,onnx,session}

cp assets/scenes/*.json assets/scenes/teaching/*.json "$out/scene/"
for scene in two-gaussians hierarchy-4class ising-0.3-vs-0.8 spiked-vs-isotropic; do
  for store in final every:25; do
    tag="$scene-${store/:/}"
    "$bin" sample "assets/scenes/$scene.json" --trajectories 3 --store "$store" --seed 1 \
      --out "$out/npy/$tag.npy" 2>/dev/null
    "$bin" sample "assets/scenes/$scene.json" --trajectories 3 --store "$store" --seed 1 \
      --out "$out/safetensors/$tag.safetensors" 2>/dev/null
  done
done

cp assets/models/*.safetensors "$out/model_config/"
# ONNX graphs: the committed test models (every time convention and prediction, the NaN graph, the
# exported MLP, the classifier).
cp assets/models/onnx-*.onnx tests/data/onnx/*.onnx "$out/onnx/"
"$bin" train dit --steps 1 --batch 2 --log-every 1 --out "$out/model_config/dit-1step.safetensors" >/dev/null 2>&1

# CSV and .npy variants of the sampled arrays (reader branches numpy files take but our writer does not).
python3 - "$out" <<'PY'
import struct, sys, pathlib
out = pathlib.Path(sys.argv[1])

def read_npy_f32(path):
    raw = path.read_bytes()
    n = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + n].decode()
    shape = tuple(int(s) for s in header.split("(")[1].split(")")[0].split(",") if s.strip())
    body = raw[10 + n:]
    return shape, list(struct.unpack(f"<{len(body) // 4}f", body))

def npy(shape, values, descr="<f8", fortran=False, version=1):
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({dims}), }}"
    prefix = 10 if version == 1 else 12
    text += " " * ((64 - (prefix + len(text) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H" if version == 1 else "<I", len(text))
    fmt = "d" if descr == "<f8" else "f"
    return b"\x93NUMPY" + bytes([version, 0]) + size + text.encode() + struct.pack(f"<{len(values)}{fmt}", *values)

shape, values = read_npy_f32(out / "npy" / "two-gaussians-final.npy")
n, d = shape[0], shape[2]
rows = [values[i * d:(i + 1) * d] for i in range(n)]
(out / "csv" / "plain.csv").write_text("\n".join(",".join(f"{v:.6g}" for v in r[:8]) for r in rows) + "\n")
(out / "csv" / "header-crlf.csv").write_text(
    "x,y,z\r\n" + "".join(",".join(f"{v:.6g}" for v in r[:3]) + "\r\n" for r in rows))
(out / "npy" / "f64-2d.npy").write_bytes(npy((n, d), values))
column_major = [rows[i][j] for j in range(d) for i in range(n)]
(out / "npy" / "fortran-2d.npy").write_bytes(npy((n, d), column_major, fortran=True))
(out / "npy" / "v2-f32-1d.npy").write_bytes(npy((d,), values[:d], descr="<f4", version=2))
PY
# Sessions: every shipped scene, with three views that together take every enum value and both kinds of
# camera. Drafted here, then opened and saved by the app's own writer (`render --save-session`), so the
# seeds are exactly what the app writes.
drafts=$(mktemp -d)
python3 - "$drafts" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
camera = {"follow": True, "center": [0.0, 0.0], "half_height": 1.0, "target": [0.0, 0.0, 0.0],
          "yaw": 0.6, "pitch": 0.35, "distance": 3.0}
manifold = {"dimensions": "2d", "basis": "per_step", "color_by": "class", "colormap": "viridis",
            "show_path": False, "trail_steps": 0, "radius_px": 2.5, "draw_mode": "auto", "show_holes": True,
            "camera": camera, "selected": None}
views = [
    {"right_tab": "speciation", "manifold": manifold,
     "timeline": {"step": None, "steps_per_second": 20.0}, "speciation_level": 0},
    {"right_tab": "inspector",
     "manifold": dict(manifold, dimensions="3d", basis="pooled", color_by={"posterior": 1}, colormap="magma",
                      show_path=True, trail_steps=12, radius_px=4.0, draw_mode="density", show_holes=False,
                      camera=dict(camera, follow=False, center=[0.5, -1.25], half_height=3.0,
                                  target=[1.0, 2.0, 3.0], yaw=-2.0, pitch=1.2, distance=7.5),
                      selected=17),
     "timeline": {"step": 30, "steps_per_second": 5.0}, "speciation_level": 1},
    {"right_tab": "metrics", "manifold": dict(manifold, color_by="time", draw_mode="points"),
     "timeline": {"step": 0, "steps_per_second": 60.0}, "speciation_level": 0},
]
for i, scene in enumerate(sorted(pathlib.Path("assets/scenes").glob("*.json"))):
    session = {"diffscope_session": 1, "scene": json.loads(scene.read_text()), "view": views[i % len(views)]}
    (out / scene.name).write_text(json.dumps(session, indent=2) + "\n")
PY
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
for draft in "$drafts"/*.json; do
  "$bin" render --session "$draft" --view manifold --save-session "$out/session/$(basename "$draft")" 2>/dev/null
done
rm -r "$drafts"
ls "$out"/* | head -50
