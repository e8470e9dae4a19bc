//! `zoom-load`: the load and fault runs of docs/benchmarks.md, against a running local stack.
//!
//! ```text
//! zoom-load run [--events N] [--senders N] [--reads N] [--readers N] [--faults]
//! zoom-load cost [--scenario small|day|meeting|all] [--meetings N] [--participants N]
//!                [--senders N] [--rate N] [--timeout SECS] [--json PATH]
//!                                   measured AWS requests and capacity per event (cost.rs)
//! zoom-load proxy LISTEN TARGET      TCP proxy; SIGUSR1 takes it down, SIGHUP stalls it,
//!                                   SIGUSR2 back to normal
//! ```
//!
//! `run` reads the stack from the environment `tools/stack/stack.sh load` exports
//! (`ZOOM_E2E_API`, `ZOOM_SIM_URL`, `API_JWT_SECRET`, `ZOOM_WEBHOOK_SECRET_TOKEN`, and
//! `ZOOM_LOAD_PROXY_PID` for the AWS endpoint's proxy), prints a report and exits non-zero when
//! a target is missed: an event lost or counted twice, a 5xx left unretried, a read answered
//! with anything but a correct answer or a 429/502/503/504 problem, or an answer slower than
//! the function timeout. `cost` reads the same environment (`tools/stack/stack.sh cost`) plus
//! `AWS_ENDPOINT_URL` (the emulator's meter), `ZOOM_STACK_ENV_FILE` (the events queue and the
//! table) and `ZOOM_POLLER_LOG` (the processor's invocations), and reports without verdicts
//! that fail.

mod cost;
mod proxy;
mod reads;
mod rss;
mod stack;
mod webhooks;

use std::time::Duration;

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Webhook events to send.
    pub events: usize,
    /// Concurrent webhook senders.
    pub senders: usize,
    /// API reads.
    pub reads: usize,
    /// Concurrent readers.
    pub readers: usize,
    /// Inject faults during both phases.
    pub faults: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        events: 20_000,
        senders: 32,
        reads: 2_000,
        readers: 50,
        faults: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--events" => options.events = number("--events")?,
            "--senders" => options.senders = number("--senders")?.max(1),
            "--reads" => options.reads = number("--reads")?,
            "--readers" => options.readers = number("--readers")?.max(1),
            "--faults" => options.faults = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("proxy") if args.len() == 3 => proxy::run(&args[1], &args[2]).await,
        Some("run") => match parse(&args[1..]) {
            Ok(options) => run(options).await,
            Err(e) => Err(e),
        },
        Some("cost") => match cost::parse(&args[1..]) {
            Ok(options) => match stack::Stack::from_env() {
                Ok(stack) => cost::run(&stack, options).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        _ => Err("usage: zoom-load run [--events N] [--senders N] [--reads N] [--readers N] [--faults] | zoom-load cost [--scenario small|day|meeting|all] [--meetings N] [--participants N] [--senders N] [--rate N] [--timeout SECS] [--json PATH] | zoom-load proxy LISTEN TARGET".into()),
    };
    if let Err(e) = outcome {
        eprintln!("zoom-load: {e}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), String> {
    let stack = stack::Stack::from_env()?;
    println!("# zoom-load run {options:?}");
    let sampler = rss::Sampler::start(Duration::from_millis(100), rss::stack_marker());
    let tenant = format!("load-{}", chrono::Utc::now().timestamp_millis());
    stack.connect(&tenant).await?;
    let mut failures = Vec::new();
    let report = webhooks::run(&stack, &tenant, &options).await?;
    println!("{report}");
    failures.extend(report.failures());
    let report = reads::run(&stack, &tenant, &options).await?;
    println!("{report}");
    failures.extend(report.failures());
    let peaks = sampler.stop().await;
    println!("{peaks}");
    failures.extend(peaks.failures(40 * 1024));
    if failures.is_empty() {
        println!("## verdict: every target met");
        Ok(())
    } else {
        for f in &failures {
            println!("- MISSED: {f}");
        }
        Err(format!("{} target(s) missed", failures.len()))
    }
}
