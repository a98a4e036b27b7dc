//! Speciation times (`spec/speciation.md` §2–§3): theory and measurement.
