//! A TCP proxy in front of the AWS emulator that can be taken down and brought back: SIGUSR1
//! closes the listener and cuts every open connection (clients see refused and reset
//! connections, as when the endpoint stops), SIGUSR2 listens again. The emulator keeps its
//! state, as AWS does through an outage; restarting moto itself would empty it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Runs the proxy until killed.
pub async fn run(listen: &str, target: &str) -> Result<(), String> {
    let up = Arc::new(AtomicBool::new(true));
    let generation = Arc::new(AtomicU64::new(0));
    let (cut_tx, cut_rx) = watch::channel(0u64);
    let mut down = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let mut again = signal(SignalKind::user_defined2()).map_err(|e| e.to_string())?;
    {
        let (up, generation) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = down.recv() => {
                        up.store(false, Ordering::SeqCst);
                        let g = generation.fetch_add(1, Ordering::SeqCst) + 1;
                        let _ = cut_tx.send(g);
                        eprintln!("proxy: down");
                    }
                    _ = again.recv() => {
                        up.store(true, Ordering::SeqCst);
                        eprintln!("proxy: up");
                    }
                }
            }
        });
    }
    loop {
        while !up.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("bind {listen}: {e}"))?;
        while up.load(Ordering::SeqCst) {
            let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
            let Ok(Ok((client, _))) = accepted else {
                continue;
            };
            let target = target.to_owned();
            let mut cut = cut_rx.clone();
            let born = generation.load(Ordering::SeqCst);
            tokio::spawn(async move {
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
