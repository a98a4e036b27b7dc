//! A [`FilmWriter`] on its own thread: frame k is encoded while frame k + 1 is drawn. On a software
//! rasteriser the drawing leaves a core idle while the main thread encodes; overlapping the two cuts a
//! film's wall time by about the encoder's share (a 1080p H.264 frame takes ~30 ms of ~200).
//! Same contract as the writer: dropped before [`PipelinedFilm::finish`], it removes what it wrote
//! (and waits until it has).

use super::IoError;
use super::film::{FilmSpec, FilmWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Frames waiting for the encoder: one in the encoder, one queued, then the drawing waits.
const QUEUED_FRAMES: usize = 1;

/// A film written by an encoder thread ([`FilmWriter`] semantics).
pub struct PipelinedFilm {
    frames: Option<SyncSender<Vec<u8>>>,
    encoder: Option<JoinHandle<Result<(), IoError>>>,
    path: PathBuf,
}

impl PipelinedFilm {
    /// Starts the encoder thread on a new film at `path` (the writer's errors come back here).
    pub fn create(path: &Path, spec: FilmSpec) -> Result<Self, IoError> {
        let (frames, queue) = sync_channel::<Vec<u8>>(QUEUED_FRAMES);
        let (ready, started) = sync_channel::<Result<(), IoError>>(1);
        let target = path.to_path_buf();
        let encoder = std::thread::Builder::new()
            .name("film encoder".into())
            .spawn(move || encode(&target, spec, &queue, &ready))
            .map_err(|e| IoError::format(path, format!("cannot start the film encoder: {e}")))?;
        let mut film = PipelinedFilm {
            frames: Some(frames),
            encoder: Some(encoder),
            path: path.to_path_buf(),
        };
        match started.recv() {
            Ok(Ok(())) => Ok(film),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(film.join_error()),
        }
    }

    /// Hands the next frame (`width × height` RGBA) to the encoder; an encoder that has failed
    /// returns its error here.
    pub fn push(&mut self, rgba: Vec<u8>) -> Result<(), IoError> {
        let sent = self.frames.as_ref().map(|frames| frames.send(rgba));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.join_error()),
        }
    }

    /// Waits for the last frame to be encoded and moves the film into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        self.frames = None;
        match self.encoder.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(self.encoder_lost()),
        }
    }

    /// The encoder's own error, once its thread has ended.
    fn join_error(&mut self) -> IoError {
        self.frames = None;
        match self.encoder.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => self.encoder_lost(),
        }
    }

    fn encoder_lost(&self) -> IoError {
        IoError::format(&self.path, "the film encoder stopped")
    }
}

impl Drop for PipelinedFilm {
    /// Ends the encoder without finishing: its writer, dropped there, removes the temporary file
    /// before this returns.
    fn drop(&mut self) {
        self.frames = None;
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
    }
}

/// The encoder thread: creates the writer (reporting on `ready`), encodes what arrives, and finishes
/// once the sender hangs up after `spec.frames` frames; hung up earlier, the writer is dropped (the
/// temporary removed) and `finish` reports the short film.
fn encode(
    path: &Path,
    spec: FilmSpec,
    queue: &Receiver<Vec<u8>>,
    ready: &SyncSender<Result<(), IoError>>,
) -> Result<(), IoError> {
    let mut writer = match FilmWriter::create(path, spec) {
        Ok(writer) => writer,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let _ = ready.send(Ok(()));
    for frame in queue {
        writer.push(&frame)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(frames: usize) -> FilmSpec {
        FilmSpec {
            width: 16,
            height: 8,
            fps: 10,
            frames,
        }
    }

    #[test]
    fn a_finished_film_is_in_place_and_a_dropped_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("film.gif");
        let mut film = PipelinedFilm::create(&path, spec(3)).unwrap();
        for k in 0..3u8 {
            film.push(vec![k * 80; 16 * 8 * 4]).unwrap();
        }
        film.finish().unwrap();
        assert!(path.exists());

        let dropped = dir.path().join("dropped.gif");
        let mut film = PipelinedFilm::create(&dropped, spec(3)).unwrap();
        film.push(vec![0; 16 * 8 * 4]).unwrap();
        drop(film);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["film.gif"], "the dropped film left no file");
    }

    #[test]
    fn the_encoders_errors_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("film.gif");
        let mut film = PipelinedFilm::create(&path, spec(2)).unwrap();
        // A frame of the wrong size fails in the encoder; the next push or the finish says why.
        film.push(vec![0; 5]).unwrap();
        let error = film
            .push(vec![0; 16 * 8 * 4])
            .and_then(|()| film.finish())
            .unwrap_err();
        assert!(error.to_string().contains("is not 16×8 RGBA"), "{error}");
        assert!(!path.exists());
        let unwritable = dir.path().join("no-such-folder").join("film.gif");
        assert!(PipelinedFilm::create(&unwritable, spec(2)).is_err());
        let short = dir.path().join("short.gif");
        let mut film = PipelinedFilm::create(&short, spec(2)).unwrap();
        film.push(vec![0; 16 * 8 * 4]).unwrap();
        let error = film.finish().unwrap_err();
        assert!(
            error.to_string().contains("after 1 of its 2 frames"),
            "{error}"
        );
        assert!(!short.exists());
    }
}
