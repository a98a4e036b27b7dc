//! A raster of values over a data-space rectangle: what measurements produce (the H_void cells of a
//! hole overlay) and the renderer uploads as a texture (density and overlay layers).

/// A `width × height` grid of non-negative values (row 0 at `rect_min.y`).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    /// `[height, width]`
    pub values: Vec<f32>,
}
