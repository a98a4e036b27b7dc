//! GPU drawing for the views: wgpu pipelines run through egui-wgpu paint callbacks (WGSL in `shaders/`),
//! the cameras (glam) and the colormaps shared by Rust and WGSL. Knows nothing of scenes, models or files:
//! callers hand it positions, scalars and matrices.

pub mod calibrate;
pub mod camera;
pub mod colormap;
pub mod cpu_splat;
pub mod gpu;
pub mod layer;
pub mod offscreen;
pub mod points;
pub mod splat;
pub mod splat_keys;
pub mod trails;

pub use camera::{Orbit, PanZoom};
pub use colormap::{Colormap, ColormapSpan, PointColoring};
pub use gpu::paint_callback;
pub use points::{
    PointData, PointInstance, PointPipeline, PointRenderer, PointsCallback, RendererChoice,
    RendererPolicy,
};
