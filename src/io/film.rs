//! Films (`diffscope record`): RGBA frames of one size encoded as an animated GIF (a NeuQuant palette
//! per frame) or an H.264 MP4 (OpenH264, muxed by the `mp4` crate), written under a temporary name and
//! renamed into place after the last frame ([`super::atomic::StagedFile`]): a failed or interrupted
//! recording leaves no file.

use super::IoError;
use super::atomic::StagedFile;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType, VuiConfig,
};
use openh264::formats::{RgbaSliceU8, YUVBuffer};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// The largest frame: 4K UHD (OpenH264 encodes at most 3840×2160).
pub const MAX_WIDTH: u32 = 3840;
pub const MAX_HEIGHT: u32 = 2160;
/// The most frames in one film (11 minutes at 30 fps).
pub const MAX_FRAMES: usize = 20_000;
/// The highest frame rate of an MP4.
pub const MAX_FPS: u32 = 120;
/// The highest frame rate of a GIF: delays are in 1/100 s and viewers slow down delays under 2/100 s.
pub const MAX_GIF_FPS: u32 = 50;

/// NeuQuant sampling factor of the GIF palettes: 1 is the best and slowest, 30 the fastest; 10 is the
/// `gif` crate's own suggestion.
const GIF_QUANTIZER_SPEED: i32 = 10;
/// The H.264 target in bits per pixel per frame. OpenH264's quality mode spends only what a frame needs
/// down to its smallest quantiser, so this is a ceiling that frames of scattered moving points reach
/// and flat panels do not; at 0.15 (a video-call rate) the encoder starved the points and P frames
/// left ghosts of earlier steps (27 dB at 320×192).
const H264_BITS_PER_PIXEL: f64 = 2.0;
/// Bounds of the H.264 target (bits per second): the top is level 5.1's baseline maximum.
const H264_BITRATE_RANGE: (f64, f64) = (500_000.0, 40_000_000.0);
/// Key frames at least this often (seconds), so that players can seek.
const KEY_FRAME_SECONDS: u32 = 2;
/// Ticks of the MP4 time scale per frame: the time scale is fps × this, so every frame lasts exactly
/// this many ticks and the duration is frames / fps to the tick.
const TICKS_PER_FRAME: u32 = 1000;

/// A film's file format, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilmFormat {
    Gif,
    Mp4,
}

impl FilmFormat {
    /// The format named by `path`'s extension (`.gif` or `.mp4`, any case).
    pub fn of(path: &Path) -> Result<Self, IoError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "gif" => Ok(FilmFormat::Gif),
            "mp4" => Ok(FilmFormat::Mp4),
            _ => Err(IoError::Extension {
                path: path.to_path_buf(),
                extension,
                expected: ".gif or .mp4",
            }),
        }
    }
}

/// The size, rate and length of a film.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilmSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub frames: usize,
}

impl FilmSpec {
    /// Refuses sizes, rates and lengths `format` cannot hold or that exceed the caps; names `path`.
    pub fn check(&self, format: FilmFormat, path: &Path) -> Result<(), IoError> {
        let refuse = |problem: String| Err(IoError::format(path, problem));
        let FilmSpec {
            width,
            height,
            fps,
            frames,
        } = *self;
        if width == 0 || height == 0 {
            return refuse(format!("a film needs a size, got {width}×{height}"));
        }
        if width > MAX_WIDTH || height > MAX_HEIGHT {
            return refuse(format!(
                "{width}×{height} is larger than the largest film, {MAX_WIDTH}×{MAX_HEIGHT}"
            ));
        }
        if fps == 0 {
            return refuse("the frame rate must be at least 1 fps".into());
        }
        let max_fps = match format {
            FilmFormat::Gif => MAX_GIF_FPS,
            FilmFormat::Mp4 => MAX_FPS,
        };
        if fps > max_fps {
            let why = match format {
                FilmFormat::Gif => " (GIF delays are in 1/100 s; use an MP4 for more)",
                FilmFormat::Mp4 => "",
            };
            return refuse(format!(
                "{fps} fps is more than {max_fps} fps for this format{why}"
            ));
        }
        if frames == 0 {
            return refuse("a film needs at least one frame (raise --seconds or --fps)".into());
        }
        if frames > MAX_FRAMES {
            return refuse(format!(
                "{frames} frames is more than the most a film may have, {MAX_FRAMES}"
            ));
        }
        if format == FilmFormat::Mp4 && (width % 2 == 1 || height % 2 == 1) {
            return refuse(format!(
                "H.264 needs an even width and height, got {width}×{height} (try {}×{})",
                width + width % 2,
                height + height % 2
            ));
        }
        Ok(())
    }

    /// Bytes of one RGBA frame.
    pub fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }
}

/// The delays of a GIF's frames in 1/100 s: frame k lasts round((k+1)·100/fps) − round(k·100/fps), so
/// the delays add up to the film's length to the hundredth whatever the rate.
pub fn gif_delays(fps: u32, frames: usize) -> Vec<u16> {
    let at = |k: usize| ((k as f64) * 100.0 / f64::from(fps.max(1))).round() as u64;
    (0..frames)
        .map(|k| (at(k + 1) - at(k)).min(u64::from(u16::MAX)) as u16)
        .collect()
}

/// The H.264 bit rate of a film (bits per second).
pub fn h264_bitrate(spec: &FilmSpec) -> u32 {
    let bits = f64::from(spec.width) * f64::from(spec.height) * f64::from(spec.fps);
    let (low, high) = H264_BITRATE_RANGE;
    (bits * H264_BITS_PER_PIXEL).clamp(low, high) as u32
}

/// A film being written: [`FilmWriter::push`] each frame, then [`FilmWriter::finish`]. Dropped before
/// `finish`, it removes what it wrote.
pub struct FilmWriter {
    spec: FilmSpec,
    // Dropped before `staged`, which then removes the temporary.
    encoder: FilmEncoder,
    staged: StagedFile,
    pushed: usize,
}

enum FilmEncoder {
    Gif {
        encoder: gif::Encoder<BufWriter<File>>,
        delays: Vec<u16>,
    },
    Mp4(Box<Mp4Film>),
}

/// The H.264 encoder and the MP4 writer, whose track is added once the first frame has given the
/// sequence and picture parameter sets.
struct Mp4Film {
    encoder: Encoder,
    muxer: mp4::Mp4Writer<BufWriter<File>>,
    track_added: bool,
    annex_b: Vec<u8>,
}

fn encode_error(path: &Path, what: &str, e: impl std::fmt::Display) -> IoError {
    IoError::format(path, format!("{what}: {e}"))
}

impl FilmWriter {
    /// Starts a film at `path` in the format its extension names; `spec` is checked first.
    pub fn create(path: &Path, spec: FilmSpec) -> Result<Self, IoError> {
        let format = FilmFormat::of(path)?;
        spec.check(format, path)?;
        let (staged, writer) = StagedFile::create(path)?;
        let encoder = match format {
            FilmFormat::Gif => {
                let (w, h) = (spec.width as u16, spec.height as u16);
                let mut encoder = gif::Encoder::new(writer, w, h, &[])
                    .map_err(|e| encode_error(path, "GIF encoder", e))?;
                encoder
                    .set_repeat(gif::Repeat::Infinite)
                    .map_err(|e| encode_error(path, "GIF encoder", e))?;
                FilmEncoder::Gif {
                    encoder,
                    delays: gif_delays(spec.fps, spec.frames),
                }
            }
            FilmFormat::Mp4 => {
                let config = EncoderConfig::new()
                    .bitrate(BitRate::from_bps(h264_bitrate(&spec)))
                    .max_frame_rate(FrameRate::from_hz(spec.fps as f32))
                    .rate_control_mode(RateControlMode::Quality)
                    // The camera mode: OpenH264's screen-content mode stops at ≈ 33 dB on these views
                    // whatever the bit rate (measured at 320×192), the camera mode reaches ≈ 36.5 dB
                    // (the RGB → YUV 4:2:0 round trip alone: 38.6 dB).
                    .usage_type(UsageType::CameraVideoRealTime)
                    // One sample per frame: the film's timing is the frame count.
                    .skip_frames(false)
                    .intra_frame_period(IntraFramePeriod::from_num_frames(
                        spec.fps * KEY_FRAME_SECONDS,
                    ))
                    // Deterministic output: no encoder threads racing.
                    .num_threads(1)
                    // openh264's RGB → YUV conversion is BT.601 limited range; say so to players.
                    .vui(VuiConfig::bt601());
                let encoder =
                    Encoder::with_api_config(openh264::OpenH264API::from_source(), config)
                        .map_err(|e| encode_error(path, "H.264 encoder", e))?;
                let mp4_config = mp4::Mp4Config {
                    major_brand: mp4::FourCC::from(*b"isom"),
                    minor_version: 512,
                    compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"]
                        .into_iter()
                        .map(|b| mp4::FourCC::from(*b))
                        .collect(),
                    timescale: spec.fps * TICKS_PER_FRAME,
                };
                let muxer = mp4::Mp4Writer::write_start(writer, &mp4_config)
                    .map_err(|e| encode_error(path, "MP4 writer", e))?;
                FilmEncoder::Mp4(Box::new(Mp4Film {
                    encoder,
                    muxer,
                    track_added: false,
                    annex_b: Vec::new(),
                }))
            }
        };
        Ok(FilmWriter {
            spec,
            encoder,
            staged,
            pushed: 0,
        })
    }

    pub fn spec(&self) -> FilmSpec {
        self.spec
    }

    /// Frames pushed so far.
    pub fn frames_pushed(&self) -> usize {
        self.pushed
    }

    /// Encodes the next frame: `rgba` is `width × height` pixels, rows top to bottom.
    pub fn push(&mut self, rgba: &[u8]) -> Result<(), IoError> {
        let path = self.staged.path().to_path_buf();
        if rgba.len() != self.spec.frame_bytes() {
            return Err(IoError::format(
                &path,
                format!(
                    "a frame of {} bytes is not {}×{} RGBA",
                    rgba.len(),
                    self.spec.width,
                    self.spec.height
                ),
            ));
        }
        if self.pushed >= self.spec.frames {
            return Err(IoError::format(
                &path,
                format!("the film has all its {} frames", self.spec.frames),
            ));
        }
        let (width, height) = (self.spec.width, self.spec.height);
        match &mut self.encoder {
            FilmEncoder::Gif { encoder, delays } => {
                let mut pixels = rgba.to_vec();
                let mut frame = gif::Frame::from_rgba_speed(
                    width as u16,
                    height as u16,
                    &mut pixels,
                    GIF_QUANTIZER_SPEED,
                );
                frame.delay = delays[self.pushed];
                encoder
                    .write_frame(&frame)
                    .map_err(|e| encode_error(&path, "GIF encoder", e))?;
            }
            FilmEncoder::Mp4(film) => {
                let source = RgbaSliceU8::new(rgba, (width as usize, height as usize));
                let yuv = YUVBuffer::from_rgba8_source(source);
                let bitstream = film
                    .encoder
                    .encode(&yuv)
                    .map_err(|e| encode_error(&path, "H.264 encoder", e))?;
                if matches!(bitstream.frame_type(), FrameType::Skip | FrameType::Invalid) {
                    return Err(IoError::format(
                        &path,
                        format!("the H.264 encoder dropped frame {}", self.pushed + 1),
                    ));
                }
                film.annex_b.clear();
                bitstream.write_vec(&mut film.annex_b);
                let units = nal_units(&film.annex_b);
                if !film.track_added {
                    let find = |kind: u8| units.iter().find(|n| n[0] & 0x1f == kind).copied();
                    let (Some(sps), Some(pps)) = (find(NAL_SPS), find(NAL_PPS)) else {
                        return Err(IoError::format(
                            &path,
                            "the H.264 encoder gave no parameter sets with its first frame",
                        ));
                    };
                    let track = mp4::TrackConfig {
                        track_type: mp4::TrackType::Video,
                        timescale: self.spec.fps * TICKS_PER_FRAME,
                        language: "und".into(),
                        media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                            width: width as u16,
                            height: height as u16,
                            seq_param_set: sps.to_vec(),
                            pic_param_set: pps.to_vec(),
                        }),
                    };
                    film.muxer
                        .add_track(&track)
                        .map_err(|e| encode_error(&path, "MP4 writer", e))?;
                    film.track_added = true;
                }
                // MP4 samples hold length-prefixed NAL units; parameter sets live in the avcC box.
                let mut sample = Vec::with_capacity(film.annex_b.len() + 4 * units.len());
                let mut key = false;
                for unit in units {
                    let kind = unit[0] & 0x1f;
                    key |= kind == NAL_IDR;
                    if kind == NAL_SPS || kind == NAL_PPS {
                        continue;
                    }
                    sample.extend_from_slice(&(unit.len() as u32).to_be_bytes());
                    sample.extend_from_slice(unit);
                }
                let sample = mp4::Mp4Sample {
                    start_time: self.pushed as u64 * u64::from(TICKS_PER_FRAME),
                    duration: TICKS_PER_FRAME,
                    rendering_offset: 0,
                    is_sync: key,
                    bytes: sample.into(),
                };
                film.muxer
                    .write_sample(1, &sample)
                    .map_err(|e| encode_error(&path, "MP4 writer", e))?;
            }
        }
        self.pushed += 1;
        Ok(())
    }

    /// Ends the film (all `spec.frames` frames pushed) and moves it into place.
    pub fn finish(self) -> Result<(), IoError> {
        let path = self.staged.path().to_path_buf();
        if self.pushed != self.spec.frames {
            return Err(IoError::format(
                &path,
                format!(
                    "the film ended after {} of its {} frames",
                    self.pushed, self.spec.frames
                ),
            ));
        }
        let writer = match self.encoder {
            FilmEncoder::Gif { encoder, .. } => encoder
                .into_inner()
                .map_err(|e| encode_error(&path, "GIF encoder", e))?,
            FilmEncoder::Mp4(mut film) => {
                film.muxer
                    .write_end()
                    .map_err(|e| encode_error(&path, "MP4 writer", e))?;
                film.muxer.into_writer()
            }
        };
        self.staged.commit(writer)
    }
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

/// The NAL units of an Annex B byte stream (start codes `00 00 01` or `00 00 00 01` removed), empty
/// ones skipped.
pub fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (k, &(_, begin)) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |&(at, _)| at);
        // A four-byte start code leaves its leading zero at the end of the previous unit.
        while end > begin && stream[end - 1] == 0 {
            end -= 1;
        }
        if end > begin {
            units.push(&stream[begin..end]);
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gif_delays_add_up_to_the_length() {
        let delays = gif_delays(30, 240);
        assert_eq!(delays.iter().map(|&d| u64::from(d)).sum::<u64>(), 800);
        assert!(delays.iter().all(|&d| d == 3 || d == 4), "{delays:?}");
        assert_eq!(gif_delays(15, 3), vec![7, 6, 7]);
    }

    #[test]
    fn nal_units_split_both_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        let units = nal_units(&stream);
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
    }

    #[test]
    fn specs_outside_the_caps_are_refused() {
        let path = Path::new("film.mp4");
        let ok = FilmSpec {
            width: 320,
            height: 192,
            fps: 30,
            frames: 12,
        };
        assert!(ok.check(FilmFormat::Mp4, path).is_ok());
        for (spec, format, needle) in [
            (FilmSpec { width: 321, ..ok }, FilmFormat::Mp4, "even"),
            (FilmSpec { fps: 0, ..ok }, FilmFormat::Mp4, "frame rate"),
            (
                FilmSpec { frames: 0, ..ok },
                FilmFormat::Gif,
                "at least one frame",
            ),
            (FilmSpec { width: 7680, ..ok }, FilmFormat::Gif, "larger"),
            (
                FilmSpec {
                    frames: 20_001,
                    ..ok
                },
                FilmFormat::Mp4,
                "20000",
            ),
            (FilmSpec { fps: 60, ..ok }, FilmFormat::Gif, "1/100 s"),
        ] {
            let err = spec.check(format, path).unwrap_err().to_string();
            assert!(err.contains(needle) && err.ends_with("film.mp4"), "{err}");
        }
        assert!(
            FilmSpec { width: 321, ..ok }
                .check(FilmFormat::Gif, path)
                .is_ok()
        );
        assert!(FilmFormat::of(Path::new("a.avi")).is_err());
        assert_eq!(FilmFormat::of(Path::new("a.GIF")).unwrap(), FilmFormat::Gif);
    }
}
