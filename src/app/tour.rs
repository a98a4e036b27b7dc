//! The teaching tour: steps through a list of scenes (the eleven built-in teaching scenes by default:
//! eight continuous ones, then three token scenes), applies each scene's default `view` on its first
//! visit, says at each stop what to look at, and keeps every stop's state (edited scene, finished
//! results, view settings, time) in memory so that coming back recomputes nothing. No numerics here:
//! it only moves results between the app and its stops.

use super::command::Command;
use super::manifold::{ColorBy, Dimensions, ManifoldView, ViewSettings};
use super::token_view::TokenViewState;
use super::{DiffscopeApp, RightTab, jobs::JobKind, tasks};
use crate::analysis::speciation::report::SpeciationReport;
use crate::analysis::view_data::discrete_lab::DiscreteLabReport;
use crate::analysis::view_data::token_view::TokenViewData;
use crate::analysis::view_data::{Cloud, Measured};
use crate::builtin_scenes::{TEACHING, TEACHING_TOKENS};
use crate::scene::{Scene, SceneFile, TokenScene, ViewBasis, ViewColor, ViewSpec, ViewTab};
use egui::{RichText, Ui};
use std::sync::Arc;

/// What to look at, stop by stop, in the built-in teaching tour (the tour bar says it).
const TEACHING_LOOK: [&str; TEACHING.len() + TEACHING_TOKENS.len()] = [
    "Watch the cloud split as t falls: in Speciation, cloning φ(t) follows the exact posterior curve \
     and crosses ¾ at t_mid.",
    "Theory: the ½ ln d law of means and the ¼ ln d law of covariances against the exact times; drag \
     d and the scene's point moves along them.",
    "These classes differ only in their correlations: φ(t) rises late, once pairs of spins can tell \
     the two temperatures apart.",
    "One informative direction: φ(t) rises slowly, smeared over a wide range of t, not in a step.",
    "Two splits, one after the other: the Theory tab's dendrogram orders them in time.",
    "Hidden states of two sequence models: the holes in their manifolds, and what the metric table \
     does and does not see.",
    "A trained denoiser: its cloning φ(t) crosses ¾ where the exact theory of its data says.",
    "Drag the guidance w: φ's plateau rises until the decision moves to the start of the run.",
    "Grey cells are masked: drag the time bar and watch tokens reveal. The selected sequence's class \
     posterior settles near t_mid = 1.1 (φ_post in Speciation), at ln L + c under mask noise.",
    "Factorized reveals, several brackets per step, each blind to the others: in the commitment heat \
     map most tokens commit in the last steps. Switch the sampler to autoregressive in the panel and \
     Apply: commitment runs left to right and every word is balanced.",
    "No single token tells the class here: the class posterior stays near ½ until late (t_mid = 0.84). \
     The Theory tab marks this scene's cell, ½ ln L + c.",
];

/// The tab each teaching token scene opens on (token scenes have no `view` block).
const TEACHING_TOKEN_TABS: [RightTab; TEACHING_TOKENS.len()] =
    [RightTab::Speciation, RightTab::Speciation, RightTab::Theory];

/// A stop's scene as the tour holds it: its scene file (either kind), what to look at, and for a
/// token scene the tab it opens on.
pub struct TourScene {
    pub scene: SceneFile,
    pub look: Option<&'static str>,
    pub tab: Option<RightTab>,
}

impl From<Scene> for TourScene {
    fn from(scene: Scene) -> Self {
        TourScene {
            scene: SceneFile::Diffusion(scene),
            look: None,
            tab: None,
        }
    }
}

impl From<TokenScene> for TourScene {
    fn from(scene: TokenScene) -> Self {
        TourScene {
            scene: SceneFile::Tokens(scene),
            look: None,
            tab: None,
        }
    }
}

/// Everything one tour stop shows.
struct Stop {
    shown: Shown,
    view: ViewSettings,
    step: usize,
    right_tab: RightTab,
    level: usize,
}

/// A stop's scene (as applied and as edited) and its finished results.
enum Shown {
    // Scenes boxed: they are hundreds of bytes, the rest of each variant a few pointers.
    Diffusion {
        scene: Box<Scene>,
        draft: Box<Scene>,
        cloud: Option<Arc<Cloud>>,
        classes: Vec<u32>,
        speciation: Option<Arc<SpeciationReport>>,
        metrics: Option<Arc<Measured>>,
    },
    Tokens {
        scene: Box<TokenScene>,
        draft: Option<Box<TokenScene>>,
        tokens: Option<Arc<TokenViewData>>,
        lab: Option<Arc<DiscreteLabReport>>,
        view: TokenViewState,
    },
}

/// The tour: its scenes and the saved state of every stop visited.
pub struct Tour {
    scenes: Vec<TourScene>,
    saved: Vec<Option<Stop>>,
    current: usize,
}

impl Tour {
    pub fn new(scenes: Vec<TourScene>) -> Self {
        let saved = scenes.iter().map(|_| None).collect();
        Tour {
            scenes,
            saved,
            current: 0,
        }
    }

    /// The built-in teaching scenes: the eight continuous ones, then the three token scenes.
    pub fn teaching() -> Result<Self, String> {
        let continuous = (0..TEACHING.len())
            .map(|i| crate::builtin_scenes::teaching_scene(i).map(TourScene::from));
        let tokens = (0..TEACHING_TOKENS.len()).map(|i| {
            crate::builtin_scenes::teaching_token_scene(i).map(|scene| TourScene {
                tab: Some(TEACHING_TOKEN_TABS[i]),
                ..TourScene::from(scene)
            })
        });
        let mut scenes = continuous.chain(tokens).collect::<Result<Vec<_>, _>>()?;
        for (scene, look) in scenes.iter_mut().zip(TEACHING_LOOK) {
            scene.look = Some(look);
        }
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

    /// What to look at at the current stop.
    pub fn look(&self) -> Option<&'static str> {
        self.scenes.get(self.current).and_then(|s| s.look)
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
        let shown = match self.scene.tokens.take() {
            Some(scene) => Shown::Tokens {
                scene: Box::new(scene),
                draft: self.scene.token_draft.take().map(Box::new),
                tokens: self.results.tokens.take(),
                lab: self.results.discrete_lab.take(),
                view: self.views.token,
            },
            None => Shown::Diffusion {
                scene: Box::new(self.scene.current.clone()),
                draft: Box::new(self.scene.draft.clone()),
                cloud: self.results.cloud.take(),
                classes: std::mem::take(&mut self.results.classes),
                speciation: self.results.speciation.take(),
                metrics: self.results.metrics.take(),
            },
        };
        let stop = Stop {
            shown,
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
            let Some(TourScene { scene, tab, .. }) = tour.scenes.get(index) else {
                return;
            };
            let (scene, tab) = (scene.clone(), *tab);
            return self.first_visit(scene, tab);
        };
        let scene_was = tour.scenes.get(index).map(|s| &s.scene);
        self.scene.edited = match &stop.shown {
            Shown::Diffusion { scene, .. } => {
                !matches!(scene_was, Some(SceneFile::Diffusion(was)) if was == scene.as_ref())
            }
            Shown::Tokens { scene, .. } => {
                !matches!(scene_was, Some(SceneFile::Tokens(was)) if was == scene.as_ref())
            }
        };
        self.scene.draft_error = None;
        self.scene.edited_at = None;
        self.scene.preset = None;
        self.views.right_tab = stop.right_tab;
        self.views.speciation_view.level = stop.level;
        stop.view.restore(&mut self.views.manifold);
        self.views.timeline.step = stop.step;
        self.results.arrival.open_at = None;
        match stop.shown {
            Shown::Diffusion {
                scene,
                draft,
                cloud,
                classes,
                speciation,
                metrics,
            } => {
                self.close_token_scene();
                self.scene.current = *scene;
                self.scene.draft = *draft;
                self.results.classes = classes;
                // A fresh id: the view's caches were dropped, and ids must never repeat across stops.
                self.results.cloud_id += 1;
                self.results.speciation = speciation;
                self.results.metrics = metrics;
                let lost_cloud = cloud.is_none();
                let lost_speciation = self.results.speciation.is_none();
                match cloud {
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
            Shown::Tokens {
                scene,
                draft,
                tokens,
                lab,
                view,
            } => {
                self.results.cloud = None;
                self.results.metrics = None;
                self.results.speciation = None;
                self.scene.tokens = Some(*scene);
                self.scene.token_draft = draft.map(|d| *d);
                let (lost_tokens, lost_lab) = (tokens.is_none(), lab.is_none());
                self.results.tokens = tokens;
                self.results.discrete_lab = lab;
                self.views.token = view;
                self.restart(lost_tokens, lost_lab);
            }
        }
    }

    /// Shows a stop for the first time: a continuous scene with its default view, or a token scene
    /// on `tab`.
    fn first_visit(&mut self, scene: SceneFile, tab: Option<RightTab>) {
        self.scene.preset = None;
        ViewSettings::of(&ManifoldView::default()).restore(&mut self.views.manifold);
        match scene {
            SceneFile::Diffusion(scene) => {
                self.close_token_scene();
                self.apply_view(&scene.view.clone().unwrap_or_default());
                self.scene.draft = scene.clone();
                self.scene.current = scene;
                self.scene.edited = false;
                self.scene.draft_error = None;
                self.scene.edited_at = None;
                self.restart(true, true);
            }
            SceneFile::Tokens(scene) => {
                if let Some(tab) = tab {
                    self.views.right_tab = tab;
                }
                self.open_token_scene(scene);
            }
        }
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
        let (current, len, look) = (tour.current, tour.len(), tour.look());
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
            let title = match &self.scene.tokens {
                Some(tokens) => tokens.title.as_ref(),
                None => self.scene.current.title.as_ref(),
            };
            if let Some(title) = title {
                ui.label(RichText::new(title).strong());
            }
            if ui.button("End tour").clicked() {
                self.commands.push(Command::EndTour);
            }
        });
        if let Some(look) = look {
            ui.add(egui::Label::new(format!("Look at: {look}")).wrap());
        }
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
