//! What the views ask the app to do. A view draws from the app's state and pushes commands;
//! `DiffscopeApp::run_commands` carries them out after the frame is drawn, in the order asked, so no
//! view changes state another view is still drawing from.

use super::export;

/// One request of a view.
pub enum Command {
    /// Open the built-in preset with this index.
    OpenPreset(usize),
    /// Ask for a scene or session file (a file dialog, or say how to open one without it).
    PickScene,
    /// Ask for a data file: recorded trajectories or a point cloud.
    PickData,
    /// Ask for a session file to open.
    PickSession,
    /// Ask where to save the session.
    SaveSession,
    /// Sample the scene and run its lab again (also: leave an imported file for the scene).
    Rerun,
    /// Check the token scene edited in the panel; when valid, show it and run it and its lab.
    ApplyTokenDraft,
    StartTeachingTour,
    /// Move the tour by this many stops.
    TourStep(isize),
    EndTour,
    EnterPresentation,
    /// Measure the shipped DiT and Euler-Stack for the metric table.
    MeasureModels,
    Export(export::Request),
}
