//! Session files: the whole state of the app (scene, view settings, camera, selection, and the token
//! scene on display with its token view) as versioned JSON, strict like scene files (unknown keys, wrong
//! types, out-of-range values and other versions are errors naming the key path and the file). Plain
//! data and file I/O only: the app maps it to its views.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::io::IoError;
use crate::io::atomic::write_bytes_atomic;
use crate::scene::{Scene, SceneError, SceneFile, TokenScene};

/// The top-level key that marks a session file; its value is the format version.
pub const SESSION_KEY: &str = "diffscope_session";

/// The session format this build writes and the newest it reads.
pub const SESSION_VERSION: u64 = 1;

/// Session files larger than this are refused before reading (a session holds a scene and a few view
/// settings: even a full 1024-d covariance is about 20 MB of JSON).
pub const MAX_SESSION_BYTES: u64 = 64 << 20;

/// Why a session could not be read or written.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("cannot read session file: {source} ({file})")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "session file is {bytes} bytes, more than the {MAX_SESSION_BYTES} a session can hold ({file})"
    )]
    TooLarge { file: PathBuf, bytes: u64 },
    #[error("invalid JSON at line {line}, column {column}: {message} ({file})")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("not a diffscope session: {reason} ({file})")]
    NotASession { file: PathBuf, reason: String },
    #[error(
        "session made by a newer diffscope (format version {found}; this one reads versions up to {SESSION_VERSION}) ({file})"
    )]
    Newer { file: PathBuf, found: u64 },
    /// `key` is the path of the offending value, e.g. `view.manifold.camera.half_height`.
    #[error("{key}: {message} ({file})")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot write the session: {0}")]
    Write(#[from] IoError),
    #[error("cannot write the session as JSON: {0}")]
    Encode(String),
}

/// Everything needed to show the same picture again: the scene (self-contained) and the view state.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub scene: Scene,
    pub view: ViewState,
    /// The token scene shown instead of `scene`, when one was open (`scene` is then what the panel
    /// edits once it is closed). Sessions written before token scenes had none.
    pub tokens: Option<TokenSession>,
}

/// A token scene (mask or flip noise) on display and its token view; the step shown is the time
/// bar's, `view.timeline.step`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSession {
    pub scene: TokenScene,
    /// The selected sequence of the token view (the last one shown when the run has fewer).
    pub selected: usize,
}

/// The view settings the user controls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewState {
    /// The panel shown on the right of the manifold view.
    pub right_tab: RightTab,
    pub manifold: ManifoldState,
    pub timeline: TimelineState,
    /// The speciation hierarchy level shown (0 = the headline level).
    pub speciation_level: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RightTab {
    Inspector,
    #[default]
    Speciation,
    Metrics,
    Theory,
}

/// The manifold view: projection, colouring, drawing and camera.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifoldState {
    pub dimensions: Dimensions,
    /// Project on each step's own PCA basis or on one basis fitted to all steps pooled.
    pub basis: Basis,
    pub color_by: ColorBy,
    pub colormap: Colormap,
    pub show_path: bool,
    pub trail_steps: usize,
    pub radius_px: f32,
    pub draw_mode: DrawMode,
    pub show_holes: bool,
    pub camera: Camera,
    /// The selected trajectory (ignored when the sampled cloud has fewer).
    pub selected: Option<usize>,
}

impl Default for ManifoldState {
    fn default() -> Self {
        ManifoldState {
            dimensions: Dimensions::Two,
            basis: Basis::PerStep,
            color_by: ColorBy::Class,
            colormap: Colormap::Viridis,
            show_path: false,
            trail_steps: 0,
            radius_px: 2.5,
            draw_mode: DrawMode::Auto,
            show_holes: true,
            camera: Camera::default(),
            selected: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimensions {
    #[serde(rename = "2d")]
    Two,
    #[serde(rename = "3d")]
    Three,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    PerStep,
    Pooled,
}

/// `"class"`, `"time"` or `{"posterior": k}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorBy {
    Class,
    Time,
    Posterior(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colormap {
    Viridis,
    Magma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawMode {
    Auto,
    Points,
    Density,
}

/// Both cameras of the manifold view; with `follow` the view refits them to each step and the stored
/// positions are only where a refit starts from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    pub follow: bool,
    /// 2-D: the data point at the middle of the view and the data distance from it to the top edge.
    pub center: [f32; 2],
    pub half_height: f32,
    /// 3-D orbit: target point, yaw and pitch in radians, distance from the target.
    pub target: [f32; 3],
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
}

impl Default for Camera {
    fn default() -> Self {
        Camera {
            follow: true,
            center: [0.0; 2],
            half_height: 1.0,
            target: [0.0; 3],
            yaw: 0.6,
            pitch: 0.35,
            distance: 3.0,
        }
    }
}

/// The time bar. Playback always starts paused.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineState {
    /// The stored step shown (clamped to the cloud's steps); `None`: the last step.
    pub step: Option<usize>,
    pub steps_per_second: f32,
}

impl Default for TimelineState {
    fn default() -> Self {
        TimelineState {
            step: None,
            steps_per_second: 20.0,
        }
    }
}

/// The session as written: the version key first.
#[derive(Serialize)]
struct SessionOut<'a> {
    diffscope_session: u64,
    scene: &'a Scene,
    view: &'a ViewState,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens: Option<TokensOut<'a>>,
}

#[derive(Serialize)]
struct TokensOut<'a> {
    scene: &'a TokenScene,
    selected: usize,
}

/// The session as read; the scenes stay raw so the scene reader checks them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    #[serde(rename = "diffscope_session")]
    _version: u64,
    scene: serde_json::Value,
    view: ViewState,
    #[serde(default)]
    tokens: Option<RawTokens>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    scene: serde_json::Value,
    selected: usize,
}

// Ranges of the view values. Generous: they only keep non-numbers and absurd values out.
const MAX_RADIUS_PX: f32 = 64.0;
const MAX_TRAIL_STEPS: usize = 100_000;
const MAX_ABS_COORDINATE: f32 = 1e30;
const MAX_PITCH: f32 = 1.5;
const MAX_STEPS_PER_SECOND: f32 = 1000.0;

impl Session {
    /// Reads and checks a session file; relative learned-model paths are taken from its folder.
    pub fn load(path: &Path) -> Result<Session, SessionError> {
        let read_error = |source| SessionError::Read {
            file: path.to_path_buf(),
            source,
        };
        let bytes = std::fs::metadata(path).map_err(read_error)?.len();
        if bytes > MAX_SESSION_BYTES {
            return Err(SessionError::TooLarge {
                file: path.to_path_buf(),
                bytes,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let mut session = Session::from_json_str(&text, path)?;
        session.absolutize_models(path.parent());
        Ok(session)
    }

    /// Parses and checks session JSON; `origin` names the file in errors.
    pub fn from_json_str(text: &str, origin: &Path) -> Result<Session, SessionError> {
        let file = || origin.to_path_buf();
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SessionError::Syntax {
                file: file(),
                line: e.line(),
                column: e.column(),
                message: e.to_string().split(" at line ").next().unwrap_or("").into(),
            })?;
        check_version(&value, origin)?;
        let raw: RawSession = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            SessionError::Invalid {
                file: file(),
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                message: e.inner().to_string(),
            }
        })?;
        let scene = Scene::from_json_str(&raw.scene.to_string(), origin)
            .map_err(|e| scene_error(e, origin, "scene"))?;
        let tokens = raw
            .tokens
            .map(|t| token_scene(&t.scene, origin).map(|scene| (scene, t.selected)))
            .transpose()?
            .map(|(scene, selected)| TokenSession { scene, selected });
        let session = Session {
            scene,
            view: raw.view,
            tokens,
        };
        session.validate(origin)?;
        Ok(session)
    }

    /// Checks the view values (the scene is checked by `Scene::validate`).
    pub fn validate(&self, origin: &Path) -> Result<(), SessionError> {
        self.scene
            .validate(origin)
            .map_err(|e| scene_error(e, origin, "scene"))?;
        if let Some(tokens) = &self.tokens {
            tokens
                .scene
                .validate(origin)
                .map_err(|e| scene_error(e, origin, TOKEN_SCENE_KEY))?;
        }
        let fail = |key: &str, message: String| {
            Err(SessionError::Invalid {
                file: origin.to_path_buf(),
                key: key.into(),
                message,
            })
        };
        let m = &self.view.manifold;
        if !(m.radius_px > 0.0 && m.radius_px <= MAX_RADIUS_PX) {
            return fail(
                "view.manifold.radius_px",
                format!(
                    "point radius must be in (0, {MAX_RADIUS_PX}] pixels, got {}",
                    m.radius_px
                ),
            );
        }
        if m.trail_steps > MAX_TRAIL_STEPS {
            return fail(
                "view.manifold.trail_steps",
                format!(
                    "trail steps must be at most {MAX_TRAIL_STEPS}, got {}",
                    m.trail_steps
                ),
            );
        }
        let c = &m.camera;
        let mut coordinates = c.center.iter().chain(&c.target).chain([&c.yaw]);
        if !coordinates.all(|v| v.is_finite() && v.abs() <= MAX_ABS_COORDINATE) {
            return fail(
                "view.manifold.camera",
                format!(
                    "center, target and yaw must be finite and at most {MAX_ABS_COORDINATE:e} in size"
                ),
            );
        }
        for (key, value) in [("half_height", c.half_height), ("distance", c.distance)] {
            if !(value > 0.0 && value <= MAX_ABS_COORDINATE) {
                return fail(
                    &format!("view.manifold.camera.{key}"),
                    format!("{key} must be in (0, {MAX_ABS_COORDINATE:e}], got {value}"),
                );
            }
        }
        if !(c.pitch.is_finite() && c.pitch.abs() <= MAX_PITCH) {
            return fail(
                "view.manifold.camera.pitch",
                format!(
                    "pitch must be in [-{MAX_PITCH}, {MAX_PITCH}] radians, got {}",
                    c.pitch
                ),
            );
        }
        let speed = self.view.timeline.steps_per_second;
        if !(speed > 0.0 && speed <= MAX_STEPS_PER_SECOND) {
            return fail(
                "view.timeline.steps_per_second",
                format!("playback speed must be in (0, {MAX_STEPS_PER_SECOND}], got {speed}"),
            );
        }
        Ok(())
    }

    /// Pretty JSON; `from_json_str` of it gives back an equal session.
    pub fn to_json_pretty(&self) -> Result<String, SessionError> {
        let out = SessionOut {
            diffscope_session: SESSION_VERSION,
            scene: &self.scene,
            view: &self.view,
            tokens: self.tokens.as_ref().map(|t| TokensOut {
                scene: &t.scene,
                selected: t.selected,
            }),
        };
        serde_json::to_string_pretty(&out).map_err(|e| SessionError::Encode(e.to_string()))
    }

    /// Writes the session atomically: a failed write leaves the previous file as it was.
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        let mut text = self.to_json_pretty()?;
        text.push('\n');
        write_bytes_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// Makes relative model paths absolute (`Scene::resolve_model_files`), so the session opens from
    /// anywhere.
    pub fn absolutize_models(&mut self, base: Option<&Path>) {
        self.scene.resolve_model_files(base);
        if let Some(tokens) = &mut self.tokens {
            tokens.scene.resolve_model_files(base);
        }
    }
}

/// Whether `text` is meant as a session: a JSON object with the session key, or text that is not JSON
/// but names the key (a damaged session, whose error should say so).
pub fn is_session_json(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value
            .as_object()
            .is_some_and(|o| o.contains_key(SESSION_KEY)),
        Err(_) => text.contains(&format!("\"{SESSION_KEY}\"")),
    }
}

/// Whether the file at `path` is meant as a session (see [`is_session_json`]); unreadable: no.
pub fn is_session_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_SESSION_BYTES)
        && std::fs::read_to_string(path).is_ok_and(|text| is_session_json(&text))
}

/// Where a session holds its token scene.
const TOKEN_SCENE_KEY: &str = "tokens.scene";

/// The token scene of a session's `tokens` part: a scene file with mask or flip noise.
fn token_scene(value: &serde_json::Value, origin: &Path) -> Result<TokenScene, SessionError> {
    match SceneFile::from_json_str(&value.to_string(), origin) {
        Ok(SceneFile::Tokens(scene)) => Ok(scene),
        Ok(SceneFile::Diffusion(_)) => Err(SessionError::Invalid {
            file: origin.to_path_buf(),
            key: format!("{TOKEN_SCENE_KEY}.noise.kind"),
            message: "a token scene needs \"mask\" or \"flip\" noise".into(),
        }),
        Err(e) => Err(scene_error(e, origin, TOKEN_SCENE_KEY)),
    }
}

/// A scene error as an error of the session holding the scene at `at`: key paths start there.
fn scene_error(error: SceneError, origin: &Path, at: &str) -> SessionError {
    let (key, message) = match error {
        SceneError::Invalid { key, message, .. } if key == "(top level)" => (at.into(), message),
        SceneError::Invalid { key, message, .. } => (format!("{at}.{key}"), message),
        other => (at.into(), other.to_string()),
    };
    SessionError::Invalid {
        file: origin.to_path_buf(),
        key,
        message,
    }
}

/// Refuses, with the reason, JSON that is not a session of a version this build reads.
fn check_version(value: &serde_json::Value, origin: &Path) -> Result<(), SessionError> {
    let not_a_session = |reason: &str| SessionError::NotASession {
        file: origin.to_path_buf(),
        reason: reason.into(),
    };
    let Some(object) = value.as_object() else {
        return Err(not_a_session("the file is not a JSON object"));
    };
    let Some(version) = object.get(SESSION_KEY) else {
        return Err(not_a_session(if object.contains_key("model") {
            "this is a scene file (open it as a scene)"
        } else {
            "no \"diffscope_session\" key"
        }));
    };
    match version.as_u64() {
        Some(SESSION_VERSION) => Ok(()),
        Some(found) if found > SESSION_VERSION => Err(SessionError::Newer {
            file: origin.to_path_buf(),
            found,
        }),
        _ => Err(SessionError::Invalid {
            file: origin.to_path_buf(),
            key: SESSION_KEY.into(),
            message: format!(
                "unsupported format version {version} (this diffscope reads versions 1 to {SESSION_VERSION})"
            ),
        }),
    }
}

/// Where the app keeps the session of its last run: `$XDG_STATE_HOME/diffscope/last-session.json`, else
/// `$HOME/.local/state/diffscope/last-session.json`; `None` when neither variable is set.
pub fn autosave_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local/state"))
        })?;
    Some(state.join("diffscope").join("last-session.json"))
}

/// Saves `session` as the autosave at `path`, making its folder first.
pub fn save_autosave(session: &Session, path: &Path) -> Result<(), SessionError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|source| {
            SessionError::Write(IoError::Write {
                path: folder.to_path_buf(),
                source,
            })
        })?;
    }
    session.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            scene: Scene::default_scene(),
            view: ViewState::default(),
            tokens: None,
        }
    }

    #[test]
    fn json_round_trip_is_exact() {
        let mut s = session();
        s.view.manifold.color_by = ColorBy::Posterior(1);
        s.view.manifold.camera.half_height = 0.1 + 0.2;
        s.view.timeline.step = Some(7);
        let json = s.to_json_pretty().unwrap();
        assert!(json.starts_with("{\n  \"diffscope_session\": 1,"), "{json}");
        let back = Session::from_json_str(&json, Path::new("s.json")).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn scene_errors_name_the_key_inside_the_session() {
        let json = session().to_json_pretty().unwrap().replacen(
            "\"trajectories\": ",
            "\"trajectories\": 0, \"x\": ",
            1,
        );
        let e = Session::from_json_str(&json, Path::new("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("scene.") && e.ends_with("(s.json)"), "{e}");
    }

    #[test]
    fn relative_learned_paths_become_absolute() {
        let mut s = session();
        s.scene.model = crate::scene::ModelSpec::Learned(crate::scene::LearnedSpec {
            path: "assets/models/dit-dyck2.safetensors".into(),
            reference: None,
        });
        s.absolutize_models(None);
        let crate::scene::ModelSpec::Learned(spec) = &s.scene.model else {
            unreachable!()
        };
        assert!(spec.path.is_absolute() && spec.path.exists(), "{spec:?}");
    }
}
