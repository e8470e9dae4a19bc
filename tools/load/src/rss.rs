//! Peak resident memory of the function processes (`zoom-*` binaries under cargo lambda
//! watch), sampled from /proc while the run goes on; each process's own high-water mark
//! (`VmHWM`) is read at every sample, so short peaks between samples are not missed. Only this
//! stack's processes count: those whose environment names its table (another stack on the
//! same machine, a CI run's or a cost run's, runs the same binaries).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

/// Samples until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<BTreeMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Peak RSS per function, in KiB.
pub struct Peaks(BTreeMap<String, u64>);

/// The function binaries measured (the tools of the stack are not).
const FUNCTIONS: &[&str] = &[
    "zoom-health",
    "zoom-auth",
    "zoom-meetings",
    "zoom-users",
    "zoom-recordings",
    "zoom-recording-archiver",
    "zoom-webhooks",
    "zoom-analytics-processor",
    "zoom-analytics",
];

/// Whether process `dir` (`/proc/{pid}`) runs with `marker` (`NAME=value`) in its environment.
fn runs_with(dir: &std::path::Path, marker: &str) -> bool {
    std::fs::read(dir.join("environ")).is_ok_and(|env| {
        env.split(|b| *b == 0)
            .any(|entry| entry == marker.as_bytes())
    })
}

/// The table of the stack under test (`ZOOM_STACK_ENV_FILE`), as its processes see it.
pub fn stack_marker() -> Option<String> {
    let file = std::env::var("ZOOM_STACK_ENV_FILE").ok()?;
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find(|l| l.starts_with("ZOOM_TABLE_NAME="))
        .map(str::to_owned)
}

fn sample(marker: Option<&str>) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
        };
        let Some(name) = field("Name:") else { continue };
        // The kernel keeps the first 15 bytes of a process name.
        let Some(function) = FUNCTIONS
            .iter()
            .find(|f| f.len() >= 15 && f[..15] == name || **f == name)
        else {
            continue;
        };
        if marker.is_some_and(|m| !runs_with(&dir, m)) {
            continue;
        }
        let name = (*function).to_owned();
        if let Some(kib) =
            field("VmHWM:").and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        {
            out.push((name, kib));
        }
    }
    out
}

impl Sampler {
    /// Starts sampling every `every` the processes that run with `marker` in their
    /// environment (every function process when `None`).
    pub fn start(every: Duration, marker: Option<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let task = {
            let (stop, peaks) = (stop.clone(), peaks.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let marker = marker.clone();
                    let now = tokio::task::spawn_blocking(move || sample(marker.as_deref()))
                        .await
                        .unwrap_or_default();
                    let mut peaks = peaks.lock().await;
                    for (name, kib) in now {
                        let peak = peaks.entry(name).or_default();
                        *peak = (*peak).max(kib);
                    }
                    drop(peaks);
                    tokio::time::sleep(every).await;
                }
            })
        };
        Self { stop, peaks, task }
    }

    /// Stops and answers the peaks.
    pub async fn stop(self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        Peaks(self.peaks.lock().await.clone())
    }
}

impl Peaks {
    /// Functions over `limit_kib`.
    pub fn failures(&self, limit_kib: u64) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, kib)| **kib > limit_kib)
            .map(|(name, kib)| {
                format!(
                    "{name} peaked at {:.1} MiB (limit {} MiB)",
                    *kib as f64 / 1024.0,
                    limit_kib / 1024
                )
            })
            .collect()
    }
}

impl fmt::Display for Peaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## peak RSS (VmHWM) per function process")?;
        if self.0.is_empty() {
            return write!(f, "- no function process seen");
        }
        for (name, kib) in &self.0 {
            writeln!(f, "- {name}: {:.1} MiB", *kib as f64 / 1024.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_processes_running_with_the_stacks_table_are_this_stacks() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("ZOOM_TABLE_NAME", "load-1-zoom-table")
            .spawn()
            .expect("sleep");
        let dir = std::path::PathBuf::from(format!("/proc/{}", child.id()));
        // Until the child has exec'd, its environment reads empty.
        let started = std::time::Instant::now();
        while std::fs::read(dir.join("environ")).map_or(true, |e| e.is_empty()) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sleep never started"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let ours = runs_with(&dir, "ZOOM_TABLE_NAME=load-1-zoom-table");
        let other = runs_with(&dir, "ZOOM_TABLE_NAME=ci-2-zoom-table");
        let prefix = runs_with(&dir, "ZOOM_TABLE_NAME=load-1");
        let _ = child.kill();
        let _ = child.wait();
        assert!(ours);
        assert!(!other, "another stack's table");
        assert!(!prefix, "the whole entry must match");
    }
}
