//! diffscope: see inside diffusion models.
//!
//! The library holds everything that computes: scene files and file formats (`scene`, `io`), denoisers
//! (`model`), reverse-time samplers (`diffusion`), measurements on trajectories and point clouds
//! (`analysis`) and the background job runner (`worker`). The command line (`cli`) is a thin front on it;
//! none of these modules knows about a window.

pub mod alloc_policy;
pub mod analysis;
pub mod app;
pub mod assets;
pub mod base;
pub mod builtin_scenes;
pub mod cli;
pub mod diffusion;
pub mod figure;
pub mod io;
pub mod model;
pub mod render;
pub mod rng;
pub mod scene;
pub mod session;
pub mod worker;
