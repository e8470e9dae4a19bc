//! The dashboard in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven through WebDriver against the local stack, as a person would use
//! it. Sign in with a development token; connect Zoom through the simulator (page → authorize →
//! simulator → callback → page); create a meeting with a bad field (its error next to the
//! field), then a good one (listed); start it at the simulator (live) and end it (analytics
//! change); page through users; download a recording through the archive flow (archiving, then
//! the file); disconnect with a confirmation. Every view is captured at 1280 and 360 px wide
//! (`target/dashboard-screenshots/`, or `$ZOOM_SCREENSHOT_DIR`) and checked with axe-core in the
//! page: no serious or critical finding, and nothing wider than the window.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoom_e2e::browser::{Browser, PAGE_PATIENCE, axe, axe_version};
use zoom_e2e::{ExtraWatch, api, client, env, send, unique, workspace_root};

/// The dashboard on the redirect URI's host (localhost), so that the page that starts the
/// connect flow and the callback Zoom sends the browser to share the flow's cookie.
fn dashboard(api: &str) -> String {
    format!(
        "{}/api/zoom/dashboard",
        api.replace("://127.0.0.1:", "://localhost:")
    )
}

fn screenshots() -> PathBuf {
    std::env::var("ZOOM_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target/dashboard-screenshots"))
}

/// A line on the test's real stderr (shown in CI's output even when the test passes).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Every screen captured and audited.
#[derive(Default)]
struct Audit {
    screens: Vec<String>,
    findings: Vec<Value>,
}

impl Audit {
    /// Checks the page as it is now: no horizontal overflow, axe-core's findings recorded, and a
    /// full-page screenshot `{name}-{width}.png`.
    async fn capture(&mut self, browser: &Browser, name: &str) {
        let width = browser
            .js("return window.innerWidth;", json!([]))
            .await
            .as_u64()
            .unwrap_or(0);
        let overflow = browser
            .js(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                json!([]),
            )
            .await
            .as_i64()
            .unwrap_or(0);
        if overflow > 0 {
            browser
                .fail(&format!(
                    "{name} at {width} px is {overflow} px wider than the window"
                ))
                .await;
        }
        for (id, impact, help, targets) in axe(browser).await {
            self.findings
                .push(json!({"screen": format!("{name}-{width}"), "id": id,
                "impact": impact, "help": help, "targets": targets}));
        }
        // The first screen, as a phone shows it, and the whole page.
        if width < 500 {
            browser
                .screenshot_window(&screenshots().join(format!("{name}-{width}-screen.png")))
                .await;
        }
        browser
            .screenshot(&screenshots().join(format!("{name}-{width}.png")))
            .await;
        self.screens.push(format!("{name}-{width}"));
    }

    fn serious(&self) -> Vec<&Value> {
        self.findings
            .iter()
            .filter(|f| f["impact"] == "serious" || f["impact"] == "critical")
            .collect()
    }
}

async fn sim(path: &str, body: Value) -> Value {
    let answer = send(
        client()
            .post(format!("{}/_sim/{path}", env("ZOOM_SIM_URL")))
            .json(&body),
    )
    .await;
    assert_eq!(answer.status, 200, "sim {path}: {}", answer.text);
    answer.json()
}

/// Clicks `button` and looks for `condition` for a few seconds, again and again, until it holds
/// (the page shows what the simulator's webhooks changed). Fails after [`PAGE_PATIENCE`].
async fn refresh_until(browser: &Browser, what: &str, button: &str, condition: &str, args: Value) {
    let deadline = Instant::now() + PAGE_PATIENCE * 2;
    loop {
        browser.click(button).await;
        if browser
            .poll(condition, args.clone(), Duration::from_secs(4))
            .await
        {
            return;
        }
        if Instant::now() > deadline {
            browser.fail(&format!("timed out waiting for {what}")).await;
        }
    }
}

async fn figure(browser: &Browser, name: &str) -> i64 {
    browser
        .js(
            "const e = document.querySelector(`#analytics-summary [data-figure=${arguments[0]}] dd`);
             return e ? Number(e.textContent.replace(/[^0-9.]/g, '')) : -1;",
            json!([name]),
        )
        .await
        .as_f64()
        .unwrap_or(-1.0) as i64
}

async fn open_view(browser: &Browser, view: &str, ready: &str) {
    browser.click(&format!("#nav a[data-view={view}]")).await;
    browser.wait_visible(&format!("#view-{view}")).await;
    browser
        .wait_until(
            &format!("the {view} view to finish loading"),
            "(() => { const s = document.querySelector(arguments[0]);
                      return s && s.textContent.length > 0 && !s.classList.contains('loading'); })()",
            json!([ready]),
        )
        .await;
}

#[tokio::test]
async fn a_person_uses_the_dashboard_in_a_real_browser() {
    let page = dashboard(&api());
    let tenant = unique("dashboard");
    let topic = format!("Dashboard review {}", &tenant[tenant.len() - 6..]);
    let browser = Browser::start(1280, 900).await;
    let mut audit = Audit::default();

    // Sign in: the local stack mints a development token for a tenant name.
    browser.goto(&page).await;
    browser.wait_visible("#dev-token-form").await;
    audit.capture(&browser, "signin").await;
    browser.fill("#dev-tenant", "bad#name").await;
    browser.click("#dev-token-form button[type=submit]").await;
    browser.wait_text("#dev-tenant-error", "#").await;
    browser.fill("#dev-tenant", &tenant).await;
    browser.click("#dev-token-form button[type=submit]").await;
    browser
        .wait_text("#connect-status", "Zoom is not connected.")
        .await;
    browser.wait_text("#session-tenant", &tenant).await;

    // Connect: the real browser flow through the simulator and back to this page.
    browser.click("#connect-button").await;
    browser.wait_text("#banner", "Zoom connected").await;
    browser
        .wait_text("#connect-status", "Zoom is connected.")
        .await;
    browser.wait_text("#connection", "user:read").await;
    let url = browser.url().await;
    assert!(
        url.starts_with(&page) && !url.contains("zoom=") && !url.contains("token"),
        "the page cleaned its URL: {url}"
    );
    audit.capture(&browser, "connect").await;

    // Analytics of the new connection: nothing yet.
    open_view(&browser, "analytics", "#analytics-status").await;
    let started_before = figure(&browser, "meetings_started").await;
    let completed_before = figure(&browser, "meetings_completed").await;
    assert!(started_before >= 0, "the summary is shown");

    // Meetings: a bad passcode's error appears next to the passcode field.
    open_view(&browser, "meetings", "#meetings-status").await;
    browser.click("#new-meeting").await;
    browser.fill("#m-topic", &topic).await;
    browser
        .fill("#m-agenda", "Walk through the dashboard.")
        .await;
    browser.fill("#m-password", "bad pass!").await;
    browser.click("#meeting-submit").await;
    browser.wait_visible("#m-password-error").await;
    let field = browser
        .js(
            "const input = document.querySelector('#m-password');
             return { invalid: input.getAttribute('aria-invalid'),
                      described: input.getAttribute('aria-describedby'),
                      focused: document.activeElement === input,
                      message: document.querySelector('#m-password-error').textContent,
                      others: [...document.querySelectorAll('#meeting-form .field-error')]
                        .filter((e) => !e.hidden).map((e) => e.id),
                      problem: document.querySelector('#meeting-form [data-problem]').textContent };",
            json!([]),
        )
        .await;
    assert_eq!(field["invalid"], "true", "{field}");
    assert_eq!(
        field["focused"], true,
        "focus moved to the bad field: {field}"
    );
    assert!(
        field["described"]
            .as_str()
            .is_some_and(|d| d.contains("m-password-error")),
        "{field}"
    );
    assert_eq!(field["others"], json!(["m-password-error"]), "{field}");
    assert!(
        field["problem"].as_str().is_some_and(|p| !p.is_empty()),
        "the problem's title and detail are shown: {field}"
    );
    audit.capture(&browser, "meeting-error").await;

    // A good one is created and listed.
    browser.fill("#m-password", "Pass_123").await;
    browser.click("#meeting-submit").await;
    browser.wait_text("#banner", "created").await;
    let id = browser
        .wait_until(
            "the new meeting in the list",
            "(() => { const item = [...document.querySelectorAll('#meetings-list li[data-meeting-id]')]
                .find((li) => li.querySelector('h2').textContent === arguments[0]);
              return item ? item.dataset.meetingId : null; })()",
            json!([topic]),
        )
        .await
        .as_str()
        .expect("meeting id")
        .to_owned();
    let item = format!("#meetings-list li[data-meeting-id='{id}']");

    // Started at the simulator 50 minutes ago (meeting.started webhook), with two participants:
    // live.
    let minutes_ago = |m: i64| (chrono::Utc::now() - chrono::Duration::minutes(m)).to_rfc3339();
    sim(
        &format!("meetings/{id}/start"),
        json!({"at": minutes_ago(50)}),
    )
    .await;
    for (name, at) in [("Jill Example", 48), ("Sam Example", 40)] {
        sim(
            &format!("meetings/{id}/participants"),
            json!({"name": name, "email": format!("{}@example.com", name.split(' ').next().unwrap_or("x").to_lowercase()), "at": minutes_ago(at)}),
        )
        .await;
    }
    refresh_until(
        &browser,
        "the meeting to show as live",
        "#meetings-refresh",
        "(() => { const li = document.querySelector(arguments[0]);
                  return li && li.dataset.status === 'live'
                    && !document.querySelector('#meetings-status').classList.contains('loading'); })()",
        json!([item]),
    )
    .await;
    browser.click("#view-meetings [data-kind=live]").await;
    browser.wait_visible(&item).await;
    browser.wait_text(&format!("{item} .badge"), "Live").await;
    audit.capture(&browser, "meetings").await;
    browser.click("#view-meetings [data-kind=upcoming]").await;
    browser.wait_visible(&item).await;

    // Ended (meeting.ended, recording.completed): the analytics count it.
    sim(&format!("meetings/{id}/end"), json!({"record": true})).await;
    open_view(&browser, "analytics", "#analytics-status").await;
    refresh_until(
        &browser,
        "the ended meeting in the analytics",
        "#analytics-filter button[type=submit]",
        "(() => { const done = document.querySelector('#analytics-summary [data-figure=meetings_completed] dd');
                  const recent = document.querySelector('#recent-meetings');
                  return done && Number(done.textContent) > arguments[1]
                    && recent && recent.textContent.includes(arguments[0])
                    && !document.querySelector('#analytics-status').classList.contains('loading'); })()",
        json!([topic, completed_before]),
    )
    .await;
    assert!(figure(&browser, "meetings_started").await > started_before);
    // The charts are real: axes, labels, and a tooltip read with the keyboard.
    let chart = browser
        .js(
            "const svg = document.querySelector('#chart-meetings svg');
             return { ticks: svg.querySelectorAll('.axis text').length,
                      bars: svg.querySelectorAll('.bar').length,
                      titles: [...svg.querySelectorAll('.axis-title')].map((t) => t.textContent),
                      label: svg.getAttribute('aria-label') };",
            json!([]),
        )
        .await;
    assert!(
        chart["ticks"].as_u64() > Some(4) && chart["bars"].as_u64() >= Some(28),
        "{chart}"
    );
    assert_eq!(
        chart["titles"],
        json!(["Meetings started", "Day (UTC)"]),
        "{chart}"
    );
    browser
        .js(
            "document.querySelector('#chart-meetings svg').focus();",
            json!([]),
        )
        .await;
    browser.keys("\u{E012}").await; // ArrowLeft
    // The day before the last one: "0 meetings", or "1 meeting" when the run crossed midnight
    // UTC after the meeting started.
    browser.wait_text("#chart-meetings-live", "meeting").await;
    browser.wait_visible("#chart-meetings .tooltip").await;
    audit.capture(&browser, "analytics").await;

    // Users, paged.
    open_view(&browser, "users", "#users-status").await;
    browser.wait_visible("#users-rows tr").await;
    audit.capture(&browser, "users").await;
    browser.click("#users-next").await;
    browser.wait_text("#users-page", "Page 2").await;
    browser.wait_visible("#users-prev").await;

    // Recordings: a seeded recording's file, not archived for this connection yet.
    open_view(&browser, "recordings", "#recordings-status").await;
    let target = browser
        .wait_until(
            "a seeded recording with an M4A file",
            "(() => { const li = [...document.querySelectorAll('#recordings-list li[data-recording-id]')]
                .find((li) => li.querySelector('h2').textContent.startsWith('Retro 1 #0'));
              const row = li && [...li.querySelectorAll('tr[data-file-id]')]
                .find((tr) => tr.textContent.includes('M4A'));
              if (!row) return null;
              row.id = 'download-target';
              return row.querySelector('[data-label=Size]').textContent; })()",
            json!([]),
        )
        .await;
    browser.click("#download-target button").await;
    browser
        .wait_until(
            "the archiving state",
            "document.querySelector('#download-target button').dataset.state === 'archiving'
             && document.querySelector('#download-target .download-status').textContent.includes('Archiving')",
            json!([]),
        )
        .await;
    audit.capture(&browser, "recordings").await;
    browser
        .wait_text("#download-target .download-status", "Download started.")
        .await;
    let deadline = Instant::now() + PAGE_PATIENCE;
    let file = loop {
        if let Some(file) = browser.downloaded().into_iter().next() {
            break file;
        }
        assert!(
            Instant::now() < deadline,
            "the browser downloaded nothing ({target})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let size = std::fs::metadata(&file).expect("downloaded file").len();
    assert!(
        file.extension().is_some_and(|x| x == "m4a") && size > 100_000,
        "{} ({size} bytes, listed as {target})",
        file.display()
    );

    // Every view at 360 px: no overflow, no serious finding.
    browser.viewport(360, 780).await;
    for (view, ready) in [
        ("connect", "#connect-status"),
        ("meetings", "#meetings-status"),
        ("users", "#users-status"),
        ("recordings", "#recordings-status"),
        ("analytics", "#analytics-status"),
    ] {
        open_view(&browser, view, ready).await;
        if view == "meetings" {
            browser.wait_visible(&item).await;
        }
        audit.capture(&browser, view).await;
    }
    open_view(&browser, "meetings", "#meetings-status").await;
    browser.click("#new-meeting").await;
    browser.fill("#m-topic", "").await;
    browser.fill("#m-duration", "0").await;
    browser.click("#meeting-submit").await;
    browser.wait_visible("#m-duration-error").await;
    browser.wait_visible("#m-topic-error").await;
    audit.capture(&browser, "meeting-error").await;
    browser.click("#meeting-cancel").await;

    // Disconnect, after a confirmation.
    browser.viewport(1280, 900).await;
    open_view(&browser, "connect", "#connect-status").await;
    browser.click("#disconnect-button").await;
    browser.wait_visible("#confirm").await;
    audit.capture(&browser, "disconnect").await;
    browser.click("#confirm-cancel").await;
    browser
        .wait_until(
            "the dialog to close",
            "!document.querySelector('#confirm').open",
            json!([]),
        )
        .await;
    browser
        .wait_text("#connect-status", "Zoom is connected.")
        .await;
    browser.click("#disconnect-button").await;
    browser.click("#confirm-ok").await;
    browser.wait_text("#banner", "Zoom disconnected").await;
    browser
        .wait_text("#connect-status", "Zoom is not connected.")
        .await;
    let status = send(
        client()
            .get(format!("{}/api/zoom/connection-status", api()))
            .bearer_auth(zoom_e2e::jwt(&tenant)),
    )
    .await;
    assert_eq!(status.json()["connected"], false);

    // The accessibility report.
    let serious = audit.serious();
    report(&format!(
        "dashboard: axe-core {} on {} screens ({}): {} findings, {} serious or critical",
        axe_version(),
        audit.screens.len(),
        audit.screens.join(", "),
        audit.findings.len(),
        serious.len()
    ));
    for finding in &audit.findings {
        report(&format!("dashboard: axe {finding}"));
    }
    std::fs::write(
        screenshots().join("axe-report.json"),
        serde_json::to_string_pretty(&json!({"axe_core": axe_version(), "screens": audit.screens,
            "findings": audit.findings}))
        .expect("report"),
    )
    .expect("report written");
    assert!(
        serious.is_empty(),
        "serious or critical accessibility findings: {serious:#?}"
    );
}

/// Outside the local stack's switch, the development token route does not exist (as in AWS,
/// where template.yaml never sets it), while the page and its assets are served to anyone.
#[tokio::test]
async fn without_the_local_switch_dev_tokens_are_404() {
    let watch =
        ExtraWatch::start(&[("ZOOM_DASHBOARD_DEV_TOKENS", "0")], "/api/zoom/dashboard").await;
    let minted = send(
        client()
            .post(format!("{}/api/zoom/dashboard/dev-token", watch.api))
            .json(&json!({"tenant": "acme"})),
    )
    .await;
    minted.problem(404);
    let page = send(client().get(format!("{}/api/zoom/dashboard", watch.api))).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("script-src 'self'"))
    );
    let script = send(client().get(format!("{}/api/zoom/dashboard/app.js", watch.api))).await;
    assert_eq!(script.status, 200);
    assert!(script.text.contains("import"));
    // The shared stack (switch on) mints; the token is the tenant's for every function.
    let on = send(
        client()
            .post(format!("{}/api/zoom/dashboard/dev-token", api()))
            .json(&json!({"tenant": "acme-dev"})),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.text);
    let token = on.json()["token"].as_str().expect("token").to_owned();
    let status = send(
        client()
            .get(format!("{}/api/zoom/connection-status", api()))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status.status, 200, "{}", status.text);
}
