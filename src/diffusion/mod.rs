//! Reverse-time diffusion: OU time grids, samplers and trajectory storage. Knows models only through
//! the `Denoiser` trait; never touches the UI.
