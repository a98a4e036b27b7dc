//! Class hierarchies (`docs/science/speciation.md` §2.6, §3.3): hierarchy levels as nested class → group maps,
//! group weights and posteriors, the midpoint and balance φ levels of each level, and the dendrogram of
//! successive speciation (single linkage on pairwise times t_kl). Knows nothing about models or dynamics.

use super::SpeciationError;
use super::universal::weighted_gaussian_phi;
use serde::Serialize;

/// One level of a hierarchy: every class belongs to one group, every group to one parent group of the
/// level above (a single parent for the top level).
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub name: String,
    /// `[K]` group index of every class.
    pub group_of_class: Vec<usize>,
    /// `[G]` parent index of every group (all 0 at the top level).
    pub parent_of_group: Vec<usize>,
}

impl Level {
    pub fn groups(&self) -> usize {
        self.parent_of_group.len()
    }

    /// `[G]` total class weight of each group.
    pub fn group_weights(&self, class_weights: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.groups()];
        for (&g, &w) in self.group_of_class.iter().zip(class_weights) {
            out[g] += w;
        }
        out
    }

    fn parent_weights(&self, group_weights: &[f64]) -> Vec<f64> {
        let parents = self.parent_of_group.iter().max().map_or(0, |&p| p + 1);
        let mut out = vec![0.0; parents];
        for (&p, &w) in self.parent_of_group.iter().zip(group_weights) {
            out[p] += w;
        }
        out
    }

    /// Midpoint level of φ_ℓ = P(two clones in the same group): halfway between its value once the
    /// parent level is decided, Σ_g W_g²/W_parent(g), and 1. At the top level this is (1 + Σ_g W_g²)/2;
    /// for 4 equal classes under 2 equal parents it is 0.75 ("within the parent group", §4 case E).
    pub fn midpoint_level(&self, class_weights: &[f64]) -> f64 {
        let groups = self.group_weights(class_weights);
        let parents = self.parent_weights(&groups);
        let floor: f64 = groups
            .iter()
            .zip(&self.parent_of_group)
            .map(|(w, &p)| w * w / parents[p])
            .sum();
        0.5 * (1.0 + floor)
    }

    /// Balance level: φ_ℓ at D = 2 when every parent splits into at most two groups (two-class curve
    /// with the groups' relative weights); `None` for wider splits, where D = 2 has no single φ.
    pub fn balance_level(&self, class_weights: &[f64]) -> Option<f64> {
        let groups = self.group_weights(class_weights);
        let parents = self.parent_weights(&groups);
        let mut level = 0.0;
        for (p, &parent_weight) in parents.iter().enumerate() {
            let children: Vec<f64> = (0..groups.len())
                .filter(|&g| self.parent_of_group[g] == p)
                .map(|g| groups[g])
                .collect();
            level += parent_weight
                * match children.as_slice() {
                    [_] => 1.0,
                    [first, _] => weighted_gaussian_phi(2.0, first / parent_weight),
                    _ => return None,
                };
        }
        Some(level)
    }

    /// Group posteriors r_g = Σ_{k∈g} r_k of one row of class posteriors (`[K]` → `[G]`).
    pub fn group_posterior(&self, class_posterior: &[f64], out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (&g, &r) in self.group_of_class.iter().zip(class_posterior) {
            out[g] += r;
        }
    }
}

/// The levels of a scene: without groups one level (every class its own group); with a group map two
/// levels, "coarse" (the groups) then "fine" (the classes, parents = groups). Checks that the map
/// covers every class exactly once.
pub fn levels(
    classes: usize,
    groups: Option<&[Vec<usize>]>,
) -> Result<Vec<Level>, SpeciationError> {
    let fine = |parent_of_class: Vec<usize>| Level {
        name: "classes".into(),
        group_of_class: (0..classes).collect(),
        parent_of_group: parent_of_class,
    };
    let Some(groups) = groups else {
        return Ok(vec![fine(vec![0; classes])]);
    };
    let mut group_of_class = vec![usize::MAX; classes];
    for (g, members) in groups.iter().enumerate() {
        if members.is_empty() {
            return Err(SpeciationError::Invalid(format!("group {g} is empty")));
        }
        for &k in members {
            let slot = group_of_class.get_mut(k).ok_or_else(|| {
                SpeciationError::Invalid(format!(
                    "group {g} names class {k}, but the model has {classes} classes (0..{})",
                    classes.saturating_sub(1)
                ))
            })?;
            if *slot != usize::MAX {
                return Err(SpeciationError::Invalid(format!(
                    "class {k} is in two groups ({} and {g})",
                    *slot
                )));
            }
            *slot = g;
        }
    }
    if let Some(missing) = group_of_class.iter().position(|&g| g == usize::MAX) {
        return Err(SpeciationError::Invalid(format!(
            "the group map misses class {missing}: every class must belong to one group"
        )));
    }
    let coarse = Level {
        name: "groups".into(),
        group_of_class: group_of_class.clone(),
        parent_of_group: vec![0; groups.len()],
    };
    Ok(vec![coarse, fine(group_of_class)])
}

/// One merge of the dendrogram: the two clusters fuse for t above `time` (they speciate at `time`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Merge {
    pub time: f64,
    pub left: Vec<usize>,
    pub right: Vec<usize>,
}

/// Single-linkage dendrogram of pairwise speciation times `[K, K]` (row-major, symmetric, diagonal
/// ignored): merges in increasing time, so the last merge is the first speciation of reverse dynamics.
/// Pairs with an unknown time (NaN) never link.
pub fn dendrogram(classes: usize, pair_times: &[f64]) -> Vec<Merge> {
    let mut edges: Vec<(f64, usize, usize)> = (0..classes)
        .flat_map(|k| ((k + 1)..classes).map(move |l| (k, l)))
        .filter_map(|(k, l)| {
            let t = pair_times.get(k * classes + l).copied()?;
            t.is_finite().then_some((t, k, l))
        })
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cluster: Vec<usize> = (0..classes).collect();
    let mut merges = Vec::new();
    for (t, k, l) in edges {
        let (ck, cl) = (cluster[k], cluster[l]);
        if ck == cl {
            continue;
        }
        let members =
            |c: usize| -> Vec<usize> { (0..classes).filter(|&i| cluster[i] == c).collect() };
        merges.push(Merge {
            time: t,
            left: members(ck),
            right: members(cl),
        });
        cluster
            .iter_mut()
            .filter(|c| **c == cl)
            .for_each(|c| *c = ck);
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_class_hierarchy_levels_and_dendrogram() {
        let w = [0.25; 4];
        let levels = levels(4, Some(&[vec![0, 1], vec![2, 3]])).unwrap();
        assert!((levels[0].midpoint_level(&w) - 0.75).abs() < 1e-12);
        assert!((levels[1].midpoint_level(&w) - 0.75).abs() < 1e-12);
        let flat = super::levels(4, None).unwrap();
        assert!((flat[0].midpoint_level(&w) - 0.625).abs() < 1e-12);
        assert!(flat[0].balance_level(&w).is_none());
        // Pairs within {0,1} and {2,3} speciate late (small t), across early.
        let mut t = vec![f64::NAN; 16];
        for k in 0..4 {
            for l in 0..4 {
                t[k * 4 + l] = if k / 2 == l / 2 { 1.4 } else { 2.8 };
            }
        }
        let merges = dendrogram(4, &t);
        assert_eq!(merges.len(), 3);
        assert_eq!(merges[2].time, 2.8);
        assert_eq!((merges[2].left.len(), merges[2].right.len()), (2, 2));
    }

    #[test]
    fn bad_group_maps_are_named() {
        let missing = levels(3, Some(&[vec![0], vec![1]])).unwrap_err();
        assert!(missing.to_string().contains("misses class 2"), "{missing}");
        let twice = levels(2, Some(&[vec![0, 1], vec![1]])).unwrap_err();
        assert!(twice.to_string().contains("two groups"), "{twice}");
        let unknown = levels(2, Some(&[vec![0, 5]])).unwrap_err();
        assert!(unknown.to_string().contains("class 5"), "{unknown}");
    }
}
