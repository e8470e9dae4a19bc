//! `hello-lambda`: echoes its event. The baseline that `tools/bench/coldstart.py` compares
//! every function's init with (same profile, same runtime crate, same tokio flavour).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
