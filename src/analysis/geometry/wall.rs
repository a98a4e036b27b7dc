//! "The Wall" proxy (docs/science/metrics.md §2.5): the boundary curvature ratio W = median K_loc of the points next to
//! a significant void / median K_loc of all points. A bounded proxy, not Ricci curvature.

use super::holes::VoidAnalysis;
use super::plane::quantile;

/// Below this the overall median K_loc is rounding noise of a flat cloud and W is undefined.
const FLAT_MEDIAN: f64 = 1e-12;

/// Points whose 2-D distance to a kept void's cells (as squares) is at most `band` raster cells.
pub fn boundary_points(points: &[[f64; 2]], voids: &VoidAnalysis, band: f64) -> Vec<usize> {
    let raster = &voids.raster;
    let size = raster.size;
    let mut in_void = vec![false; size * size];
    for cell in voids.voids.iter().flat_map(|v| &v.cells) {
        in_void[*cell as usize] = true;
    }
    if raster.cell <= 0.0 || !in_void.iter().any(|&b| b) {
        return Vec::new();
    }
    let reach = band * raster.cell;
    let window = band.ceil() as isize + 1;
    let half = 0.5 * raster.cell;
    let mut out = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let home = [0, 1].map(|a| ((p[a] - raster.origin[a]) / raster.cell).floor() as isize);
        let mut near = false;
        'search: for dy in -window..=window {
            for dx in -window..=window {
                let (x, y) = (home[0] + dx, home[1] + dy);
                if x < 0 || y < 0 || x >= size as isize || y >= size as isize {
                    continue;
                }
                let c = y as usize * size + x as usize;
                if !in_void[c] {
                    continue;
                }
                let centre = raster.centre(c);
                let gap = [0, 1].map(|a| ((p[a] - centre[a]).abs() - half).max(0.0));
                if gap[0].hypot(gap[1]) <= reach {
                    near = true;
                    break 'search;
                }
            }
        }
        if near {
            out.push(i);
        }
    }
    out
}

/// W = median ρ(boundary) / median ρ(all); `None` without boundary points or on a flat cloud.
pub fn wall_ratio(local_residuals: &[f64], boundary: &[usize]) -> Option<f64> {
    if boundary.is_empty() {
        return None;
    }
    let all = quantile(local_residuals, 0.5);
    let edge: Vec<f64> = boundary.iter().map(|&i| local_residuals[i]).collect();
    (all > FLAT_MEDIAN).then(|| quantile(&edge, 0.5) / all)
}
