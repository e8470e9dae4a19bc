//! Peak resident memory of the function processes (`zoom-*` binaries under cargo lambda
//! watch), sampled from /proc while the run goes on; each process's own high-water mark
//! (`VmHWM`) is read at every sample, so short peaks between samples are not missed.

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

fn sample() -> Vec<(String, u64)> {
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
    /// Starts sampling every `every`.
    pub fn start(every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let task = {
            let (stop, peaks) = (stop.clone(), peaks.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let now = tokio::task::spawn_blocking(sample)
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
