//! Fault injection: make the next N requests to a path (or all) fail in a chosen way.

use serde::{Deserialize, Serialize};

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with Zoom's body and headers (`daily` for the daily-limit flavour).
    #[serde(rename = "429")]
    TooManyRequests,
    /// 500.
    #[serde(rename = "500")]
    InternalError,
    /// 503.
    #[serde(rename = "503")]
    Unavailable,
    /// Accept the request and answer nothing for `hang_ms` (default 60 s).
    Hang,
    /// Close the connection without answering.
    Close,
    /// Do the work (a meeting is created, a token rotated), then close the connection without
    /// sending the answer: the caller cannot know whether the request took effect.
    DropAnswer,
    /// Answer normally after `latency_ms`.
    Latency,
    /// Recording downloads only (`/_cdn/…`): send the headers of the whole file, then
    /// `truncate_bytes` of it (default half), then reset: a download cut off mid-stream.
    Truncate,
}

/// One fault rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// What it does.
    pub kind: FaultKind,
    /// Applies to paths that start with this (decoded) prefix; all paths when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Applies to this method only, when set.
    #[serde(default)]
    pub method: Option<String>,
    /// How many requests it affects; until cleared when absent.
    #[serde(default)]
    pub count: Option<u32>,
    /// For `latency`.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// For `hang`.
    #[serde(default)]
    pub hang_ms: Option<u64>,
    /// For `429`: the `Retry-After` seconds.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// For `429`: the daily-limit flavour.
    #[serde(default)]
    pub daily: bool,
    /// For `truncate`: how many bytes are sent before the connection closes.
    #[serde(default)]
    pub truncate_bytes: Option<u64>,
}

/// The active fault rules, first match wins.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Fault>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&mut self, fault: Fault) {
        self.rules.push(fault);
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules (for the admin API).
    pub fn list(&self) -> &[Fault] {
        &self.rules
    }

    /// Takes the fault that applies to this API request, if any, counting it down
    /// (`truncate` rules apply to downloads only).
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        self.take_where(method, path, |kind| *kind != FaultKind::Truncate)
    }

    /// Takes the `truncate` rule that applies to this download, if any, counting it down.
    pub fn take_truncation(&mut self, path: &str) -> Option<Fault> {
        self.take_where("GET", path, |kind| *kind == FaultKind::Truncate)
    }

    fn take_where(
        &mut self,
        method: &str,
        path: &str,
        kind: impl Fn(&FaultKind) -> bool,
    ) -> Option<Fault> {
        let index = self.rules.iter().position(|rule| {
            kind(&rule.kind)
                && rule.path.as_deref().is_none_or(|p| path.starts_with(p))
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let rule = self.rules[index].clone();
        if let Some(count) = self.rules[index].count.as_mut() {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.rules.remove(index);
            }
        }
        Some(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: Option<&str>, count: Option<u32>) -> Fault {
        Fault {
            kind: FaultKind::InternalError,
            path: path.map(str::to_owned),
            method: None,
            count,
            latency_ms: None,
            hang_ms: None,
            retry_after: None,
            daily: false,
            truncate_bytes: None,
        }
    }

    #[test]
    fn counted_rules_expire_and_paths_filter() {
        let mut faults = Faults::default();
        faults.add(fault(Some("/v2/users"), Some(2)));
        assert!(faults.take("GET", "/v2/meetings/1").is_none());
        assert!(faults.take("GET", "/v2/users").is_some());
        assert!(faults.take("GET", "/v2/users/me").is_some());
        assert!(faults.take("GET", "/v2/users").is_none());
        faults.add(fault(None, None));
        for _ in 0..5 {
            assert!(faults.take("POST", "/oauth/token").is_some());
        }
        faults.clear();
        assert!(faults.take("POST", "/oauth/token").is_none());
    }

    #[test]
    fn truncations_apply_to_downloads_only() {
        let mut faults = Faults::default();
        faults.add(Fault {
            kind: FaultKind::Truncate,
            ..fault(None, Some(1))
        });
        assert!(faults.take("GET", "/v2/users").is_none());
        assert!(faults.take_truncation("/_cdn/f1").is_some());
        assert!(faults.take_truncation("/_cdn/f1").is_none(), "counted");
        faults.add(fault(None, None));
        assert!(faults.take_truncation("/_cdn/f1").is_none());
    }
}
