//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs turns
//! them into metrics, so no extra service, SDK call or latency is spent at request time.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "ZoomConnector";

/// Where EMF lines go.
#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Writes EMF lines for one function.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: &'static str,
    sink: Sink,
}

impl Metrics {
    /// Metrics for `function`, written to stdout.
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            sink: Sink::Stdout,
        }
    }

    /// Metrics kept in memory, for tests; returns the captured lines.
    pub fn in_memory(function: &'static str) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                function,
                sink: Sink::Memory(lines.clone()),
            },
            lines,
        )
    }

    /// One HTTP request: `Latency` (ms) and `Requests` (count) by function and route, and by
    /// function, route and status.
    pub fn request(&self, route: &str, status: u16, latency: Duration) {
        let status = status.to_string();
        self.emit(
            &[("Route", route), ("Status", &status)],
            &[
                ["Function", "Route"].as_slice(),
                ["Function", "Route", "Status"].as_slice(),
            ],
            &[
                ("Latency", "Milliseconds", latency.as_secs_f64() * 1000.0),
                ("Requests", "Count", 1.0),
            ],
        );
    }

    /// A counter (`Unit: Count`) with extra dimensions, e.g. `TokenRefresh` by `Outcome`.
    pub fn count(&self, metric: &str, value: f64, dimensions: &[(&str, &str)]) {
        let mut names: Vec<&str> = vec!["Function"];
        names.extend(dimensions.iter().map(|(name, _)| *name));
        self.emit(dimensions, &[names.as_slice()], &[(metric, "Count", value)]);
    }

    /// A duration in milliseconds (`ProcessingLag`, say), under the function and
    /// `dimensions`.
    pub fn milliseconds(&self, metric: &str, value: f64, dimensions: &[(&str, &str)]) {
        let mut names: Vec<&str> = vec!["Function"];
        names.extend(dimensions.iter().map(|(name, _)| *name));
        self.emit(
            dimensions,
            &[names.as_slice()],
            &[(metric, "Milliseconds", value)],
        );
    }

    fn emit(&self, dimensions: &[(&str, &str)], sets: &[&[&str]], values: &[(&str, &str, f64)]) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
                }]
            }),
        );
        doc.insert("Function".into(), Value::from(self.function));
        for (name, value) in dimensions {
            doc.insert((*name).into(), Value::from(*value));
        }
        for (name, _, value) in values {
            doc.insert((*name).into(), Value::from(*value));
        }
        let line = Value::Object(doc).to_string();
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
            Sink::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_is_valid_emf() {
        let (metrics, lines) = Metrics::in_memory("zoom-health");
        metrics.request("GET /api/zoom/health", 200, Duration::from_millis(12));
        let lines = lines.lock().expect("lock");
        let doc: Value = serde_json::from_str(&lines[0]).expect("json");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        // Every dimension and metric the directive names is a top-level member.
        for set in directive["Dimensions"].as_array().expect("sets") {
            for name in set.as_array().expect("set") {
                assert!(doc[name.as_str().expect("name")].is_string());
            }
        }
        for metric in directive["Metrics"].as_array().expect("metrics") {
            assert!(doc[metric["Name"].as_str().expect("name")].is_number());
        }
        assert_eq!(doc["Status"], "200");
        assert_eq!(doc["Latency"], 12.0);
    }

    #[test]
    fn counter_names_its_dimensions() {
        let (metrics, lines) = Metrics::in_memory("zoom-auth");
        metrics.count("TokenRefresh", 1.0, &[("Outcome", "success")]);
        let doc: Value = serde_json::from_str(&lines.lock().expect("lock")[0]).expect("json");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["Function", "Outcome"])
        );
        assert_eq!(doc["TokenRefresh"], 1.0);
        assert_eq!(doc["Outcome"], "success");
    }
}
