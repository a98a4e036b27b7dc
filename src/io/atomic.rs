//! Atomic file writes: write to a temporary file in the target's folder, sync, then rename into place.
//!
//! A failed write (full disk, read-only folder, cancelled job, panic in the writer) leaves the previous
//! file untouched and no temporary file behind. A process killed mid-write (SIGKILL) cannot clean up:
//! the next write of the same file removes such orphans of dead processes.

use super::IoError;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn temporary_path(path: &Path) -> PathBuf {
    let unique = format!(
        ".{}.{}.{}.tmp",
        file_name(path),
        std::process::id(),
        next_counter()
    );
    path.with_file_name(unique)
}

/// Removes `.{name}.{pid}.{n}.tmp` files next to `path` whose process no longer runs (Linux: no
/// `/proc/{pid}`; elsewhere nothing is removed, as liveness is unknown). Best effort, never an error.
fn remove_orphans(path: &Path) {
    let proc = Path::new("/proc/self");
    let (Some(folder), true) = (path.parent(), proc.exists()) else {
        return;
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let prefix = format!(".{}.", file_name(path));
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(pid, counter)| counter.parse::<u64>().ok().and(pid.parse::<u32>().ok()));
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn next_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Writes `path` atomically with the bytes `fill` produces.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), IoError> {
    remove_orphans(path);
    let tmp = temporary_path(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(IoError::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Writes a whole byte buffer atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// A file written in steps under a temporary name next to `path` (films: frames arrive one by one and
/// the MP4 writer seeks back). [`StagedFile::commit`] syncs it and renames it into place; dropped
/// uncommitted (an error, a cancelled run), the temporary is removed.
pub struct StagedFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Creates the temporary next to `path` (sweeping orphans of dead processes first).
    pub fn create(path: &Path) -> Result<(Self, BufWriter<File>), IoError> {
        remove_orphans(path);
        let tmp = temporary_path(path);
        let file = File::create(&tmp).map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let staged = StagedFile {
            path: path.to_path_buf(),
            tmp,
            committed: false,
        };
        Ok((staged, BufWriter::new(file)))
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and syncs `writer` (the one [`StagedFile::create`] returned) and renames the temporary
    /// to the destination.
    pub fn commit(mut self, writer: BufWriter<File>) -> Result<(), IoError> {
        let result = (|| {
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            fs::rename(&self.tmp, &self.path)
        })();
        match result {
            Ok(()) => {
                self.committed = true;
                Ok(())
            }
            Err(source) => Err(IoError::Write {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_keeps_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_bytes_atomic(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn orphans_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        // pid_max on Linux is at most 2^22, so this pid never runs; our own pid always does.
        let dead = dir.path().join(".out.txt.4294967295.0.tmp");
        let ours = dir
            .path()
            .join(format!(".out.txt.{}.999.tmp", std::process::id()));
        let other_file = dir.path().join(".other.txt.4294967295.0.tmp");
        for p in [&dead, &ours, &other_file] {
            fs::write(p, b"partial").unwrap();
        }
        write_bytes_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(!dead.exists(), Path::new("/proc/self").exists());
        assert!(ours.exists() && other_file.exists());
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-folder").join("out.txt");
        let err = write_bytes_atomic(&path, b"x").unwrap_err();
        assert!(err.to_string().ends_with("out.txt"), "{err}");
    }

    #[test]
    fn a_staged_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("film.gif");
        let (staged, mut writer) = StagedFile::create(&path).unwrap();
        writer.write_all(b"frames").unwrap();
        drop(writer);
        drop(staged);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let (staged, mut writer) = StagedFile::create(&path).unwrap();
        writer.write_all(b"frames").unwrap();
        assert!(!path.exists());
        staged.commit(writer).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"frames");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
