//! The teaching tour: steps through a list of scenes (the eight built-in teaching scenes by default),
//! applies each scene's default `view` on its first visit, and keeps every stop's state (edited scene,
//! finished results, view settings, time) in memory so that coming back recomputes nothing. No
//! numerics here: it only moves results between the app and its stops.

use super::command::Command;
use super::manifold::{ColorBy, Dimensions, ManifoldView, ViewSettings};
use super::{DiffscopeApp, RightTab, jobs::JobKind, tasks};
use crate::analysis::speciation::report::SpeciationReport;
use crate::scene::{Scene, ViewBasis, ViewColor, ViewSpec, ViewTab};
use egui::{RichText, Ui};
use std::sync::Arc;

/// Everything one tour stop shows.
struct Stop {
    scene: Scene,
    draft: Scene,
    cloud: Option<Arc<crate::analysis::view_data::Cloud>>,
    classes: Vec<u32>,
    speciation: Option<Arc<SpeciationReport>>,
    metrics: Option<Arc<crate::analysis::view_data::Measured>>,
    view: ViewSettings,
    step: usize,
    right_tab: RightTab,
    level: usize,
}

/// The tour: its scenes and the saved state of every stop visited.
pub struct Tour {
    scenes: Vec<Scene>,
    saved: Vec<Option<Stop>>,
    current: usize,
}

impl Tour {
    pub fn new(scenes: Vec<Scene>) -> Self {
        let saved = scenes.iter().map(|_| None).collect();
        Tour {
            scenes,
            saved,
            current: 0,
        }
    }

    /// The eight built-in teaching scenes.
    pub fn teaching() -> Result<Self, String> {
        let scenes = (0..crate::builtin_scenes::TEACHING.len())
            .map(crate::builtin_scenes::teaching_scene)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tour::new(scenes))
    }

    pub fn current(&self) -> usize {
        self.current
    }

    pub fn len(&self) -> usize {
        self.scenes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scenes.is_empty()
    }
}

impl DiffscopeApp {
    /// Starts a tour over `scenes` at the first one.
    pub fn start_tour(&mut self, tour: Tour) {
        if tour.is_empty() {
            return;
        }
        self.views.tour = Some(tour);
        self.visit(0);
    }

    /// Starts the tour of the built-in teaching scenes.
    pub fn start_teaching_tour(&mut self) {
        match Tour::teaching() {
            Ok(tour) => self.start_tour(tour),
            Err(e) => self.jobs.report(format!("teaching scenes: {e}")),
        }
    }

    /// Moves to the next (`+1`) or previous (`-1`) stop, if there is one.
    pub fn tour_step(&mut self, delta: isize) {
        let Some(tour) = &self.views.tour else {
            return;
        };
        let target = tour.current as isize + delta;
        if (0..tour.len() as isize).contains(&target) {
            self.save_stop();
            self.visit(target as usize);
        }
    }

    /// Saves the current stop, then leaves the tour (the current scene stays open).
    pub fn end_tour(&mut self) {
        self.views.tour = None;
    }

    /// Copies the current state into the current stop and stops the jobs it started.
    fn save_stop(&mut self) {
        for kind in [JobKind::Sample, JobKind::Speciation, JobKind::Metrics] {
            self.jobs.cancel(kind);
        }
        let stop = Stop {
            scene: self.scene.current.clone(),
            draft: self.scene.draft.clone(),
            cloud: self.results.cloud.take(),
            classes: std::mem::take(&mut self.results.classes),
            speciation: self.results.speciation.take(),
            metrics: self.results.metrics.take(),
            view: ViewSettings::of(&self.views.manifold),
            step: self.views.timeline.step,
            right_tab: self.views.right_tab,
            level: self.views.speciation_view.level,
        };
        if let Some(tour) = &mut self.views.tour
            && let Some(slot) = tour.saved.get_mut(tour.current)
        {
            *slot = Some(stop);
        }
    }

    /// Shows stop `index`: its saved state, or its scene with its default view on a first visit.
    /// Results a stop lost (its jobs were still running when it was left) are recomputed.
    fn visit(&mut self, index: usize) {
        let Some(tour) = &mut self.views.tour else {
            return;
        };
        tour.current = index;
        self.views.timeline.playing = false;
        let saved = tour.saved.get_mut(index).and_then(Option::take);
        let Some(stop) = saved else {
            let Some(scene) = tour.scenes.get(index).cloned() else {
                return;
            };
            self.scene.preset = None;
            ViewSettings::of(&ManifoldView::default()).restore(&mut self.views.manifold);
            self.apply_view(&scene.view.clone().unwrap_or_default());
            self.scene.draft = scene.clone();
            self.scene.current = scene;
            self.scene.edited = false;
            self.scene.draft_error = None;
            self.scene.edited_at = None;
            self.restart(true, true);
            return;
        };
        self.scene.edited = tour.scenes.get(index) != Some(&stop.scene);
        self.scene.current = stop.scene;
        self.scene.draft = stop.draft;
        self.scene.draft_error = None;
        self.scene.edited_at = None;
        self.scene.preset = None;
        self.results.classes = stop.classes;
        // A fresh id: the view's caches were dropped, and ids must never repeat across stops.
        self.results.cloud_id += 1;
        self.results.speciation = stop.speciation;
        self.results.metrics = stop.metrics;
        self.views.right_tab = stop.right_tab;
        self.views.speciation_view.level = stop.level;
        stop.view.restore(&mut self.views.manifold);
        self.views.timeline.step = stop.step;
        self.results.arrival.open_at = None;
        let lost_cloud = stop.cloud.is_none();
        let lost_speciation = self.results.speciation.is_none();
        match stop.cloud {
            Some(cloud) => {
                if self.results.metrics.is_none() {
                    let for_metrics = Arc::clone(&cloud);
                    self.jobs.start(JobKind::Metrics, "metrics", move |ctx| {
                        tasks::metrics(&for_metrics, None, ctx)
                    });
                }
                self.results.cloud = Some(cloud);
            }
            None => self.results.cloud = None,
        }
        self.restart(lost_cloud, lost_speciation);
    }

    /// Opens `scene` and applies its default view (fields it does not set keep their defaults).
    pub fn open_scene(&mut self, scene: Scene) {
        let view = scene.view.clone().unwrap_or_default();
        ViewSettings::of(&ManifoldView::default()).restore(&mut self.views.manifold);
        self.apply_view(&view);
        self.apply_scene(scene);
    }

    /// Applies the switches of a scene's `view` block.
    pub fn apply_view(&mut self, view: &ViewSpec) {
        if let Some(dims) = view.dims {
            self.views.manifold.settings.dims = if dims == 3 {
                Dimensions::Three
            } else {
                Dimensions::Two
            };
        }
        if let Some(color) = view.color {
            self.views.manifold.settings.color_by = match color {
                ViewColor::Class => ColorBy::Class,
                ViewColor::Time => ColorBy::Time,
                ViewColor::Posterior(k) => ColorBy::Posterior(k),
            };
        }
        if let Some(basis) = view.basis {
            self.views.manifold.settings.pooled = basis == ViewBasis::Pooled;
        }
        if let Some(path) = view.path {
            self.views.manifold.settings.show_path = path;
        }
        if let Some(trails) = view.trails {
            self.views.manifold.settings.trail_steps = trails;
        }
        if let Some(holes) = view.holes {
            self.views.manifold.settings.show_holes = holes;
        }
        if let Some(tab) = view.tab {
            self.views.right_tab = match tab {
                ViewTab::Speciation => RightTab::Speciation,
                ViewTab::Metrics => RightTab::Metrics,
                ViewTab::Inspector => RightTab::Inspector,
                ViewTab::Theory => RightTab::Theory,
            };
        }
        self.results.arrival.open_at = view.time;
    }

    /// The tour bar: previous / next, where we are, and the way out.
    pub(super) fn tour_bar(&mut self, ui: &mut Ui) {
        let Some(tour) = &self.views.tour else {
            return;
        };
        let (current, len) = (tour.current, tour.len());
        ui.horizontal(|ui| {
            if ui
                .add_enabled(current > 0, egui::Button::new("Previous"))
                .clicked()
            {
                self.commands.push(Command::TourStep(-1));
            }
            ui.label(format!("Tour {} / {len}", current + 1));
            if ui
                .add_enabled(current + 1 < len, egui::Button::new("Next"))
                .clicked()
            {
                self.commands.push(Command::TourStep(1));
            }
            if let Some(title) = &self.scene.current.title {
                ui.label(RichText::new(title).strong());
            }
            if ui.button("End tour").clicked() {
                self.commands.push(Command::EndTour);
            }
        });
    }
}

/// The stored step whose time is nearest `t` (times decreasing; 0 when there are none).
pub fn nearest_step(times: &[f64], t: f64) -> usize {
    times
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
        .map_or(0, |(j, _)| j)
}
