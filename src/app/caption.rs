//! The scene's caption as shown: its title and words, with placeholders filled from the live
//! computation (`scene/caption.rs`), and the readable panel that shows it (the scene panel's and
//! Present mode's caption). A leaf: the state that caches it and the views that show it import it.

use crate::analysis::speciation::report::SpeciationReport;
use crate::scene::caption::{self, CaptionValues};
use egui::{RichText, Ui};

/// A scene's title and caption as shown: placeholders filled from the live computation
/// (`scene/caption.rs`), and whether the scene was edited since it was opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveCaption {
    pub title: Option<String>,
    pub text: Option<String>,
    pub edited: bool,
}

impl LiveCaption {
    /// A caption `text` filled with `dim` and the numbers of `report` (the scene's speciation
    /// report, once it arrived), under `title`.
    pub fn new(
        title: Option<String>,
        text: Option<&str>,
        dim: Option<usize>,
        report: Option<&SpeciationReport>,
        edited: bool,
    ) -> Self {
        let values = CaptionValues { dim, report };
        LiveCaption {
            title,
            text: text.map(|t| caption::fill(t, values)),
            edited,
        }
    }
}

/// Said under the title of an edited scene: its words were written for the scene as shipped.
pub const EDITED_NOTE: &str =
    "Edited: the numbers follow the scene as it is now; the words were written for it as shipped.";

/// The scene's title and caption in readable type (the scene panel's and presentation mode's caption).
/// Paragraphs are separated by blank lines; lines starting with "• " are list items.
pub fn caption_ui(ui: &mut Ui, caption: &LiveCaption) {
    if let Some(title) = &caption.title {
        ui.heading(title);
    }
    if caption.edited {
        ui.label(RichText::new(EDITED_NOTE).italics().weak());
    }
    let Some(text) = &caption.text else {
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        for paragraph in text.split("\n\n") {
            ui.add_space(4.0);
            ui.add(egui::Label::new(RichText::new(paragraph.trim())).wrap());
        }
    });
}
