#!/usr/bin/env bash
# Regenerates docs/teaching-*.png: each teaching scene's manifold view and the panel its `view` block
# opens (speciation, theory or metrics), rendered headless with the app's own renderer.
# Usage (from the repository root): bash docs/render-teaching.sh [path/to/diffscope]
set -euo pipefail
bin=${1:-target/release/diffscope}
for scene in assets/scenes/teaching/*.json; do
  name=$(basename "$scene" .json)
  tab=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('view', {}).get('tab', 'speciation'))" "$scene")
  "$bin" render "$scene" --view manifold --png "docs/teaching-$name-manifold.png" --width 900 --height 600
  "$bin" render "$scene" --view "$tab" --png "docs/teaching-$name-$tab.png" --width 900 --height 700
  echo "$name: manifold, $tab"
done
