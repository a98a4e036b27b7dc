//! The app's plain data: the scene it shows with the draft the panel edits ([`SceneState`]), and the
//! finished results on display ([`Results`]). Neither draws nor starts jobs; `DiffscopeApp` moves
//! results in from the worker and views read them.

use super::caption::LiveCaption;
use crate::analysis::compare::Comparison;
use crate::analysis::speciation::report::SpeciationReport;
use crate::analysis::view_data::discrete_lab::DiscreteLabReport;
use crate::analysis::view_data::token_view::TokenViewData;
use crate::analysis::view_data::{Cloud, Imported, Measured, ReferenceReports};
use crate::scene::{Scene, TokenScene};
use std::sync::Arc;

/// Delay after the last edit before the draft scene is applied (seconds).
const EDIT_DEBOUNCE: f64 = 0.4;

/// The scene whose results are shown and the draft the panel edits.
pub struct SceneState {
    /// The scene whose results are shown.
    pub current: Scene,
    /// The scene as edited in the panel (applied after a pause when valid).
    pub draft: Scene,
    /// Why the draft was not applied.
    pub draft_error: Option<String>,
    /// When the draft was last edited (the debounce runs from here).
    pub edited_at: Option<f64>,
    /// The scene was changed in the panel since it was opened (its caption says so).
    pub edited: bool,
    /// The built-in preset the scene is, while it is one.
    pub preset: Option<usize>,
    /// The token scene (mask or flip noise) shown instead of `current` while one is open. Opening a
    /// continuous scene closes it; `current` stays what the panel edits once it is closed.
    pub tokens: Option<TokenScene>,
    /// The token scene as edited in the panel, once edited (applied by its Apply button).
    pub token_draft: Option<TokenScene>,
}

/// Which jobs a change of scene invalidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalidated {
    pub sampling: bool,
    pub speciation: bool,
}

/// What the draft asks for this frame ([`SceneState::poll_draft`]).
#[derive(Debug, PartialEq)]
pub enum DraftPoll {
    /// The draft equals the applied scene.
    Unchanged,
    /// Edited, but still within the debounce or with a widget held: ask again after this many seconds.
    Waiting(f64),
    /// Rested and valid: apply it.
    Ready(Box<Scene>),
    /// Rested but invalid (the error is kept in `draft_error`).
    Invalid,
}

impl SceneState {
    pub fn new(scene: Scene, preset: Option<usize>) -> Self {
        SceneState {
            draft: scene.clone(),
            current: scene,
            draft_error: None,
            edited_at: None,
            edited: false,
            preset,
            tokens: None,
            token_draft: None,
        }
    }

    /// Makes `scene` current (and the draft), returning which results its changes invalidate.
    pub fn replace(&mut self, scene: Scene) -> Invalidated {
        self.edited = false;
        let old = std::mem::replace(&mut self.current, scene);
        let new = &self.current;
        let model = old.model != new.model;
        self.draft = new.clone();
        self.draft_error = None;
        self.edited_at = None;
        Invalidated {
            sampling: model
                || old.sampler != new.sampler
                || old.trajectories != new.trajectories
                || old.seed != new.seed,
            speciation: model
                || old.speciation != new.speciation
                || old.seed != new.seed
                || old.sampler.t_max != new.sampler.t_max
                || old.sampler.guidance != new.sampler.guidance,
        }
    }

    /// Notes that a panel changed the draft at time `now` (the debounce restarts).
    pub fn draft_edited(&mut self, now: f64) {
        self.edited_at = Some(now);
        self.draft_error = None;
    }

    /// Whether the draft should be applied now: once it differs, has rested [`EDIT_DEBOUNCE`] seconds
    /// with no widget held, and validates.
    pub fn poll_draft(&mut self, now: f64, pointer_down: bool) -> DraftPoll {
        if self.draft == self.current {
            self.edited_at = None;
            return DraftPoll::Unchanged;
        }
        let edited_at = *self.edited_at.get_or_insert(now);
        if now - edited_at < EDIT_DEBOUNCE || pointer_down {
            return DraftPoll::Waiting(EDIT_DEBOUNCE);
        }
        match self.draft.validate(std::path::Path::new("(edited scene)")) {
            Ok(()) => {
                self.preset = None;
                self.edited_at = None;
                DraftPoll::Ready(Box::new(self.draft.clone()))
            }
            Err(e) => {
                self.draft_error = Some(e.to_string());
                DraftPoll::Invalid
            }
        }
    }
}

/// Finished results on display. Cloning shares them (offscreen exports take a copy).
#[derive(Clone, Default)]
pub struct Results {
    pub cloud: Option<Arc<Cloud>>,
    /// Counts the clouds shown: view caches and metric requests are keyed by it, never reused.
    pub cloud_id: usize,
    /// The class of every trajectory of the cloud (colour by class).
    pub classes: Vec<u32>,
    pub speciation: Option<Arc<SpeciationReport>>,
    pub metrics: Option<Arc<Measured>>,
    pub references: Option<Arc<ReferenceReports>>,
    /// The DiT vs Euler-Stack measurement, once asked for.
    pub models: Option<Arc<Comparison>>,
    /// The (cloud id, step) whose metrics were last asked for when the table follows time.
    pub metrics_requested: Option<(usize, usize)>,
    /// What to do with the view when the next cloud arrives.
    pub arrival: Arrival,
    /// The token view of the open token scene.
    pub tokens: Option<Arc<TokenViewData>>,
    /// The discrete lab of the open token scene (its Speciation tab).
    pub discrete_lab: Option<Arc<DiscreteLabReport>>,
}

/// The part of a session that needs the sampled cloud (or token run): applied (clamped) when it
/// arrives.
#[derive(Clone)]
pub(super) struct PendingView {
    pub(super) step: Option<usize>,
    pub(super) selected: Option<usize>,
    /// The selected sequence of a token session's view.
    pub(super) sequence: Option<usize>,
}

/// View changes that wait for the next cloud.
#[derive(Clone, Default)]
pub struct Arrival {
    /// The step and selection of an applied session (also waiting for a token run).
    pub(super) pending_view: Option<PendingView>,
    /// A loaded data file resets the view (selection, camera) when it arrives, not before: a file that
    /// fails to load keeps the view as it was.
    pub reset_view: bool,
    /// Show the cloud at the stored step nearest this time (a scene's `view.time`).
    pub open_at: Option<f64>,
}

impl Results {
    /// Whether anything is on display for the centre view: a cloud, or a token scene's view.
    pub fn shown(&self) -> bool {
        self.cloud.is_some() || self.tokens.is_some()
    }

    /// The imported file on display, when the cloud is not the scene's.
    pub fn imported(&self) -> Option<&Imported> {
        self.cloud.as_deref().and_then(|c| c.origin.imported())
    }

    /// The class names of the cloud shown (none before the first cloud).
    pub fn class_labels(&self) -> &[String] {
        self.cloud
            .as_deref()
            .map_or(&[], |c| c.trajectories.class_labels.as_slice())
    }
}

/// The live caption, rebuilt only when what it is made of changes (the scene's title, caption and
/// d, its speciation report, the edited flag), not every frame.
#[derive(Default)]
pub struct CaptionCache {
    made_of: Option<CaptionInputs>,
    caption: Arc<LiveCaption>,
}

/// What a live caption is made of: a scene's title and caption text, the d its placeholders quote,
/// the report of its numbers, and whether it was edited.
#[derive(PartialEq)]
pub struct CaptionInputs {
    title: Option<String>,
    text: Option<String>,
    dim: Option<usize>,
    report: Option<ReportIdentity>,
    edited: bool,
}

impl CaptionInputs {
    /// A continuous scene's caption with the live numbers of `report`.
    pub fn of_scene(scene: &Scene, report: Option<&Arc<SpeciationReport>>, edited: bool) -> Self {
        CaptionInputs {
            title: scene.title.clone(),
            text: scene.caption.clone(),
            dim: scene.model.dim(),
            report: report.map(|r| ReportIdentity(Arc::clone(r))),
            edited,
        }
    }

    /// A token scene's caption: its placeholders quote the sequence length `length` as d; it has no
    /// continuous speciation report.
    pub fn of_tokens(scene: &TokenScene, length: usize, edited: bool) -> Self {
        CaptionInputs {
            title: scene.title.clone(),
            text: scene.caption.clone(),
            dim: Some(length),
            report: None,
            edited,
        }
    }

    fn caption(&self) -> LiveCaption {
        LiveCaption::new(
            self.title.clone(),
            self.text.as_deref(),
            self.dim,
            self.report.as_ref().map(|r| r.0.as_ref()),
            self.edited,
        )
    }
}

/// A report compared by identity: holding the `Arc` keeps its address from being reused.
struct ReportIdentity(Arc<SpeciationReport>);

impl PartialEq for ReportIdentity {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl CaptionCache {
    /// The caption made of `inputs` (the previous one when they have not changed).
    pub fn get(&mut self, inputs: CaptionInputs) -> Arc<LiveCaption> {
        if self.made_of.as_ref() != Some(&inputs) {
            self.caption = Arc::new(inputs.caption());
            self.made_of = Some(inputs);
        }
        Arc::clone(&self.caption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_waits_for_the_debounce_then_applies_once_valid() {
        let mut state = SceneState::new(Scene::default_scene(), Some(0));
        assert_eq!(state.poll_draft(0.0, false), DraftPoll::Unchanged);
        state.draft.seed += 1;
        state.draft_edited(1.0);
        assert_eq!(
            state.poll_draft(1.1, false),
            DraftPoll::Waiting(EDIT_DEBOUNCE)
        );
        // A held widget (a slider being dragged) keeps it waiting however long it rests.
        assert_eq!(
            state.poll_draft(9.0, true),
            DraftPoll::Waiting(EDIT_DEBOUNCE)
        );
        let DraftPoll::Ready(scene) = state.poll_draft(9.0, false) else {
            panic!("a valid, rested draft is applied");
        };
        assert_eq!(scene.seed, state.current.seed + 1);
        assert_eq!(
            state.preset, None,
            "an edited preset is no longer the preset"
        );
        let invalidated = state.replace(*scene);
        assert!(invalidated.sampling && invalidated.speciation);
        assert_eq!(state.poll_draft(9.5, false), DraftPoll::Unchanged);
    }

    #[test]
    fn an_invalid_draft_keeps_its_error_and_the_applied_scene() {
        let mut state = SceneState::new(Scene::default_scene(), None);
        let applied = state.current.clone();
        state.draft.trajectories = 0;
        state.draft_edited(0.0);
        assert_eq!(state.poll_draft(1.0, false), DraftPoll::Invalid);
        assert!(
            state
                .draft_error
                .as_deref()
                .is_some_and(|e| e.contains("trajectories"))
        );
        assert_eq!(state.current, applied);
    }

    #[test]
    fn a_change_of_speciation_settings_alone_keeps_the_sampled_cloud() {
        let mut state = SceneState::new(Scene::default_scene(), None);
        let mut scene = state.current.clone();
        let speciation = scene.speciation.as_mut();
        speciation.expect("the default scene runs the lab").pairs += 1;
        let invalidated = state.replace(scene);
        assert!(!invalidated.sampling && invalidated.speciation);
    }

    #[test]
    fn the_caption_is_rebuilt_only_when_its_inputs_change() {
        let mut cache = CaptionCache::default();
        let mut scene = Scene::default_scene();
        let first = cache.get(CaptionInputs::of_scene(&scene, None, false));
        assert!(Arc::ptr_eq(
            &first,
            &cache.get(CaptionInputs::of_scene(&scene, None, false))
        ));
        let edited = cache.get(CaptionInputs::of_scene(&scene, None, true));
        assert!(!Arc::ptr_eq(&first, &edited) && edited.edited);
        scene.title = Some("another title".into());
        assert_eq!(
            cache
                .get(CaptionInputs::of_scene(&scene, None, true))
                .title
                .as_deref(),
            Some("another title")
        );
    }
}
