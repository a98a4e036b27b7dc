//! `diffscope record` (issue 17): films of the time running. The MP4 is read back with the `mp4` crate
//! and decoded with OpenH264 to the frame count asked for, lasts frames / fps in the file, and each
//! decoded frame is within 35 dB PSNR of the offscreen frame of the same step drawn here in-process; the
//! GIF decodes to the frame count and delays asked for and its points move; the same command twice gives
//! byte-identical GIFs; bad arguments and Ctrl-C give one error line and leave no file.

mod app_support;

use diffscope::app::offscreen::{FilmLayout, FrameSize};
use diffscope::app::recording::{draw_frame, frame_step};
use diffscope::cli::record::open;
use diffscope::io::film::gif_delays;
use std::io::{BufRead, BufReader, Cursor};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 192;
const FPS: u32 = 12;
/// One second at 12 fps.
const FRAMES: usize = 12;

fn diffscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

/// `record SCENE --view VIEW --out OUT` at the test's size, rate and length.
fn record(scene: &Path, view: &str, out: &Path) -> Output {
    let (w, h, fps) = (WIDTH.to_string(), HEIGHT.to_string(), FPS.to_string());
    let seconds = (FRAMES as f64 / f64::from(FPS)).to_string();
    let args = [
        "record",
        scene.to_str().unwrap(),
        "--view",
        view,
        "--out",
        out.to_str().unwrap(),
        "--width",
        &w,
        "--height",
        &h,
        "--fps",
        &fps,
        "--seconds",
        &seconds,
    ];
    let output = diffscope(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The files in `dir` other than the scene.
fn written(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "small.json")
        .collect();
    names.sort();
    names
}

/// PSNR over the R, G and B channels of two RGBA images of one size.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut sum, mut n) = (0.0, 0usize);
    for (p, q) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..3 {
            let d = f64::from(p[c]) - f64::from(q[c]);
            sum += d * d;
            n += 1;
        }
    }
    let mse = sum / n as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// The frames of an H.264 MP4 as RGBA, decoded by OpenH264 from the samples the `mp4` crate reads
/// (length-prefixed NAL units turned back into an Annex B stream, parameter sets from the avcC box);
/// also the movie's and the track's durations in seconds.
fn decode_mp4(bytes: &[u8]) -> (Vec<Vec<u8>>, f64, f64) {
    let mut reader = mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64).unwrap();
    let movie = reader.moov.mvhd.duration as f64 / f64::from(reader.moov.mvhd.timescale);
    assert_eq!(reader.tracks().len(), 1);
    let track = reader.tracks().values().next().unwrap();
    assert_eq!(track.media_type().unwrap(), mp4::MediaType::H264);
    assert_eq!(
        (track.width(), track.height()),
        (WIDTH as u16, HEIGHT as u16)
    );
    let mdhd = &track.trak.mdia.mdhd;
    let track_seconds = mdhd.duration as f64 / f64::from(mdhd.timescale);
    let (id, count) = (track.track_id(), track.sample_count());
    let start = |nal: &[u8]| [&[0, 0, 0, 1][..], nal].concat();
    let mut stream = start(track.sequence_parameter_set().unwrap());
    stream.extend(start(track.picture_parameter_set().unwrap()));
    let mut decoder = openh264::decoder::Decoder::new().unwrap();
    let mut frames = Vec::new();
    let mut rgba = vec![0u8; (WIDTH * HEIGHT * 4) as usize];
    for i in 1..=count {
        let sample = reader.read_sample(id, i).unwrap().unwrap();
        let mut data = &sample.bytes[..];
        while data.len() >= 4 {
            let len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
            stream.extend(start(&data[4..4 + len]));
            data = &data[4 + len..];
        }
        assert!(data.is_empty(), "sample {i} ends inside a NAL unit");
        if let Some(image) = decoder.decode(&stream).unwrap() {
            image.write_rgba8(&mut rgba);
            frames.push(rgba.clone());
        }
        stream.clear();
    }
    for image in decoder.flush_remaining().unwrap() {
        image.write_rgba8(&mut rgba);
        frames.push(rgba.clone());
    }
    (frames, movie, track_seconds)
}

#[test]
fn the_mp4_decodes_to_the_frames_drawn_offscreen() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let out = dir.path().join("film.mp4");
    let output = record(&scene, "manifold", &out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("wrote {}", out.display())),
        "{stdout}"
    );
    // Progress every 10 %, on stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let progress: Vec<&str> = stderr.lines().filter(|l| l.contains(" %")).collect();
    assert_eq!(progress.len(), 10, "{stderr}");
    assert!(progress[9].contains("100 %"), "{stderr}");
    assert_eq!(written(dir.path()), vec!["film.mp4"]);

    let (decoded, movie_seconds, track_seconds) = decode_mp4(&std::fs::read(&out).unwrap());
    assert_eq!(decoded.len(), FRAMES);
    let length = FRAMES as f64 / f64::from(FPS);
    assert!((movie_seconds - length).abs() < 1e-9, "{movie_seconds}");
    assert!((track_seconds - length).abs() < 1e-9, "{track_seconds}");

    // The same frames drawn here: the scene's seed makes the film reproducible.
    let size = FrameSize {
        width: WIDTH,
        height: HEIGHT,
        scale: 1,
    };
    let mut harness = open(Some(&scene), None, FilmLayout::Manifold, size, &|| false).unwrap();
    let steps = harness.stored_steps();
    assert_eq!(frame_step(0, FRAMES, steps), 0);
    assert_eq!(frame_step(FRAMES - 1, FRAMES, steps), steps - 1);
    let mut worst = f64::INFINITY;
    for (k, film_frame) in decoded.iter().enumerate() {
        let drawn = draw_frame(&mut harness, k, FRAMES, false).unwrap();
        let db = psnr(drawn.as_raw(), film_frame);
        println!(
            "frame {k}: step {} PSNR {db:.1} dB",
            frame_step(k, FRAMES, steps)
        );
        worst = worst.min(db);
    }
    assert!(worst >= 35.0, "worst PSNR {worst:.1} dB");
}

/// The frames of a GIF (RGBA, composed on the canvas) and their delays.
fn decode_gif(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<u16>) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(Cursor::new(bytes)).unwrap();
    assert_eq!(
        (decoder.width(), decoder.height()),
        (WIDTH as u16, HEIGHT as u16)
    );
    let (mut frames, mut delays) = (Vec::new(), Vec::new());
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        // Every frame is a whole canvas: nothing to compose.
        assert_eq!(
            (frame.left, frame.top, frame.width, frame.height),
            (0, 0, WIDTH as u16, HEIGHT as u16)
        );
        frames.push(frame.buffer.to_vec());
        delays.push(frame.delay);
    }
    (frames, delays)
}

#[test]
fn the_gif_has_its_frames_and_delays_moves_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let (a, b) = (dir.path().join("a.gif"), dir.path().join("b.gif"));
    record(&scene, "side-by-side", &a);
    record(&scene, "side-by-side", &b);
    let bytes = std::fs::read(&a).unwrap();
    assert!(
        bytes == std::fs::read(&b).unwrap(),
        "the same command gave different GIFs"
    );
    assert_eq!(written(dir.path()), vec!["a.gif", "b.gif"]);

    let (frames, delays) = decode_gif(&bytes);
    assert_eq!(frames.len(), FRAMES);
    assert_eq!(delays, gif_delays(FPS, FRAMES));
    assert_eq!(delays.iter().map(|&d| u32::from(d)).sum::<u32>(), 100);
    // The points move: the manifold half (left, under the caption and above the time bar) changes
    // between consecutive frames, and a lot between the first and the last.
    let changed = |p: &[u8], q: &[u8]| {
        let mut n = 0;
        for y in 40..HEIGHT as usize - 70 {
            for x in 0..WIDTH as usize / 2 {
                let i = 4 * (y * WIDTH as usize + x);
                n += usize::from(p[i..i + 3] != q[i..i + 3]);
            }
        }
        n
    };
    for k in 1..FRAMES {
        let n = changed(&frames[k - 1], &frames[k]);
        assert!(n > 50, "frames {} and {k} differ in {n} pixels", k - 1);
    }
    let n = changed(&frames[0], &frames[FRAMES - 1]);
    assert!(n > 1000, "first and last frames differ in {n} pixels");
}

#[test]
fn bad_arguments_are_one_error_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let scene = scene.to_str().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--out".into(), out("film.avi")],
            "expected .gif or .mp4",
        ),
        (
            vec![
                "--out".into(),
                out("film.mp4"),
                "--width".into(),
                "321".into(),
            ],
            "even width and height",
        ),
        (
            vec!["--out".into(), out("film.gif"), "--fps".into(), "0".into()],
            "at least 1 fps",
        ),
        (
            vec![
                "--out".into(),
                out("film.gif"),
                "--seconds".into(),
                "0".into(),
            ],
            "--seconds",
        ),
        (
            vec![
                "--out".into(),
                out("film.mp4"),
                "--width".into(),
                "7680".into(),
            ],
            "3840×2160",
        ),
        (
            vec![
                "--out".into(),
                out("film.mp4"),
                "--seconds".into(),
                "1000".into(),
            ],
            "20000",
        ),
        (
            vec!["--out".into(), out("film.gif"), "--fps".into(), "60".into()],
            "1/100 s",
        ),
        (
            vec![
                "--out".into(),
                out("film.gif"),
                "--view".into(),
                "speciation".into(),
                "--orbit".into(),
            ],
            "--orbit",
        ),
        (
            vec![
                "--out".into(),
                out("film.gif"),
                "--scale".into(),
                "2".into(),
                "--width".into(),
                "321".into(),
            ],
            "divide",
        ),
        (
            vec!["--out".into(), out("no-such-folder/film.gif")],
            "no-such-folder",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["record", scene];
        all.extend(args.iter().map(String::as_str));
        let output = diffscope(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(written(dir.path()).is_empty(), "{args:?} wrote something");
    }
    // A scene that cannot be read is named before any job runs.
    let output = diffscope(&["record", &out("missing.json"), "--out", &out("f.gif")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("missing.json"),
        "{stderr}"
    );
    assert!(written(dir.path()).is_empty());
}

#[test]
fn ctrl_c_stops_the_recording_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let out = dir.path().join("long.gif");
    // Long enough that the signal arrives mid-film.
    let mut child = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["record", scene.to_str().unwrap(), "--out"])
        .arg(&out)
        .args([
            "--width",
            "160",
            "--height",
            "96",
            "--fps",
            "20",
            "--seconds",
            "10",
        ])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("recording:  10 %"), "{line}");
    // The film is being written under a temporary name.
    assert_eq!(written(dir.path()).len(), 1);
    assert!(!out.exists());
    // SAFETY: signals our own child, which is still running (it has 90 % of its frames to draw).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(!status.success());
    let errors: Vec<&str> = rest.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{rest}");
    assert!(errors[0].contains("interrupted"), "{rest}");
    assert!(written(dir.path()).is_empty(), "{:?}", written(dir.path()));
}
