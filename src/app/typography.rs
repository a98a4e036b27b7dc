//! Type size for text painted by hand (view captions, legends, the time bar's labels, plot minimums):
//! it follows the body text, which Present mode enlarges, so painted text grows with the widgets'.
//! A leaf module: every view may use it without importing another view.

use egui::Ui;

/// egui's default body text size (points).
const DEFAULT_BODY_SIZE: f32 = 13.0;

/// How much larger the body text is than egui's default: 1 normally, `presentation::FONT_SCALE` in
/// Present mode.
pub fn type_scale(ui: &Ui) -> f32 {
    ui.style()
        .text_styles
        .get(&egui::TextStyle::Body)
        .map_or(1.0, |font| font.size / DEFAULT_BODY_SIZE)
}

/// A proportional font of `size` points at the default type size, scaled by [`type_scale`].
pub fn painted_font(ui: &Ui, size: f32) -> egui::FontId {
    egui::FontId::proportional(size * type_scale(ui))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_scale_is_one_at_egui_defaults() {
        let body = &egui::Style::default().text_styles[&egui::TextStyle::Body];
        assert_eq!(body.size, DEFAULT_BODY_SIZE);
    }
}
