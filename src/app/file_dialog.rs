//! The system file dialog, told apart from its absence. rfd returns "nothing chosen" both when the user
//! cancels and when no dialog can open (no XDG desktop portal and no zenity: common on minimal Linux
//! desktops, remote sessions and Xvfb), and only logs why. Every caller needs to know which, so that a
//! missing dialog becomes one visible message and the action falls back to a path the user can see.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a dialog gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Picked {
    Path(PathBuf),
    Cancelled,
    /// No dialog could open; the text says why, for the status line.
    Unavailable(String),
}

/// A dialog that came back faster than this showed nothing: no person cancels in under 0.15 s.
const NO_DIALOG_SHOWN: Duration = Duration::from_millis(150);

static DISABLED: AtomicBool = AtomicBool::new(false);

/// From now on behave as if this system had no file dialog (tests, which must never block on one).
pub fn disable_system_dialogs() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Why no system dialog can open here, or `None` if one may.
fn missing_dialog() -> Option<String> {
    if DISABLED.load(Ordering::Relaxed) {
        return Some("no file dialog (system dialogs are disabled)".into());
    }
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
    };
    let portal = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && Path::new("/usr/share/dbus-1/services/org.freedesktop.portal.Desktop.service").exists();
    (!portal && !on_path("zenity")).then(|| {
        "no file dialog on this system (it needs xdg-desktop-portal or zenity)".to_string()
    })
}

/// Shows `dialog` (an rfd call) and says what it gave.
fn show(dialog: impl FnOnce() -> Option<PathBuf>) -> Picked {
    if let Some(why) = missing_dialog() {
        return Picked::Unavailable(why);
    }
    let started = Instant::now();
    match dialog() {
        Some(path) => Picked::Path(path),
        None if started.elapsed() < NO_DIALOG_SHOWN => {
            Picked::Unavailable("the system file dialog did not open".into())
        }
        None => Picked::Cancelled,
    }
}

/// An "open" dialog for files with these extensions.
pub fn pick_file(what: &str, extensions: &[&str]) -> Picked {
    show(|| {
        rfd::FileDialog::new()
            .add_filter(what, extensions)
            .pick_file()
    })
}

/// An "open" dialog for a folder.
pub fn pick_folder() -> Picked {
    show(|| rfd::FileDialog::new().pick_folder())
}

/// A "save" dialog proposing `file_name`, offering files with these extensions (any file if none).
pub fn save_file(what: &str, extensions: &[&str], file_name: &str) -> Picked {
    show(|| {
        let dialog = rfd::FileDialog::new().set_file_name(file_name);
        let dialog = if extensions.is_empty() {
            dialog
        } else {
            dialog.add_filter(what, extensions)
        };
        dialog.save_file()
    })
}
