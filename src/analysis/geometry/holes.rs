//! Holes on the 2-D PCA plane (docs/science/metrics.md §2.4): the paper-compatible unreachable-probe count H_probe, the
//! persistent voids H_void (union-find over a raster distance field, elder rule, OUTSIDE node) with
//! their diagram and overlay regions, and the raw enclosed-empty-cell count H_encl (debug layer).

use super::plane::{PlaneIndex, SquareBox, quantile};
use rayon::prelude::*;
use serde::Serialize;

/// H_probe: probes of a G×G lattice over the robust square farther than τ from every point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeCount {
    pub unreachable: usize,
    /// The centres of the unreachable probes (lattice order), for overlays; not part of the JSON.
    #[serde(skip)]
    pub unreachable_centres: Vec<[f64; 2]>,
    pub of: usize,
    /// τ: the reachability radius (a quantile of the 2-D 1-NN distances).
    pub tau: f64,
    /// The robust square the probes sit in.
    pub square: SquareBox,
}

/// Probes at the cell centres of the square centred on the per-axis quantile midpoints, side the
/// wider quantile range; τ = `reach_quantile` of the 1-NN distances.
pub fn unreachable_probes(
    points: &[[f64; 2]],
    index: &PlaneIndex,
    grid: usize,
    quantiles: [f64; 2],
    reach_quantile: f64,
) -> ProbeCount {
    let axis = |a: usize| -> Vec<f64> { points.iter().map(|p| p[a]).collect() };
    let (xs, ys) = (axis(0), axis(1));
    let ranges = [&xs, &ys].map(|v| (quantile(v, quantiles[0]), quantile(v, quantiles[1])));
    let side = (ranges[0].1 - ranges[0].0).max(ranges[1].1 - ranges[1].0);
    let lo = ranges.map(|(l, h)| 0.5 * (l + h) - 0.5 * side);
    let tau = quantile(&index.kth_neighbour_distances(points, 1), reach_quantile);
    let unreachable_centres: Vec<[f64; 2]> = (0..grid * grid)
        .into_par_iter()
        .map(|c| {
            [0, 1].map(|a| {
                let cell = if a == 0 { c % grid } else { c / grid };
                lo[a] + (cell as f64 + 0.5) * side / grid as f64
            })
        })
        .filter(|&centre| index.nearest_distance(centre) > tau)
        .collect();
    ProbeCount {
        unreachable: unreachable_centres.len(),
        unreachable_centres,
        of: grid * grid,
        tau,
        square: SquareBox { lo, side },
    }
}

/// A P×P raster: cell (x, y) has index `y * size + x` and centre `origin + (x + ½, y + ½)·cell`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Raster {
    pub origin: [f64; 2],
    pub cell: f64,
    pub size: usize,
}

impl Raster {
    pub fn centre(&self, index: usize) -> [f64; 2] {
        let (x, y) = (index % self.size, index / self.size);
        [
            self.origin[0] + (x as f64 + 0.5) * self.cell,
            self.origin[1] + (y as f64 + 0.5) * self.cell,
        ]
    }
}

/// One H1 bar of the distance-function filtration: the void closes at radius `birth` and is
/// filled at radius `death`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub birth: f64,
    pub death: f64,
}

impl Bar {
    pub fn persistence(&self) -> f64 {
        self.death - self.birth
    }
}

/// A significant void and the raster cells where f > birth in its component (what the overlay draws).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Void {
    pub bar: Bar,
    pub cells: Vec<u32>,
}

/// H_void and everything needed to draw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoidAnalysis {
    pub raster: Raster,
    /// f: distance from each cell centre to the nearest point, `[size, size]`.
    pub distance_field: Vec<f64>,
    /// Every bar with positive persistence, most persistent first.
    pub diagram: Vec<Bar>,
    /// Minimum persistence of a counted void (fraction × box diagonal).
    pub threshold: f64,
    /// The bars above the threshold with their regions, most persistent first.
    pub voids: Vec<Void>,
}

const NONE: u32 = u32::MAX;

/// Union-find over cells plus OUTSIDE, each root carrying its peak (max f) and the order position
/// of that peak (the elder rule's tie-break), and a linked list of its member cells.
struct Components {
    parent: Vec<u32>,
    size: Vec<u32>,
    peak: Vec<f64>,
    peak_order: Vec<usize>,
    head: Vec<u32>,
    tail: Vec<u32>,
    next: Vec<u32>,
}

impl Components {
    fn new(count: usize) -> Self {
        Self {
            parent: (0..count as u32).collect(),
            size: vec![1; count],
            peak: vec![f64::INFINITY; count],
            peak_order: vec![0; count],
            head: (0..count as u32).collect(),
            tail: (0..count as u32).collect(),
            next: vec![NONE; count],
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// `a` is elder than `b`: higher peak, or the same peak reached earlier.
    fn is_elder(&self, a: u32, b: u32) -> bool {
        let (a, b) = (a as usize, b as usize);
        self.peak[a] > self.peak[b]
            || (self.peak[a] == self.peak[b] && self.peak_order[a] < self.peak_order[b])
    }

    fn members(&self, root: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = self.head[root as usize];
        while at != NONE {
            out.push(at);
            at = self.next[at as usize];
        }
        out
    }

    /// The roots of `a` and `b` as (elder, younger), or `None` when already joined.
    fn elder_and_younger(&mut self, a: u32, b: u32) -> Option<(u32, u32)> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            None
        } else if self.is_elder(ra, rb) {
            Some((ra, rb))
        } else {
            Some((rb, ra))
        }
    }

    /// Joins two roots (union by size); the surviving root keeps the elder's peak.
    fn link(&mut self, elder: u32, younger: u32) {
        let (big, small) = if self.size[elder as usize] >= self.size[younger as usize] {
            (elder, younger)
        } else {
            (younger, elder)
        };
        let (peak, order) = (self.peak[elder as usize], self.peak_order[elder as usize]);
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        self.peak[big as usize] = peak;
        self.peak_order[big as usize] = order;
        let (big_tail, small_head) = (self.tail[big as usize], self.head[small as usize]);
        if small_head != NONE {
            if big_tail == NONE {
                self.head[big as usize] = small_head;
            } else {
                self.next[big_tail as usize] = small_head;
            }
            self.tail[big as usize] = self.tail[small as usize];
        }
    }
}

/// H_void: the raster covers `square` padded by `padding`·side on every side; cells are added in
/// decreasing f and merged with their processed 4-neighbours (border cells also with OUTSIDE,
/// whose peak is +∞). At each merge at value v the younger component dies: bar (v, its peak).
pub fn persistent_voids(
    index: &PlaneIndex,
    square: &SquareBox,
    size: usize,
    padding: f64,
    persistence: f64,
) -> VoidAnalysis {
    let full = square.side * (1.0 + 2.0 * padding);
    let raster = Raster {
        origin: [0, 1].map(|a| square.lo[a] - padding * square.side),
        cell: full / size as f64,
        size,
    };
    let threshold = persistence * square.diagonal();
    let cells = size * size;
    let distance_field: Vec<f64> = (0..cells)
        .into_par_iter()
        .map(|c| index.nearest_distance(raster.centre(c)))
        .collect();
    if square.side <= 0.0 {
        return VoidAnalysis {
            raster,
            distance_field,
            diagram: Vec::new(),
            threshold,
            voids: Vec::new(),
        };
    }
    let mut order: Vec<u32> = (0..cells as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        distance_field[b as usize]
            .total_cmp(&distance_field[a as usize])
            .then(a.cmp(&b))
    });
    let outside = cells as u32;
    let mut components = Components::new(cells + 1);
    components.head[cells] = NONE;
    components.tail[cells] = NONE;
    let mut processed = vec![false; cells];
    let mut diagram = Vec::new();
    let mut voids = Vec::new();
    for (position, &cell) in order.iter().enumerate() {
        let c = cell as usize;
        let v = distance_field[c];
        components.peak[c] = v;
        components.peak_order[c] = position;
        processed[c] = true;
        let (x, y) = (c % size, c / size);
        let mut neighbours = [NONE; 5];
        if x > 0 {
            neighbours[0] = cell - 1;
        }
        if x + 1 < size {
            neighbours[1] = cell + 1;
        }
        if y > 0 {
            neighbours[2] = cell - size as u32;
        }
        if y + 1 < size {
            neighbours[3] = cell + size as u32;
        }
        if x == 0 || y == 0 || x + 1 == size || y + 1 == size {
            neighbours[4] = outside;
        }
        for other in neighbours {
            if other == NONE || (other != outside && !processed[other as usize]) {
                continue;
            }
            let Some((elder, younger)) = components.elder_and_younger(cell, other) else {
                continue;
            };
            let bar = Bar {
                birth: v,
                death: components.peak[younger as usize],
            };
            if bar.persistence() > 0.0 {
                diagram.push(bar);
            }
            if bar.persistence() > threshold {
                // The dying component's cells, read before the link hands them to the elder.
                let mut region = components.members(younger);
                region.retain(|&m| distance_field[m as usize] > v);
                region.sort_unstable();
                voids.push(Void { bar, cells: region });
            }
            components.link(elder, younger);
        }
    }
    let by_persistence = |a: &Bar, b: &Bar| b.persistence().total_cmp(&a.persistence());
    diagram.sort_by(by_persistence);
    voids.sort_by(|a, b| by_persistence(&a.bar, &b.bar));
    VoidAnalysis {
        raster,
        distance_field,
        diagram,
        threshold,
        voids,
    }
}

/// H_encl: empty 4-connected components of the G×G occupancy grid over `square` that touch no
/// border cell and have at least `min_cells` cells.
pub fn enclosed_empty_components(
    points: &[[f64; 2]],
    square: &SquareBox,
    grid: usize,
    min_cells: usize,
) -> usize {
    let mut occupied = vec![false; grid * grid];
    for &p in points {
        let (x, y) = square.cell(p, grid);
        occupied[y * grid + x] = true;
    }
    let mut seen = occupied.clone();
    let mut count = 0;
    let mut stack = Vec::new();
    for start in 0..grid * grid {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut cells, mut touches_border) = (0usize, false);
        while let Some(c) = stack.pop() {
            cells += 1;
            let (x, y) = (c % grid, c / grid);
            touches_border |= x == 0 || y == 0 || x + 1 == grid || y + 1 == grid;
            let neighbours = [
                (x > 0).then(|| c - 1),
                (x + 1 < grid).then(|| c + 1),
                (y > 0).then(|| c - grid),
                (y + 1 < grid).then(|| c + grid),
            ];
            for nb in neighbours.into_iter().flatten() {
                if !seen[nb] {
                    seen[nb] = true;
                    stack.push(nb);
                }
            }
        }
        if !touches_border && cells >= min_cells {
            count += 1;
        }
    }
    count
}
