#!/usr/bin/env bash
# Regenerates every figure under docs/ with the app's own renderer: the views of the default scene
# (`diffscope render`), the real window under Xvfb (`--screenshot`), the 3-D trails and density views
# (the app snapshots of tests/snapshots/, made by `UPDATE_SNAPSHOTS=1 cargo test --test app_snapshots`),
# and each teaching scene's manifold view plus the panel its `view` block opens.
# Usage (from the repository root, after `cargo build --release`): bash docs/render-docs.sh [path/to/diffscope]
set -euo pipefail
bin=${1:-target/release/diffscope}
scene=assets/scenes/two-gaussians.json
for view in manifold speciation; do
  "$bin" render "$scene" --view "$view" --png "docs/view-$view.png"
done
# The metric table with the DiT and Euler-Stack columns measured, tall enough for every reference cloud.
"$bin" render "$scene" --view metrics --measure-models --height 1000 --png docs/view-metrics.png
"$bin" render "$scene" --view inspector --select 17 --png docs/view-inspector.png
# An image model's inspector: trajectory 7's x_t and x̂_0 strip (2.5 min: 200 UNet trajectories and the lab).
"$bin" render assets/scenes/onnx-unet-bars16.json --view inspector --select 7 --png docs/view-inspector-image-strip.png
cp tests/snapshots/app_manifold_3d_trails.png docs/view-manifold-3d-trails.png
cp tests/snapshots/app_manifold_density.png docs/view-manifold-density.png
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
# A fresh HOME so no autosaved session is restored into the screenshot.
HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 1280x800x24" "$bin" --screenshot docs/app-window.png
echo "views and window"
for scene in assets/scenes/teaching/*.json; do
  name=$(basename "$scene" .json)
  tab=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('view', {}).get('tab', 'speciation'))" "$scene")
  "$bin" render "$scene" --view manifold --png "docs/teaching-$name-manifold.png" --width 900 --height 600
  if [ "$tab" = metrics ]; then
    "$bin" render "$scene" --view metrics --measure-models --png "docs/teaching-$name-metrics.png" --width 1280 --height 1000
  else
    "$bin" render "$scene" --view "$tab" --png "docs/teaching-$name-$tab.png" --width 900 --height 700
  fi
  echo "$name: manifold, $tab"
done
# Present mode (what a projector shows): every teaching scene with the panel its view block opens, in
# both themes, at 1280×720 and 1920×1080.
mkdir -p docs/present
for scene in assets/scenes/teaching/*.json; do
  name=$(basename "$scene" .json)
  tab=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('view', {}).get('tab', 'speciation'))" "$scene")
  for theme in light dark; do
    for size in 1280x720 1920x1080; do
      out="docs/present/$name-$theme-${size#*x}.png"
      "$bin" render "$scene" --view "$tab" --present "$theme" --width "${size%x*}" --height "${size#*x}" \
        --png "$out"
      # 256-colour PNGs are a third of the size and look the same (ImageMagick, when present).
      if command -v convert > /dev/null; then convert "$out" -colors 256 "PNG8:$out"; fi
    done
  done
  echo "$name: present mode"
done
