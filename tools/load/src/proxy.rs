//! A TCP proxy in front of the AWS emulator that can be taken down, slowed to a stall and
//! brought back:
//! - SIGUSR1 closes the listener and cuts every open connection (clients see refused and reset
//!   connections, as when the endpoint stops);
//! - SIGHUP stalls it: open connections are cut, new ones are accepted but no byte is passed
//!   on, so every request runs into the client's timeout (as when the endpoint is overloaded);
//! - SIGUSR2 brings it back to normal from either state.
//!
//! The emulator keeps its state, as AWS does through an outage; restarting moto itself would
//! empty it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// The proxy's switches, shared by the signal task and the connections.
struct State {
    /// Listening at all.
    up: AtomicBool,
    /// Accepting but passing nothing on.
    stalled: AtomicBool,
    /// Bumped to cut every connection opened before.
    generation: AtomicU64,
}

/// Runs the proxy until killed.
pub async fn run(listen: &str, target: &str) -> Result<(), String> {
    let state = Arc::new(State {
        up: AtomicBool::new(true),
        stalled: AtomicBool::new(false),
        generation: AtomicU64::new(0),
    });
    let (cut_tx, cut_rx) = watch::channel(0u64);
    let mut down = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let mut again = signal(SignalKind::user_defined2()).map_err(|e| e.to_string())?;
    let mut stall = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    {
        let state = state.clone();
        tokio::spawn(async move {
            let cut = |state: &State| {
                let g = state.generation.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = cut_tx.send(g);
            };
            loop {
                tokio::select! {
                    _ = down.recv() => {
                        state.up.store(false, Ordering::SeqCst);
                        cut(&state);
                        eprintln!("proxy: down");
                    }
                    _ = stall.recv() => {
                        state.stalled.store(true, Ordering::SeqCst);
                        cut(&state);
                        eprintln!("proxy: stalled");
                    }
                    _ = again.recv() => {
                        state.stalled.store(false, Ordering::SeqCst);
                        state.up.store(true, Ordering::SeqCst);
                        // Stalled connections go too: their clients have given up on them.
                        cut(&state);
                        eprintln!("proxy: up");
                    }
                }
            }
        });
    }
    loop {
        while !state.up.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("bind {listen}: {e}"))?;
        while state.up.load(Ordering::SeqCst) {
            let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
            let Ok(Ok((client, _))) = accepted else {
                continue;
            };
            let target = target.to_owned();
            let mut cut = cut_rx.clone();
            let born = state.generation.load(Ordering::SeqCst);
            let stalled = state.stalled.load(Ordering::SeqCst);
            tokio::spawn(async move {
                if stalled {
                    // Hold the connection, pass nothing, until the next switch cuts it.
                    let _held = client;
                    let _ = cut.wait_for(|g| *g > born).await;
                    return;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client, mut server) = (client, server);
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cut.wait_for(|g| *g > born) => {}
                }
            });
        }
        drop(listener);
    }
}
