//! The process-wide glibc malloc policies, in one place because they are opposite on purpose: a
//! long-lived app hands memory back (its resident size stays flat over thousands of jobs), a training
//! run keeps it (each step reuses the last step's buffers). Knows glibc tuning, nothing of what runs.

use std::sync::Mutex;

/// How the process's allocator treats large and freed blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// glibc's own: its mmap threshold rises after each large free.
    Default,
    /// Blocks above 128 KiB get their own mapping, returned to the system when freed. glibc otherwise
    /// raises its threshold after each large free, so later trajectory buffers land in the per-thread
    /// arenas, which keep the high-water mark of every thread: a long session of slider moves then grows
    /// in steps (soak test: +0–20 % resident after 1,000 jobs; with this and
    /// [`release_freed_memory`] after each job, 2.5× smaller and flat). The worker's policy.
    SmallMappings,
    /// Blocks below 32 MiB come from the heap and up to 1 GiB of free heap top is kept: otherwise each
    /// training step page-faults its tens of megabytes of tensors in afresh (a third of a DiT step was
    /// kernel time: `clear_page`, page faults). For one training run, through [`keep_freed_buffers`].
    KeepFreed,
}

/// The policy in force (glibc has no getter for its tuning).
static ACTIVE: Mutex<Policy> = Mutex::new(Policy::Default);

/// The policy in force.
pub fn active() -> Policy {
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Puts `policy` in force and returns the one it replaces. [`Policy::Default`] cannot give back glibc's
/// rising threshold once it was fixed; it sets glibc's starting values (128 KiB for both) instead.
pub fn set(policy: Policy) -> Policy {
    let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    if *active != policy {
        apply(policy);
    }
    std::mem::replace(&mut *active, policy)
}

/// Keeps freed buffers for reuse until the returned guard is dropped, which restores the policy before
/// (so a benchmark that trains does not leave the training policy to the benchmarks after it).
#[must_use = "the policy is restored when the guard is dropped"]
pub fn keep_freed_buffers() -> PolicyGuard {
    PolicyGuard {
        previous: set(Policy::KeepFreed),
    }
}

/// Restores the policy it replaced when dropped.
#[derive(Debug)]
pub struct PolicyGuard {
    previous: Policy,
}

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        set(self.previous);
    }
}

/// Hands the free pages a finished job left in glibc's arenas back to the system.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heaps under their locks; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn apply(policy: Policy) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const KIB: libc::c_int = 1 << 10;
        let (mmap_threshold, trim_threshold) = match policy {
            Policy::Default | Policy::SmallMappings => (128 * KIB, 128 * KIB),
            Policy::KeepFreed => (32 << 20, 1 << 30),
        };
        // SAFETY: mallopt only sets glibc tuning parameters under its own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim_threshold);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = policy;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The training guard restores whatever was in force before it, also when guards nest. (One test:
    /// the policy is process-wide, and tests run on parallel threads.)
    #[test]
    fn the_training_policy_ends_with_its_guard() {
        let before = set(Policy::SmallMappings);
        {
            let _training = keep_freed_buffers();
            assert_eq!(active(), Policy::KeepFreed);
            {
                let _nested = keep_freed_buffers();
                assert_eq!(active(), Policy::KeepFreed);
            }
            assert_eq!(active(), Policy::KeepFreed);
        }
        assert_eq!(active(), Policy::SmallMappings);
        set(before);
    }
}
