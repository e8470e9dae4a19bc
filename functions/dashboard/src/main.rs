//! `zoom-dashboard`: the web page at `GET /api/zoom/dashboard` and its assets (no caller JWT:
//! a browser navigation carries none). The page holds no user data; it calls the API with the
//! caller's JWT from the browser. Locally it can also mint development tokens.
//!
//! Thin on purpose: read the configuration, build the handler once, run it.

mod assets;
mod dev_token;
mod handler;

use zoom_shared::config::{Env, exit_on_error};

const FUNCTION: &str = "zoom-dashboard";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let dev_tokens = exit_on_error(FUNCTION, dev_token::DevTokens::from_env(&env));
    let handler = handler::DashboardHandler {
        assets: assets::Assets::compiled(),
        dev_tokens,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
