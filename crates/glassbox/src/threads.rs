//! How many threads glassbox uses: the one place that knows the machine's core count.
//!
//! By default glassbox counts one thread per *physical* core: a second hardware thread
//! on a core shares its FMA units, so it adds nothing to dense arithmetic and costs
//! hand-offs. The environment variable `GLASSBOX_THREADS` overrides the count — for a
//! machine whose topology is misreported, to leave cores to other work, or to test the
//! thread code with more threads than the machine has cores:
//!
//! ```text
//! GLASSBOX_THREADS=8 cargo test --workspace
//! ```
//!
//! The count sizes the spinning helper pool of `spin`, is the default
//! `threads` of training ([`crate::TrainConfig`]) and the CLI's `--threads`, and tells
//! the split trainer's barrier whether it may spin. It is read once per process.

use std::sync::OnceLock;

/// The largest thread count glassbox accepts, from `GLASSBOX_THREADS` or a caller.
pub const MAX_THREADS: usize = 1024;

/// The name of the environment variable that overrides the core count.
pub const ENV_VAR: &str = "GLASSBOX_THREADS";

/// How many threads glassbox treats as the machine's cores: `GLASSBOX_THREADS` when it
/// holds a whole number from 1 to [`MAX_THREADS`], else [`physical_cores`]. A value that
/// is not such a number is ignored here; [`from_env`] reports it, for a program to show.
pub fn available() -> usize {
    static AVAILABLE: OnceLock<usize> = OnceLock::new();
    *AVAILABLE.get_or_init(|| from_env().ok().flatten().unwrap_or_else(physical_cores))
}

/// The count `GLASSBOX_THREADS` asks for: `Ok(None)` when it is not set.
///
/// # Errors
/// A message naming the variable and its value when it is set to anything but a whole
/// number from 1 to [`MAX_THREADS`].
pub fn from_env() -> std::result::Result<Option<usize>, String> {
    let Some(value) = std::env::var_os(ENV_VAR) else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{ENV_VAR}={text:?} is not a thread count: expected a whole number from 1 to {MAX_THREADS}"
        )),
    }
}

/// One per physical core this process may run on. Reads the CPU topology from `/sys` on
/// Linux (how many logical CPUs share a core) and scales the CPUs this process may use
/// by it; elsewhere, or when `/sys` cannot be read, every logical CPU counts.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    (logical / threads_per_core().unwrap_or(1).max(1)).clamp(1, MAX_THREADS)
}

/// Logical CPUs per physical core on this machine, from Linux's `/sys` topology files.
fn threads_per_core() -> Option<usize> {
    let mut cores = std::collections::HashSet::new();
    let mut cpus = 0;
    for entry in std::fs::read_dir("/sys/devices/system/cpu").ok()? {
        let path = entry.ok()?.path();
        let is_cpu = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("cpu"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if !is_cpu {
            continue;
        }
        // Offline CPUs have no topology directory.
        let Ok(siblings) = std::fs::read_to_string(path.join("topology/core_cpus_list"))
            .or_else(|_| std::fs::read_to_string(path.join("topology/thread_siblings_list")))
        else {
            continue;
        };
        cpus += 1;
        cores.insert(siblings.trim().to_owned());
    }
    (!cores.is_empty()).then(|| cpus / cores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_cores_is_at_least_one_and_at_most_the_logical_cpus() {
        let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = physical_cores();
        assert!((1..=logical).contains(&cores), "{cores} of {logical}");
        if cfg!(target_os = "linux") {
            let per_core = threads_per_core().expect("/sys topology is readable");
            assert!((1..=8).contains(&per_core), "{per_core} threads per core");
        }
    }

    #[test]
    fn available_follows_the_environment_when_it_is_valid() {
        match from_env() {
            Ok(Some(n)) => assert_eq!(available(), n),
            _ => assert_eq!(available(), physical_cores()),
        }
    }
}
