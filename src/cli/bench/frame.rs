//! Benchmarks of the app's frame time (issue 6): launches `diffscope --frame-stats` as a child process
//! under the current display (or under its own `xvfb-run` when DISPLAY is unset) and reports the median
//! over several launches, as ratios to the empty frame, since the targets are relative to it. The sprite
//! figures come in two rows: a still view (its sprite layer is drawn once and composited each frame) and
//! a view whose camera moves every frame (the sprites are drawn every frame, as while dragging). The
//! orbit rows compare the point renderers (`--renderer sprites|splat|cpu-splat`, issue #18) at 100k,
//! 1M and 10M points; the play rows step the time bar every frame (every point moves).
//! Only starts processes and parses their report lines; the measuring is done by the app itself.

use super::{Bench, Figure};
use crate::app::CameraMotion;
use crate::render::RendererChoice;
use clap::ValueEnum;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Frames measured per launch (after the app's warm-up frames).
const FRAMES: usize = 40;
/// Launches per figure; the median launch is reported (frames of one launch share its window and
/// its neighbours' load, so launches are the independent repeats).
const LAUNCHES: usize = 3;
/// A child that has not finished by then is killed and the figure fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(240);
/// Targets relative to the empty frame, and the absolute launch target (issue 6).
const SPRITES_TARGET: f64 = 1.3;
const DENSITY_TARGET: f64 = 1.5;
const LAUNCH_TARGET_SECONDS: f64 = 3.0;
/// Targets of the splat renderer while orbiting, relative to the empty frame (issue #18).
const SPLAT_100K_ORBIT_TARGET: f64 = 1.5;
const SPLAT_1M_ORBIT_TARGET: f64 = 2.0;
/// Time playing at 100k points (issue #18), and the 2-D density view of 10M points.
const PLAY_100K_TARGET: f64 = 1.5;
const DENSITY_10M_TARGET: f64 = 1.5;
/// The default scene's playback rate: every step drawn needs a frame within 1/20 s.
const PLAY_STEPS_PER_SECOND: f64 = 20.0;

/// A `relative` row: the cloud's frame as a ratio to the empty frame of the same run.
macro_rules! relative_bench {
    ($name:literal, $cloud:expr, $target:expr) => {
        Bench {
            name: $name,
            run: || relative($name, $cloud, $target),
        }
    };
}

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "frame_empty",
            run: frame_empty,
        },
        relative_bench!(
            "frame_sprites_100k",
            Cloud::still(100_000),
            Some(SPRITES_TARGET)
        ),
        relative_bench!(
            "frame_sprites_100k_pan",
            Cloud::moving(100_000, CameraMotion::Pan),
            None
        ),
        relative_bench!(
            "frame_sprites_100k_orbit",
            Cloud::moving(100_000, CameraMotion::Orbit),
            None
        ),
        relative_bench!(
            "frame_sprites_1m_orbit",
            Cloud::moving(1_000_000, CameraMotion::Orbit),
            None
        ),
        relative_bench!(
            "frame_splat_100k_orbit",
            Cloud::moving(100_000, CameraMotion::Orbit).splat(),
            Some(SPLAT_100K_ORBIT_TARGET)
        ),
        relative_bench!(
            "frame_splat_1m_orbit",
            Cloud::moving(1_000_000, CameraMotion::Orbit).splat(),
            Some(SPLAT_1M_ORBIT_TARGET)
        ),
        relative_bench!(
            "frame_splat_10m_orbit",
            Cloud::moving(10_000_000, CameraMotion::Orbit).splat(),
            None
        ),
        relative_bench!(
            "frame_sprites_100k_play",
            Cloud::moving(100_000, CameraMotion::Play),
            None
        ),
        relative_bench!(
            "frame_splat_100k_play",
            Cloud::moving(100_000, CameraMotion::Play).splat(),
            Some(PLAY_100K_TARGET)
        ),
        relative_bench!(
            "frame_splat_1m_play",
            Cloud::moving(1_000_000, CameraMotion::Play).splat(),
            None
        ),
        relative_bench!(
            "frame_cpu_splat_100k_orbit",
            Cloud::moving(100_000, CameraMotion::Orbit).cpu_splat(),
            Some(SPLAT_100K_ORBIT_TARGET)
        ),
        relative_bench!(
            "frame_cpu_splat_1m_orbit",
            Cloud::moving(1_000_000, CameraMotion::Orbit).cpu_splat(),
            Some(SPLAT_1M_ORBIT_TARGET)
        ),
        relative_bench!(
            "frame_cpu_splat_10m_orbit",
            Cloud::moving(10_000_000, CameraMotion::Orbit).cpu_splat(),
            None
        ),
        relative_bench!(
            "frame_cpu_splat_100k_play",
            Cloud::moving(100_000, CameraMotion::Play).cpu_splat(),
            Some(PLAY_100K_TARGET)
        ),
        relative_bench!(
            "frame_cpu_splat_1m_play",
            Cloud::moving(1_000_000, CameraMotion::Play).cpu_splat(),
            None
        ),
        relative_bench!(
            "frame_density_10m",
            Cloud::still(10_000_000),
            Some(DENSITY_10M_TARGET)
        ),
        relative_bench!(
            "frame_density_1m",
            Cloud::still(1_000_000),
            Some(DENSITY_TARGET)
        ),
        Bench {
            name: "frame_while_jobs",
            run: frame_while_jobs,
        },
        Bench {
            name: "frame_scene_play",
            run: frame_scene_play,
        },
        Bench {
            name: "frame_launch_to_scene",
            run: launch_to_scene,
        },
    ]
}

/// A synthetic cloud to measure: how many points, how the camera moves every frame (if it does), and
/// which renderer draws them (sprites unless a row says otherwise, so that the `sprites` rows measure
/// sprites whatever `auto` would choose on the machine).
#[derive(Clone, Copy, Debug)]
struct Cloud {
    points: usize,
    motion: Option<CameraMotion>,
    renderer: RendererChoice,
}

impl Cloud {
    fn still(points: usize) -> Self {
        Cloud {
            points,
            motion: None,
            renderer: RendererChoice::Sprites,
        }
    }

    fn moving(points: usize, motion: CameraMotion) -> Self {
        Cloud {
            motion: Some(motion),
            ..Cloud::still(points)
        }
    }

    fn splat(self) -> Self {
        Cloud {
            renderer: RendererChoice::Splat,
            ..self
        }
    }

    fn cpu_splat(self) -> Self {
        Cloud {
            renderer: RendererChoice::CpuSplat,
            ..self
        }
    }
}

/// What a launch measures.
#[derive(Clone, Copy, Debug)]
enum Measured {
    Cloud(Cloud),
    /// The default scene while its jobs run.
    SceneJobs,
    /// The default scene's time bar playing once its jobs are done (`--camera-motion play`).
    ScenePlay,
}

/// What one `--frame-stats` launch printed.
#[derive(Clone, Debug, Default)]
struct Report {
    median_ms: f64,
    /// "sprites" or "density layer" for a synthetic cloud.
    drawn_as: Option<String>,
    launch_seconds: Option<f64>,
    /// Medians of the first and second half of the measured frames (while jobs run).
    halves_ms: Option<(f64, f64)>,
    /// Steps per second the time bar advanced, and the share of its steps a frame drew (playback).
    playback: Option<(f64, f64)>,
}

/// Runs the app once: `--frame-stats FRAMES`, with `--points n` (and `--camera-motion`) for a synthetic
/// cloud, else on the default scene (while its jobs run, or playing its time bar).
fn launch(measured: Measured) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let mut args: Vec<String> = vec!["--frame-stats".into(), FRAMES.to_string()];
    let name_of = |value: Option<clap::builder::PossibleValue>| {
        value.map(|v| v.get_name().to_string()).unwrap_or_default()
    };
    if let Measured::ScenePlay = measured {
        args.extend([
            "--camera-motion".into(),
            name_of(CameraMotion::Play.to_possible_value()),
        ]);
    }
    if let Measured::Cloud(cloud) = measured {
        args.extend(["--points".into(), cloud.points.to_string()]);
        if let Some(motion) = cloud.motion {
            args.extend([
                "--camera-motion".into(),
                name_of(motion.to_possible_value()),
            ]);
        }
        args.extend([
            "--renderer".into(),
            name_of(cloud.renderer.to_possible_value()),
        ]);
    }
    let mut command = if std::env::var_os("DISPLAY").is_some() {
        let mut c = Command::new(&exe);
        c.args(&args);
        c
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1024x768x24"])
            .arg(&exe)
            .args(&args);
        c
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("could not start {}: {e}", exe.display()))?;
    // Drained on their own threads so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                // A pipe that fails mid-way leaves what was read; the parse below reports the gap.
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            child.kill()?;
            child.wait()?;
            anyhow::bail!("frame-stats run timed out after {CHILD_TIMEOUT:?}: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "frame-stats run {args:?} failed ({status}): {}",
        stderr.lines().last().unwrap_or("no output")
    );
    parse(&stdout).ok_or_else(|| {
        anyhow::anyhow!("frame-stats run {args:?} printed no frame time: {stdout:?}")
    })
}

/// Reads the app's report lines (see `app::drive_frame_stats`).
fn parse(stdout: &str) -> Option<Report> {
    let number_after = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?
            .parse()
            .ok()
    };
    let mut report = None;
    let mut launch = None;
    let mut halves = None;
    let mut playback = None;
    for line in stdout.lines() {
        if line.starts_with("playback:") {
            let steps = number_after(line, "playback:");
            let rate = number_after(line, "(");
            let drawn = number_after(line, "),");
            playback = rate.zip(steps.zip(drawn).map(|(s, d)| d / s.max(1.0)));
        } else if line.starts_with("frame time halves") {
            halves = number_after(line, "first half median")
                .zip(number_after(line, "second half median"));
        } else if line.starts_with("frame time") {
            let drawn_as = line
                .find("drawn (")
                .and_then(|at| line[at + 7..].split(')').next())
                .map(str::to_string);
            report = Some(Report {
                median_ms: number_after(line, "median")?,
                drawn_as,
                ..Report::default()
            });
        } else if line.starts_with("launch to first drawn scene") {
            launch = number_after(line, ":");
        }
    }
    report.map(|r| Report {
        launch_seconds: launch,
        halves_ms: halves,
        playback,
        ..r
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over `LAUNCHES` launches of the per-launch median frame time.
fn median_launch(measured: Measured) -> anyhow::Result<(f64, Vec<Report>)> {
    let reports = (0..LAUNCHES)
        .map(|_| launch(measured))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((
        median(reports.iter().map(|r| r.median_ms).collect()),
        reports,
    ))
}

fn display_note() -> String {
    match std::env::var("DISPLAY") {
        Ok(display) => format!("display {display}"),
        Err(_) => "own xvfb-run 1024x768x24".into(),
    }
}

/// The empty frame (the manifold view with 0 points), measured once per `bench` run.
fn empty_frame_ms() -> anyhow::Result<f64> {
    static EMPTY: OnceLock<f64> = OnceLock::new();
    if let Some(&ms) = EMPTY.get() {
        return Ok(ms);
    }
    let (ms, _) = median_launch(Measured::Cloud(Cloud::still(0)))?;
    Ok(*EMPTY.get_or_init(|| ms))
}

fn frame_empty() -> anyhow::Result<Figure> {
    let ms = empty_frame_ms()?;
    Ok(Figure {
        name: "frame_empty",
        inputs: format!(
            "app window 1024x768, manifold view with 0 points, median of {LAUNCHES} launches x \
             {FRAMES} frames, {}",
            display_note()
        ),
        seconds: ms / 1e3,
        target_seconds: None,
    })
}

/// A synthetic cloud, as a ratio to the empty frame (judged against `target` × the empty frame when
/// given).
fn relative(name: &'static str, cloud: Cloud, target: Option<f64>) -> anyhow::Result<Figure> {
    let empty = empty_frame_ms()?;
    let (ms, reports) = median_launch(Measured::Cloud(cloud))?;
    let drawn_as = reports
        .first()
        .and_then(|r| r.drawn_as.clone())
        .unwrap_or_else(|| "?".into());
    let camera = match cloud.motion {
        None => "still camera",
        Some(CameraMotion::Pan) => "2-D camera panning every frame (layer reprojected)",
        Some(CameraMotion::Orbit) => "3-D camera orbiting every frame (all points drawn)",
        Some(CameraMotion::Play) => {
            "3-D view, time playing one stored step per frame (all points uploaded and drawn)"
        }
    };
    let judged = target
        .map(|t| format!("; target <= {t}x"))
        .unwrap_or_default();
    Ok(Figure {
        name,
        inputs: format!(
            "{} points drawn as {drawn_as}, {camera}: {:.2}x the empty frame ({empty:.1} ms{judged}), \
             median of {LAUNCHES} launches x {FRAMES} frames, {}",
            cloud.points,
            ms / empty,
            display_note()
        ),
        seconds: ms / 1e3,
        target_seconds: target.map(|t| t * empty / 1e3),
    })
}

/// The default scene's launches (sampling, speciation and reference jobs running), measured once.
fn default_scene_launches() -> anyhow::Result<&'static [Report]> {
    static REPORTS: OnceLock<Vec<Report>> = OnceLock::new();
    if let Some(reports) = REPORTS.get() {
        return Ok(reports);
    }
    let (_, reports) = median_launch(Measured::SceneJobs)?;
    Ok(REPORTS.get_or_init(|| reports))
}

fn frame_while_jobs() -> anyhow::Result<Figure> {
    let empty = empty_frame_ms()?;
    let reports = default_scene_launches()?;
    let ms = median(reports.iter().map(|r| r.median_ms).collect());
    let halves: Vec<(f64, f64)> = reports.iter().filter_map(|r| r.halves_ms).collect();
    let first = median(halves.iter().map(|h| h.0).collect());
    let second = median(halves.iter().map(|h| h.1).collect());
    Ok(Figure {
        name: "frame_while_jobs",
        inputs: format!(
            "default scene while its jobs run: {:.2}x the empty frame; first half of the run \
             {first:.1} ms, second half {second:.1} ms (growth {:+.0}%), median of {LAUNCHES} \
             launches, {}",
            ms / empty,
            100.0 * (second / first - 1.0),
            display_note()
        ),
        seconds: ms / 1e3,
        target_seconds: None,
    })
}

/// The default scene's time bar playing at its 20 steps/s with trails (issue #18): the frame time,
/// judged against the 50 ms that draws every step, with the rate the bar kept and the share of steps
/// drawn.
fn frame_scene_play() -> anyhow::Result<Figure> {
    let empty = empty_frame_ms()?;
    let (ms, reports) = median_launch(Measured::ScenePlay)?;
    let played: Vec<(f64, f64)> = reports.iter().filter_map(|r| r.playback).collect();
    let rate = median(played.iter().map(|p| p.0).collect());
    let drawn = median(played.iter().map(|p| p.1).collect());
    Ok(Figure {
        name: "frame_scene_play",
        inputs: format!(
            "default scene (2,000 trajectories) playing at 20 steps/s with trails of 8 steps once \
             its jobs are done: {:.2}x the empty frame, the bar kept {rate:.1} steps/s and a frame \
             drew {:.0}% of its steps; median of {LAUNCHES} launches, {}",
            ms / empty,
            100.0 * drawn,
            display_note()
        ),
        seconds: ms / 1e3,
        target_seconds: Some(1.0 / PLAY_STEPS_PER_SECOND),
    })
}

fn launch_to_scene() -> anyhow::Result<Figure> {
    let reports = default_scene_launches()?;
    let seconds = median(reports.iter().filter_map(|r| r.launch_seconds).collect());
    anyhow::ensure!(
        seconds.is_finite(),
        "no launch reported the first drawn scene"
    );
    Ok(Figure {
        name: "frame_launch_to_scene",
        inputs: format!(
            "default scene, from eframe start to the first frame drawing the sampled cloud, \
             median of {LAUNCHES} launches, {}",
            display_note()
        ),
        seconds,
        target_seconds: Some(LAUNCH_TARGET_SECONDS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_report_lines_the_app_prints() {
        let out = "frame time 100000 points, drawn (sprites): 40 frames, mean 61.0 ms, median \
                   58.5 ms, p95 70.2 ms\nframe time halves: first half median 57.0 ms, second \
                   half median 59.5 ms\nlaunch to first drawn scene: 1.25 s\n";
        let report = parse(out).expect("a report");
        assert_eq!(report.median_ms, 58.5);
        assert_eq!(report.drawn_as.as_deref(), Some("sprites"));
        assert_eq!(report.halves_ms, Some((57.0, 59.5)));
        assert_eq!(report.launch_seconds, Some(1.25));
        let play = "frame time while the scene plays at 20 steps/s with trails of 8 steps: 46 \
                    frames, mean 91.8 ms, median 91.7 ms, p95 109.7 ms\nplayback: 80 steps in \
                    4.22 s (19.0 steps/s), 40 of them drawn\n";
        assert_eq!(parse(play).and_then(|r| r.playback), Some((19.0, 0.5)));
        assert!(parse("nothing here").is_none());
    }
}
