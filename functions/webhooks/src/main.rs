//! `zoom-webhooks`: `POST /api/zoom/webhooks`. Verifies each delivery over its raw bytes,
//! answers fast, and hands processed events to SQS. Builds its dependencies once.

mod handler;

use secrecy::ExposeSecret;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::config::{ConfigError, Env, ZoomApp, exit_on_error, vars};
use zoom_shared::metrics::Metrics;
use zoom_shared::webhooks::intake::IntakeConfig;

const FUNCTION: &str = "zoom-webhooks";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let app = exit_on_error(FUNCTION, ZoomApp::from_env(&env));
    let secret = exit_on_error(
        FUNCTION,
        app.webhook_secret
            .clone()
            .ok_or(ConfigError::Missing(vars::ZOOM_WEBHOOK_SECRET_TOKEN)),
    );
    let queue_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_EVENTS_QUEUE_URL)).to_owned();
    let bucket = exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let sdk = zoom_shared::aws::load_config().await;
    let handler = handler::WebhookHandler {
        config: IntakeConfig {
            secret: secret.expose_secret().as_bytes().to_vec(),
            verification_token: app
                .verification_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        },
        queue: Queue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
        spool: Bucket::new(&sdk, bucket),
        metrics: Metrics::new(FUNCTION),
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
