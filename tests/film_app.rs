//! Export… → Animation (issue 17): the app records the results on display with the recording loop of
//! `diffscope record`, as a worker job. The Export… menu offers it (format chosen there); on the small
//! scene a 1.5 s GIF at 6 fps decodes to 9 frames of
//! the asked size with 1/6 s delays and the status line names it; a PNG exported while a film records
//! leaves the recording running; a recording cancelled from the jobs strip mid-film leaves no file (no
//! film, no temporary) and no error.

mod app_support;

use app_support::{harness, settle, small_scene, step_until};
use diffscope::app::offscreen::FilmLayout;
use diffscope::app::recording::FilmSettings;
use egui_kittest::kittest::Queryable;
use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

/// The frame count, size and delays (1/100 s) of a GIF.
fn gif_frames(path: &Path) -> (usize, (u16, u16), Vec<u16>) {
    let bytes = std::fs::read(path).unwrap();
    let mut decoder = gif::DecodeOptions::new()
        .read_info(Cursor::new(bytes))
        .unwrap();
    let size = (decoder.width(), decoder.height());
    let mut delays = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        delays.push(frame.delay);
    }
    (delays.len(), size, delays)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_app_records_a_gif_as_a_job_and_a_cancelled_recording_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    // The Export… menu offers the recording with its settings.
    h.get_by_label("Export…").click();
    h.run_steps(2);
    h.get_by_label("Animation");
    h.get_by_label("GIF").click();
    h.run_steps(2);
    h.get_by_label("Record animation");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    let settings = FilmSettings {
        layout: FilmLayout::SideBySide,
        fps: 6,
        seconds: 1.5,
        width: 240,
        height: 136,
        orbit: true,
    };
    let film = dir.path().join("film.gif");
    h.state_mut().record_film(settings, film.clone());
    step_until(&mut h, "the recording", |app| app.jobs.idle());
    assert!(
        h.state().jobs.errors().is_empty(),
        "{:?}",
        h.state().jobs.errors()
    );
    h.get_by_label(&format!(
        "Idle: all results are up to date. wrote {}.",
        film.display()
    ));
    let (frames, size, delays) = gif_frames(&film);
    assert_eq!(frames, 9, "fps × seconds = 6 × 1.5");
    assert_eq!(size, (240, 136));
    // 1/6 s in hundredths: 17, 16, 17, … adding up to 150.
    assert_eq!(delays.iter().map(|&d| u32::from(d)).sum::<u32>(), 150);

    // A long film, cancelled from the jobs strip once frames are being drawn.
    let long = dir.path().join("long.gif");
    let settings = FilmSettings {
        seconds: 100.0,
        ..settings
    };
    h.state_mut().record_film(settings, long.clone());
    step_until(&mut h, "the first frames", |app| {
        app.jobs
            .rows()
            .iter()
            .any(|row| row.stage.starts_with("frame ") && row.fraction > 0.0)
    });
    // A PNG exported meanwhile runs beside the film instead of cancelling it.
    let png_dir = tempfile::tempdir().unwrap();
    h.state_mut().views.export_menu.folder = png_dir.path().display().to_string();
    h.get_by_label("Export…").click();
    h.run_steps(2);
    h.get_all_by_label("PNG").next().unwrap().click();
    h.run_steps(2);
    step_until(&mut h, "the PNG export", |app| {
        !app.jobs.rows().iter().any(|row| row.name == "PNG export")
    });
    assert_eq!(names(png_dir.path()).len(), 1, "one PNG written");
    assert!(
        h.state()
            .jobs
            .rows()
            .iter()
            .any(|row| row.name == "recording"),
        "the film still records: {:?}",
        h.state().jobs.rows()
    );
    h.get_by_label("Cancel recording").click();
    h.run_steps(2);
    assert!(h.state().jobs.idle());
    // The worker notices the cancel before its next frame and removes its temporary.
    let started = Instant::now();
    while names(dir.path()) != ["film.gif", "small.json"] {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "left behind: {:?}",
            names(dir.path())
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    assert!(!long.exists());
    assert!(
        h.state().jobs.errors().is_empty(),
        "{:?}",
        h.state().jobs.errors()
    );
}
