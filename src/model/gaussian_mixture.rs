//! Gaussian mixtures with exact denoiser, score and class posterior (`spec/speciation.md` §1.3).
