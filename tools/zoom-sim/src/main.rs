//! `zoom-sim`: runs the Zoom simulator until interrupted. Settings come from the environment
//! (see `config.rs`); `ZOOM_SIM_LISTEN=127.0.0.1:0` picks a free port, printed on stdout.

#[tokio::main]
async fn main() {
    let config = match zoom_sim::config::SimConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("zoom-sim: configuration error: {error}");
            std::process::exit(1);
        }
    };
    let running = match zoom_sim::start(config).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("zoom-sim: cannot listen: {error}");
            std::process::exit(1);
        }
    };
    println!("zoom-sim listening on {}", running.url());
    let _ = tokio::signal::ctrl_c().await;
}
