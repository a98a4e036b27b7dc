//! Mixtures of 1-D Ising chains with exact denoiser and class posterior (`spec/speciation.md` §1.4).
