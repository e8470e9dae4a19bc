//! Harness of the end-to-end tests.
//!
//! `tools/stack/stack.sh e2e` (run by `make test`) starts moto server, provisions the
//! template's resources and runs `cargo lambda watch` on free ports, then runs these tests
//! with `ZOOM_E2E_API` pointing at it. Tests talk HTTP like a real client.

pub mod browser;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// How long a test waits for a condition of the asynchronous pipeline (a webhook delivered, a
/// queue drained, analytics counted, a file archived) before it fails. Generous on purpose: a
/// test waits for the condition, never for a fixed time, and this bound only turns a condition
/// that never comes into a failure instead of a hang.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// A required environment variable of the test run, with a hint when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests with `make test` or `tools/stack/stack.sh e2e`")
    })
}

/// The base URL of the shared `cargo lambda watch` (e.g. `http://127.0.0.1:41234`).
pub fn api() -> String {
    env("ZOOM_E2E_API")
}

/// An HTTP client for the tests, with a timeout so no test can hang.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A caller JWT for `tenant`, signed with the stack's `API_JWT_SECRET`, valid for 10 minutes.
pub fn jwt(tenant: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": tenant, "exp": now + 600, "iat": now}),
        &EncodingKey::from_secret(env("API_JWT_SECRET").as_bytes()),
    )
    .expect("jwt")
}

/// A caller JWT for `tenant` with extra claims (e.g. Server-to-Server mode's `zoom_user`).
pub fn jwt_with(tenant: &str, extra: Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut claims = json!({"sub": tenant, "exp": now + 600, "iat": now});
    if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        claims.extend(extra.clone());
    }
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(env("API_JWT_SECRET").as_bytes()),
    )
    .expect("jwt")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts this is a problem+json answer with `status`, and returns its body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(body[member].is_string(), "problem lacks {member}: {body}");
        }
        body
    }
}

/// Sends `request` and reads the answer.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request reaches the stack");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// A name no other test uses (a tenant id, say): `prefix-{nanoseconds}`.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A second `cargo lambda watch`, with environment overrides, on its own port; stopped (with
/// every process it started) when dropped. Its output is kept in a log file.
pub struct ExtraWatch {
    child: Child,
    /// Its base URL.
    pub api: String,
    /// Its port.
    pub port: u16,
    /// Where its output (and its functions' logs) go.
    pub log: std::path::PathBuf,
}

impl ExtraWatch {
    /// Starts one with the stack's environment plus `overrides`, and waits until `probe_path`
    /// answers (which also builds and starts the function serving it).
    pub async fn start(overrides: &[(&str, &str)], probe_path: &str) -> Self {
        Self::start_on(free_port(), overrides, 1, probe_path).await
    }

    /// As [`ExtraWatch::start`], on `port`, with up to `concurrency` processes per function.
    pub async fn start_on(
        port: u16,
        overrides: &[(&str, &str)],
        concurrency: u32,
        probe_path: &str,
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let log = std::env::temp_dir().join(format!("zoom-e2e-watch-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new("cargo");
        command
            .current_dir(workspace_root())
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--env-file", &env("ZOOM_STACK_ENV_FILE")])
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .process_group(0);
        for (name, value) in overrides {
            command.args(["--env-var", &format!("{name}={value}")]);
        }
        let child = command.spawn().expect("cargo lambda watch starts");
        let watch = Self {
            child,
            api: format!("http://127.0.0.1:{port}"),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        let http = client();
        while http
            .get(format!("{}{probe_path}", watch.api))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "extra cargo lambda watch did not answer"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        watch
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ExtraWatch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
        // Kept where the stack asks (ZOOM_E2E_WATCH_LOGS, a directory), so the run's log
        // checks (secrets, metrics) read what this watch's functions wrote too.
        if let Some(dir) = std::env::var_os("ZOOM_E2E_WATCH_LOGS") {
            let name = format!("{}-{}.log", self.port, unique("watch"));
            let _ = std::fs::copy(&self.log, std::path::Path::new(&dir).join(name));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A Zoom simulator of a test's own (so counters are not shared with other tests).
pub struct SimProcess {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl SimProcess {
    /// Starts `zoom-sim` on a free port with the stack's OAuth app plus `overrides`.
    pub fn start(overrides: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut command = Command::new(env("ZOOM_SIM_BIN"));
        command
            .env("ZOOM_SIM_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in overrides {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("zoom-sim starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("zoom-sim announces itself");
        let url = line
            .trim()
            .strip_prefix("zoom-sim listening on ")
            .expect("url line")
            .to_owned();
        Self { child, url }
    }

    /// `GET /_sim/{path}`.
    pub async fn get(&self, path: &str) -> Value {
        send(client().get(format!("{}/_sim/{path}", self.url)))
            .await
            .json()
    }

    /// `POST /_sim/{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let answer = send(
            client()
                .post(format!("{}/_sim/{path}", self.url))
                .json(&body),
        )
        .await;
        assert_eq!(answer.status, 200, "sim admin {path}: {}", answer.text);
        answer.json()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A simulator and a watch of a test's own, wired to each other.
pub struct Isolated {
    /// The simulator.
    pub sim: SimProcess,
    /// The functions.
    pub watch: ExtraWatch,
    /// Its own poller, when asked for.
    pub poller: Option<Poller>,
    /// Its own (events, archive) queue URLs, when asked for.
    pub queues: (String, String),
}

/// An `sqs-poller` of a test's own; stopped when dropped.
pub struct Poller {
    child: Child,
}

/// Signs a webhook body as Zoom does.
pub fn zoom_signature(secret: &str, timestamp: &str, body: &str) -> String {
    use sha2::Digest;
    // HMAC-SHA256 by hand over sha2 (the tests' only HMAC), per RFC 2104.
    let mut key = secret.as_bytes().to_vec();
    if key.len() > 64 {
        key = sha2::Sha256::digest(&key).to_vec();
    }
    key.resize(64, 0);
    let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let mut h = sha2::Sha256::new();
    h.update(&inner);
    h.update(format!("v0:{timestamp}:{body}").as_bytes());
    let inner_hash = h.finalize();
    let mut h = sha2::Sha256::new();
    h.update(&outer);
    h.update(inner_hash);
    format!(
        "v0={}",
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The AWS endpoint seen through a `zoom-load proxy` of a test's own, which the test can take
/// down, stall (connections accepted, nothing answered: every call runs into its timeout) and
/// bring back; the emulator behind it keeps its state. Stopped when dropped.
pub struct AwsProxy {
    child: Child,
    /// The proxied endpoint (`http://127.0.0.1:{port}`), for `AWS_ENDPOINT_URL`.
    pub url: String,
}

impl AwsProxy {
    /// Starts one in front of the stack's `AWS_ENDPOINT_URL` and waits until it answers.
    pub async fn start() -> Self {
        let target = env("AWS_ENDPOINT_URL");
        let target = target
            .trim_end_matches('/')
            .rsplit("//")
            .next()
            .expect("host:port")
            .to_owned();
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env("ZOOM_LOAD_BIN"))
            .args(["proxy", &listen, &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zoom-load proxy starts");
        let proxy = Self {
            child,
            url: format!("http://{listen}"),
        };
        proxy.wait_until_answering().await;
        proxy
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "signal {name} delivered");
    }

    /// Refuses and resets every connection.
    pub fn down(&self) {
        self.signal("USR1");
    }

    /// Accepts connections and answers nothing.
    pub fn stall(&self) {
        self.signal("HUP");
    }

    /// Back to normal; returns once a request through it is answered again.
    pub async fn up(&self) {
        self.signal("USR2");
        self.wait_until_answering().await;
    }

    async fn wait_until_answering(&self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(120);
        while http
            .get(format!("{}/moto-api/", self.url))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the AWS proxy does not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Messages in a queue (visible, in flight and delayed: a queued settle job counts).
pub async fn queue_depth(url: &str) -> u64 {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let answer = aws_sdk_sqs::Client::new(&config)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("queue attributes");
    answer
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a queue of the test's own in the emulator; returns its URL.
pub async fn create_queue(name: &str) -> String {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned()
}

/// As [`isolated_with`], plus an archive queue and poller of its own (for recording archives).
pub async fn isolated_archiving(sim_env: &[(&str, &str)]) -> Isolated {
    isolated_pipeline(
        sim_env,
        &[],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await
}

/// [`isolated_pipeline`] with the stack's settings and an events queue of its own.
pub async fn own_pipeline() -> Isolated {
    isolated_pipeline(
        &[],
        &[],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await
}

/// [`own_pipeline`], and a new tenant named after `prefix` connected to its simulator.
pub async fn connected_pipeline(prefix: &str) -> (Isolated, String) {
    let env = own_pipeline().await;
    let tenant = unique(prefix);
    connect(&env.watch.api, &tenant).await;
    (env, tenant)
}

/// An isolated simulator and watch with their own events and archive queues and a poller
/// feeding them to the processor and the archiver. `events_queue` names the events queue; with
/// `create_events_queue` false it is not created (the test creates it later: SQS "down").
pub async fn isolated_pipeline(
    sim_env: &[(&str, &str)],
    overrides: &[(&str, &str)],
    events_queue: &str,
    create_events_queue: bool,
) -> Isolated {
    let archive = create_queue(&stand_in(
        "ZOOM_ARCHIVE_QUEUE_URL",
        &free_port().to_string(),
    ))
    .await;
    let events = if create_events_queue {
        create_queue(events_queue).await
    } else {
        let base = env("AWS_ENDPOINT_URL");
        format!("{}/123456789012/{events_queue}", base.trim_end_matches('/'))
    };
    let mut all: Vec<(&str, &str)> = vec![
        ("ZOOM_ARCHIVE_QUEUE_URL", archive.as_str()),
        ("ZOOM_EVENTS_QUEUE_URL", events.as_str()),
    ];
    all.extend_from_slice(overrides);
    let mut env_ = isolated_with(sim_env, &all, 1).await;
    if create_events_queue {
        env_.poller = Some(start_poller(
            &env_.watch.api,
            &[
                (&archive, "zoom-recording-archiver"),
                (&events, "zoom-analytics-processor"),
            ],
        ));
    }
    env_.queues = (events, archive);
    env_
}

/// Starts an `sqs-poller` for `routes` (queue URL, function).
pub fn start_poller(api: &str, routes: &[(&str, &str)]) -> Poller {
    start_poller_with(api, routes, 1)
}

/// As [`start_poller`], with `pollers` pollers per queue (as Lambda runs several invocations
/// of an event source mapping at once).
pub fn start_poller_with(api: &str, routes: &[(&str, &str)], pollers: u32) -> Poller {
    let routes: Vec<String> = routes.iter().map(|(q, f)| format!("{q}={f}")).collect();
    // Its output is kept (what it handled, what failed) for a failing test to be read.
    let log = std::env::temp_dir().join(format!("zoom-e2e-poller-{}.log", free_port()));
    let out = std::fs::File::create(&log).expect("poller log");
    let child = Command::new(env_var("ZOOM_POLLER_BIN"))
        .env("POLLER_WATCH_URL", api)
        .env("POLLER_CONCURRENCY", pollers.to_string())
        .env("POLLER_ROUTES", routes.join(","))
        .stdout(out.try_clone().expect("poller log"))
        .stderr(out)
        .spawn()
        .expect("sqs-poller starts");
    Poller { child }
}

fn env_var(name: &str) -> String {
    env(name)
}

/// Starts an isolated simulator + watch (`concurrency` processes per function), with extra
/// function environment `overrides`.
pub async fn isolated(overrides: &[(&str, &str)], concurrency: u32) -> Isolated {
    isolated_with(&[], overrides, concurrency).await
}

/// As [`isolated`], with extra simulator settings `sim_env` (e.g. `ZOOM_SIM_PLAN`).
pub async fn isolated_with(
    sim_env: &[(&str, &str)],
    overrides: &[(&str, &str)],
    concurrency: u32,
) -> Isolated {
    let port = free_port();
    let redirect = format!("http://localhost:{port}/api/auth/zoom/callback");
    let hooks = format!("http://127.0.0.1:{port}/api/zoom/webhooks");
    // Its own seed: its own account, users and meetings, so webhooks never reach other tests'
    // tenants through a shared account id.
    let seed = port.to_string();
    let mut sim_settings: Vec<(&str, &str)> = vec![
        ("ZOOM_SIM_SEED", seed.as_str()),
        ("ZOOM_REDIRECT_URI", redirect.as_str()),
        ("ZOOM_SIM_WEBHOOK_URL", hooks.as_str()),
        ("ZOOM_SIM_WEBHOOK_RETRY_DELAYS_MS", "300,300,300"),
    ];
    sim_settings.extend_from_slice(sim_env);
    let sim = SimProcess::start(&sim_settings);
    let api = format!("{}/v2", sim.url);
    let mut env_vars: Vec<(&str, &str)> = vec![
        ("ZOOM_API_BASE_URL", api.as_str()),
        ("ZOOM_OAUTH_BASE_URL", sim.url.as_str()),
        ("ZOOM_REDIRECT_URI", redirect.as_str()),
    ];
    env_vars.extend_from_slice(overrides);
    let watch = ExtraWatch::start_on(port, &env_vars, concurrency, "/api/zoom/health").await;
    Isolated {
        sim,
        watch,
        poller: None,
        queues: Default::default(),
    }
}

/// Runs the browser OAuth flow for `tenant` against `api` (the watch): authorize, follow the
/// simulator's redirect to our callback, land on the app URL. Returns that final URL.
pub async fn connect(api: &str, tenant: &str) -> String {
    let http = client();
    let started = send(
        http.get(format!("{api}/api/zoom/auth/authorize"))
            .bearer_auth(jwt(tenant)),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let authorize_url = started.json()["authorize_url"]
        .as_str()
        .expect("authorize_url")
        .to_owned();
    let cookie = browser_cookie(&started);
    let at_zoom = send(http.get(&authorize_url)).await;
    assert_eq!(at_zoom.status, 302, "{}", at_zoom.text);
    let callback = at_zoom
        .header("location")
        .expect("redirect to our callback")
        .to_owned();
    // The same browser comes back: it presents the cookie the authorize answer set.
    let landed = send(http.get(&callback).header("cookie", cookie)).await;
    assert_eq!(landed.status, 302, "{}", landed.text);
    landed
        .header("location")
        .expect("redirect to the app")
        .to_owned()
}

/// The ids of the simulator's first `n` users (user 0 is the account owner), read through the
/// admin API; the authorizing user is set back to 0.
pub async fn sim_users(sim: &SimProcess, n: usize) -> Vec<String> {
    let mut users = Vec::new();
    for index in 0..n {
        sim.post("config", json!({"authorizing_user": index})).await;
        let account = sim.get("account").await;
        users.push(
            account["authorizing_user"]["id"]
                .as_str()
                .expect("user id")
                .to_owned(),
        );
    }
    sim.post("config", json!({"authorizing_user": 0})).await;
    users
}

/// The ids of the simulator's meetings hosted by `host`.
pub async fn meetings_of(sim: &SimProcess, host: &str) -> Vec<i64> {
    sim.get("account").await["meetings"]
        .as_array()
        .expect("meetings")
        .iter()
        .filter(|m| m["host_id"] == host)
        .filter_map(|m| m["id"].as_i64())
        .collect()
}

/// The `name=value` of the browser-binding cookie an authorize answer sets.
pub fn browser_cookie(authorize: &Answer) -> String {
    let set_cookie = authorize
        .header("set-cookie")
        .expect("the authorize answer binds the browser with a cookie");
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("Secure")
            && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .trim()
        .to_owned()
}

/// The DynamoDB table of the stack, through the emulator.
pub async fn dynamodb() -> (aws_sdk_dynamodb::Client, String) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let env_file = std::fs::read_to_string(env("ZOOM_STACK_ENV_FILE")).expect("stack env file");
    let table = env_file
        .lines()
        .find_map(|l| l.strip_prefix("ZOOM_TABLE_NAME="))
        .expect("table name")
        .to_owned();
    (aws_sdk_dynamodb::Client::new(&config), table)
}

/// A variable of the stack's environment file (table, queues, bucket).
pub fn stack_env(name: &str) -> String {
    let env_file = std::fs::read_to_string(env("ZOOM_STACK_ENV_FILE")).expect("stack env file");
    env_file
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in the stack env file"))
        .to_owned()
}

/// The tenant's connection item as stored (read consistently), if connected.
pub async fn connection_item(
    tenant: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let (client, table) = dynamodb().await;
    client
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{tenant}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CONNECTION".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("get connection")
        .item()
        .cloned()
}

/// The id of the tenant's current connection (the namespace of its data), if connected.
pub async fn connection_id(tenant: &str) -> Option<String> {
    connection_item(tenant)
        .await?
        .get("connection_id")
        .and_then(|v| v.as_s().ok())
        .cloned()
}

/// The recordings bucket's prefix of a tenant's connection.
pub fn object_prefix(tenant: &str, connection_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tenant.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("tenants/{hex}/{connection_id}/")
}

/// An S3 client of the tests (the emulator, path-style).
async fn s3() -> aws_sdk_s3::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// Starts a multipart upload at `key` in the recordings bucket and leaves it unfinished (as a
/// crashed archiver would).
pub async fn start_unfinished_upload(key: &str) {
    s3().await
        .create_multipart_upload()
        .bucket(stack_env("ZOOM_RECORDINGS_BUCKET"))
        .key(key)
        .send()
        .await
        .expect("create multipart upload");
}

/// The keys of unfinished multipart uploads under `prefix` in the recordings bucket.
pub async fn unfinished_uploads(prefix: &str) -> Vec<String> {
    s3().await
        .list_multipart_uploads()
        .bucket(stack_env("ZOOM_RECORDINGS_BUCKET"))
        .prefix(prefix)
        .send()
        .await
        .expect("list multipart uploads")
        .uploads()
        .iter()
        .filter_map(|u| u.key().map(str::to_owned))
        .collect()
}

/// Every object version (and delete marker) under `prefix` in the recordings bucket.
pub async fn bucket_versions(prefix: &str) -> Vec<String> {
    let s3 = s3().await;
    let answer = s3
        .list_object_versions()
        .bucket(stack_env("ZOOM_RECORDINGS_BUCKET"))
        .prefix(prefix)
        .send()
        .await
        .expect("list object versions");
    let versions = answer
        .versions()
        .iter()
        .filter_map(|v| v.key().map(str::to_owned));
    let markers = answer
        .delete_markers()
        .iter()
        .filter_map(|m| m.key().map(|k| format!("{k} (delete marker)")));
    versions.chain(markers).collect()
}

/// Every item of the table, as JSON-ish text per item.
pub async fn scan_table() -> Vec<String> {
    let (client, table) = dynamodb().await;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items().iter().map(|i| format!("{i:?}")));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The name of a resource of a test's own that stands in for one of the stack's: the stack's
/// name for the resource `variable` names in `ZOOM_STACK_ENV_FILE` (a table or bucket name, or a
/// queue URL's last segment) plus `-{suffix}`. Locally a function may use such a resource as the
/// one template.yaml grants it (tools/stack/provision.py), so a test's own events queue works
/// under least privilege; a resource of any other name is denied, as in AWS.
pub fn stand_in(variable: &str, suffix: &str) -> String {
    let env_file = std::fs::read_to_string(env("ZOOM_STACK_ENV_FILE")).expect("stack env file");
    let prefix = format!("{variable}=");
    let value = env_file
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{variable} is not in the stack's env file"));
    let name = value.rsplit('/').next().expect("a name");
    format!("{name}-{suffix}")
}

/// An AWS emulator of a test's own: `tools/stack/moto_server.py` from `.venv` on a free port,
/// provisioned by `tools/stack/provision.py` from `template` (the text of a template.yaml), with
/// every function's statements registered and its decisions in an audit log of its own. A test
/// that expects a denial uses one, so its denials never reach the stack's audit log (which
/// `tools/stack/check_iam.py` requires to have none). Stopped when dropped.
pub struct OwnAws {
    child: Child,
    dir: std::path::PathBuf,
    /// Its endpoint, for `AWS_ENDPOINT_URL`.
    pub url: String,
    /// The functions' variables for its resources (`ZOOM_TABLE_NAME`, the queue URLs, …).
    pub env: Vec<(String, String)>,
}

impl OwnAws {
    /// Starts it, provisions `template` in it and waits until it answers.
    pub async fn start(template: &str) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("zoom-e2e-aws-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let python = workspace_root().join(".venv/bin/python");
        let child = Command::new(&python)
            .arg(workspace_root().join("tools/stack/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("ZOOM_IAM_AUDIT_LOG", dir.join("audit.jsonl"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the moto wrapper starts (run `make bootstrap` for .venv)");
        let mut aws = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            env: Vec::new(),
        };
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(120);
        while http
            .get(format!("{}/moto-api/", aws.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the own emulator does not answer"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let copy = aws.dir.join("template.yaml");
        std::fs::write(&copy, template).expect("template copy");
        let env_out = aws.dir.join("stack.env");
        let status = Command::new(&python)
            .current_dir(workspace_root())
            .arg("tools/stack/provision.py")
            .arg("--template")
            .arg(&copy)
            .args(["--prefix", &format!("iam-{port}")])
            .arg("--env-out")
            .arg(&env_out)
            .arg("--iam-policies")
            .arg(aws.dir.join("policies.json"))
            .env("AWS_ENDPOINT_URL", &aws.url)
            .stdout(Stdio::null())
            .status()
            .expect("provision.py runs");
        assert!(status.success(), "provisioning the own emulator failed");
        aws.env = std::fs::read_to_string(&env_out)
            .expect("provisioned environment")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        aws
    }

    /// Every decision so far for a registered function (JSON lines: `principal`, `action`,
    /// `resource`, `allowed`, …).
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for OwnAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Now, in epoch seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// yyyy-mm-dd (UTC) of an epoch second (Howard Hinnant's civil-from-days).
pub fn date_of(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 (UTC, seconds) of an epoch second.
pub fn iso(t: i64) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of(t),
        (t % 86_400) / 3600,
        (t % 3600) / 60,
        t % 60
    )
}
