//! A headless Chromium driven through WebDriver (Debian's `chromium` and `chromium-driver`,
//! installed by `tools/stack/install_browser.sh`, which `.ci/run` runs), for the dashboard's
//! browser tests. The W3C WebDriver protocol is plain JSON over HTTP, so this client is a few
//! requests with reqwest; waits poll for a condition up to a generous bound, never sleep for a
//! fixed time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// How long a wait for something on the page may take before the test fails.
pub const PAGE_PATIENCE: Duration = Duration::from_secs(120);

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The flags that work on these machines: headless, no sandbox (root), and none of Chromium's
/// background connections (the network is closed; they would be refused many at a time).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
];

/// A browser session; the driver and its browser stop when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    driver: Child,
    base: String,
    /// Where downloads land.
    pub downloads: PathBuf,
    scratch: PathBuf,
}

/// An element of the page (a WebDriver element reference).
#[derive(Debug, Clone)]
pub struct Element(String);

/// The path of an executable: `$variable`, else the first of `candidates` that exists.
fn executable(variable: &str, candidates: &[&str]) -> String {
    if let Ok(path) = std::env::var(variable) {
        return path;
    }
    candidates
        .iter()
        .find(|c| Path::new(c).exists())
        .map(|c| (*c).to_owned())
        .unwrap_or_else(|| {
            panic!(
                "{} not found (set {variable}): install Debian's chromium and chromium-driver \
                 with tools/stack/install_browser.sh",
                candidates[0]
            )
        })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Self {
        use std::os::unix::process::CommandExt;
        let chromium = executable(
            "ZOOM_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let chromedriver = executable("ZOOM_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let scratch = std::env::temp_dir().join(crate::unique("zoom-browser"));
        let downloads = scratch.join("downloads");
        std::fs::create_dir_all(&downloads).expect("download directory");
        let port = crate::free_port();
        let log = std::fs::File::create(scratch.join("chromedriver.log")).expect("driver log");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            // Its own process group: dropping the browser stops the driver and every Chromium
            // process it started.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(180))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            http,
            driver,
            base,
            downloads,
            scratch,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(answer) = browser
                .http
                .get(format!("{}/status", browser.base))
                .send()
                .await
                && let Ok(status) = answer.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!(
            "--user-data-dir={}",
            browser.scratch.join("profile").display()
        ));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "unhandledPromptBehavior": "dismiss",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": browser.downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        }}});
        let created = browser.raw("POST", "/session", Some(capabilities)).await;
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        browser.base = format!("{}/session/{session}", browser.base);
        browser
            .command(
                "POST",
                "/timeouts",
                json!({"script": 120_000, "pageLoad": 120_000, "implicit": 0}),
            )
            .await;
        // Downloads without asking, into our directory (headless Chromium's default is to deny).
        browser
            .command(
                "POST",
                "/goog/cdp/execute",
                json!({"cmd": "Browser.setDownloadBehavior", "params": {
                    "behavior": "allow", "downloadPath": browser.downloads.display().to_string()}}),
            )
            .await;
        browser
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let answer = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let value: Value = answer.json().await.unwrap_or(Value::Null);
        value["value"].clone()
    }

    /// A session command; panics with WebDriver's error.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let value = self.raw(method, path, Some(body)).await;
        if let Some(error) = value.get("error") {
            panic!("WebDriver {method} {path}: {error}: {}", value["message"]);
        }
        value
    }

    /// A session command whose WebDriver error is returned, not raised.
    async fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let value = self.raw(method, path, Some(body)).await;
        match value.get("error") {
            Some(error) => Err(format!("{error}: {}", value["message"])),
            None => Ok(value),
        }
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({"url": url})).await;
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        self.command("GET", "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs an asynchronous `script`: it calls `arguments[arguments.length - 1](result)`.
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/async",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        self.try_command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        )
        .await
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(|id| Element(id.to_owned())))
    }

    /// Waits until `condition` (a JS expression over `arguments`) is truthy; on time out, fails
    /// with `what`, the page's URL and text, and a screenshot.
    pub async fn wait_until(&self, what: &str, condition: &str, args: Value) -> Value {
        let deadline = Instant::now() + PAGE_PATIENCE;
        let script = format!("return ({condition});");
        loop {
            if let Ok(value) = self
                .try_command(
                    "POST",
                    "/execute/sync",
                    json!({"script": script, "args": args}),
                )
                .await
                && !(value.is_null() || value == false || value == "" || value == 0)
            {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!("timed out waiting for {what}")).await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Whether `condition` (a JS expression over `arguments`) becomes truthy within `patience`.
    pub async fn poll(&self, condition: &str, args: Value, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        let script = format!("return ({condition});");
        loop {
            if let Ok(value) = self
                .try_command(
                    "POST",
                    "/execute/sync",
                    json!({"script": script, "args": args}),
                )
                .await
                && !(value.is_null() || value == false || value == "" || value == 0)
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until an element matching `css` is displayed, and returns it.
    pub async fn wait_visible(&self, css: &str) -> Element {
        self.wait_until(
            &format!("{css} to be shown"),
            "(() => { const e = document.querySelector(arguments[0]); \
             return e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'; })()",
            json!([css]),
        )
        .await;
        self.find(css)
            .await
            .unwrap_or_else(|| panic!("{css} vanished"))
    }

    /// Waits until the text of the element matching `css` contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        self.wait_until(
            &format!("{css} to say {text:?}"),
            "(() => { const e = document.querySelector(arguments[0]); \
             return e && e.getClientRects().length > 0 && e.textContent.includes(arguments[1]); })()",
            json!([css, text]),
        )
        .await;
    }

    /// Clicks the (displayed) element matching `css`, as a person would.
    pub async fn click(&self, css: &str) {
        let element = self.wait_visible(css).await;
        self.click_element(&element).await;
    }

    /// Clicks `element`; retried while something still covers it (a transition).
    pub async fn click_element(&self, element: &Element) {
        let deadline = Instant::now() + PAGE_PATIENCE;
        loop {
            match self
                .try_command("POST", &format!("/element/{}/click", element.0), json!({}))
                .await
            {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline && e.contains("intercepted") => {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                Err(e) => self.fail(&format!("click failed: {e}")).await,
            }
        }
    }

    /// Replaces the value of the input matching `css` with `text`, typed key by key.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_visible(css).await;
        self.command("POST", &format!("/element/{}/clear", element.0), json!({}))
            .await;
        if !text.is_empty() {
            self.command(
                "POST",
                &format!("/element/{}/value", element.0),
                json!({"text": text}),
            )
            .await;
        }
    }

    /// Sends keys to the focused element (e.g. "\u{E004}" for Tab).
    pub async fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await;
        self.raw("DELETE", "/actions", None).await;
    }

    /// Resizes the window so the page's viewport is `width` wide (and `height` tall).
    pub async fn viewport(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
        // The window's frame, if any, is outside the viewport: grow by the difference.
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];", json!([]))
            .await;
        let (w, h) = (
            inner[0].as_i64().unwrap_or(i64::from(width)),
            inner[1].as_i64().unwrap_or(i64::from(height)),
        );
        if w != i64::from(width) || h != i64::from(height) {
            let outer_w = 2 * i64::from(width) - w;
            let outer_h = 2 * i64::from(height) - h;
            self.command(
                "POST",
                "/window/rect",
                json!({"width": outer_w, "height": outer_h}),
            )
            .await;
        }
    }

    /// A PNG of what the window shows, written to `path`.
    pub async fn screenshot_window(&self, path: &Path) {
        let encoded = self.command("GET", "/screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot directory");
        }
        std::fs::write(path, bytes).expect("screenshot written");
    }

    /// A PNG of the whole page (the window is made as tall as the page first, at most 3000 px),
    /// written to `path`; the window's height is restored after.
    pub async fn screenshot(&self, path: &Path) {
        let size = self
            .js(
                "return [window.innerWidth, window.innerHeight, \
                 Math.ceil(document.documentElement.scrollHeight)];",
                json!([]),
            )
            .await;
        let width = size[0].as_u64().unwrap_or(1280) as u32;
        let height = size[1].as_u64().unwrap_or(900) as u32;
        let full = size[2].as_u64().unwrap_or(900).clamp(200, 3000) as u32;
        if full > height {
            self.viewport(width, full).await;
        }
        self.screenshot_window(path).await;
        if full > height {
            self.viewport(width, height).await;
        }
    }

    /// Fails the test with `message`, where the page is and what it says, and a screenshot.
    pub async fn fail(&self, message: &str) -> ! {
        let url = self.url().await;
        let text = self
            .try_command(
                "POST",
                "/execute/sync",
                json!({"script": "return document.body ? document.body.innerText : '';", "args": []}),
            )
            .await
            .unwrap_or_default();
        let shot = self.scratch.join("failure.png");
        let encoded = self.raw("GET", "/screenshot", None).await;
        if let Some(data) = encoded.as_str()
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
        {
            let _ = std::fs::write(&shot, bytes);
        }
        let driver_log = std::fs::read_to_string(self.scratch.join("chromedriver.log"))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "{message}\n  at {url}\n  screenshot: {}\n--- page text ---\n{}\n--- chromedriver log (end) ---\n{driver_log}",
            shot.display(),
            text.as_str().unwrap_or_default()
        );
    }

    /// The files downloaded so far (complete ones: no `.crdownload`).
    pub fn downloaded(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.downloads)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_none_or(|x| x != "crdownload"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// What axe-core (pinned in `tools/stack/package.json`, installed by `stack.sh bootstrap`)
/// found on the page: `(id, impact, help, targets)` per violation.
pub async fn axe(browser: &Browser) -> Vec<(String, String, String, Vec<String>)> {
    let source = std::fs::read_to_string(axe_path()).unwrap_or_else(|e| {
        panic!(
            "axe-core ({}): {e}; run make bootstrap",
            axe_path().display()
        )
    });
    browser
        .js(
            &format!("if (!window.axe) {{ {source}\n }} return typeof window.axe;"),
            json!([]),
        )
        .await;
    let answer = browser
        .js_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(JSON.stringify(r.violations.map((v) => ({
                 id: v.id, impact: v.impact, help: v.help,
                 targets: v.nodes.map((n) => n.target.join(' ')) })))))
               .catch((e) => done(JSON.stringify({ error: String(e) })));",
            json!([]),
        )
        .await;
    let parsed: Value =
        serde_json::from_str(answer.as_str().unwrap_or("null")).unwrap_or(Value::Null);
    assert!(parsed.is_array(), "axe-core did not run: {parsed}");
    parsed
        .as_array()
        .map(|violations| {
            violations
                .iter()
                .map(|v| {
                    (
                        v["id"].as_str().unwrap_or_default().to_owned(),
                        v["impact"].as_str().unwrap_or("unknown").to_owned(),
                        v["help"].as_str().unwrap_or_default().to_owned(),
                        v["targets"]
                            .as_array()
                            .map(|t| {
                                t.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Where `stack.sh bootstrap` installs axe-core's browser build.
pub fn axe_path() -> PathBuf {
    std::env::var("ZOOM_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            crate::workspace_root().join(".venv/node/node_modules/axe-core/axe.min.js")
        })
}

/// The axe-core version that ran.
pub fn axe_version() -> String {
    let package = axe_path().with_file_name("package.json");
    std::fs::read_to_string(package)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
