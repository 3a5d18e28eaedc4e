//! Load generator for `bench/slow_clients.sh` (issue 11, slow clients): holds
//! CONNECTIONS slow connections open to doorstep on 127.0.0.1 for SECONDS
//! seconds while probing `GET /health` every 100 ms, then prints what
//! happened. Half the connections send a request head that never ends, the
//! other half a complete head and then a body, one byte every DRIBBLE_MS;
//! whenever the server closes one, it is opened again RECONNECT_MS later, as
//! an attacker would. They come from SOURCES loopback addresses
//! (127.0.1.1, 127.0.1.2, …); the probes from 127.0.0.2, an address of its
//! own. Everything is bounded: a fixed number of connections, a fixed time,
//! and only loopback addresses (the target is always 127.0.0.1).
//!
//! Usage: slow_clients PORT CONNECTIONS SECONDS SOURCES [DRIBBLE_MS] [RECONNECT_MS]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Duration, Instant, sleep, sleep_until, timeout};

const TARGET: Ipv4Addr = Ipv4Addr::LOCALHOST;
const PROBE_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// A probe still unanswered after this long counts as unanswered.
const PROBE_GIVE_UP: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counts {
    attempts: AtomicU64,
    connect_failed: AtomicU64,
    answered_408: AtomicU64,
    answered_other: AtomicU64,
    closed_silently: AtomicU64,
    open_now: AtomicU64,
    open_peak: AtomicU64,
    open_at_end: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Plan {
    port: u16,
    end: Instant,
    dribble: Duration,
    reconnect: Duration,
}

fn source_address(i: usize) -> Ipv4Addr {
    // 127.0.1.1 .. 127.0.1.250, 127.0.2.1 ..: loopback, and never 127.0.0.x.
    Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8)
}

async fn connect_from(source: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(SocketAddr::from((TARGET, port))).await
}

/// One slow client, reconnecting until the end of the run.
async fn slow_client(index: usize, source: Ipv4Addr, plan: Arc<Plan>, counts: Arc<Counts>) {
    let head: &[u8] = if index.is_multiple_of(2) {
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    } else {
        b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\n\r\n"
    };
    while Instant::now() < plan.end {
        bump(&counts.attempts);
        let stream = match connect_from(source, plan.port).await {
            Ok(s) => s,
            Err(_) => {
                bump(&counts.connect_failed);
                sleep(plan.reconnect).await;
                continue;
            }
        };
        let open = counts.open_now.fetch_add(1, Ordering::Relaxed) + 1;
        counts.open_peak.fetch_max(open, Ordering::Relaxed);
        let (mut rd, mut wr) = stream.into_split();
        let writer = async {
            if wr.write_all(head).await.is_err() {
                return;
            }
            loop {
                sleep(plan.dribble).await;
                if wr.write_all(b"a").await.is_err() {
                    return;
                }
            }
        };
        let reader = async {
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::pin!(reader);
        let got = tokio::select! {
            got = &mut reader => Some(got),
            // A failed write means the server is gone; read what it said.
            () = writer => timeout(Duration::from_secs(1), &mut reader).await.ok(),
            () = sleep_until(plan.end) => {
                bump(&counts.open_at_end);
                counts.open_now.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        counts.open_now.fetch_sub(1, Ordering::Relaxed);
        match got {
            Some(g) if g.starts_with(b"HTTP/1.1 408") => bump(&counts.answered_408),
            Some(g) if !g.is_empty() => bump(&counts.answered_other),
            _ => bump(&counts.closed_silently),
        }
        sleep(plan.reconnect).await;
    }
}

/// One probe: a new connection, `GET /health`, time to the status line.
async fn probe(port: u16) -> Option<Duration> {
    let start = Instant::now();
    let answer = async {
        let mut conn = connect_from(PROBE_SOURCE, port).await.ok()?;
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.windows(2).any(|w| w == b"\r\n") {
            let n = conn.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.starts_with(b"HTTP/1.1 200").then(|| start.elapsed())
    };
    timeout(PROBE_GIVE_UP, answer).await.ok().flatten()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn arg(args: &[String], i: usize, default: Option<u64>) -> Option<u64> {
    match args.get(i) {
        Some(a) => a.parse().ok(),
        None => default,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (
        Some(port),
        Some(connections),
        Some(seconds),
        Some(sources),
        Some(dribble),
        Some(reconnect),
    ) = (
        arg(&args, 1, None),
        arg(&args, 2, None),
        arg(&args, 3, None),
        arg(&args, 4, None),
        arg(&args, 5, Some(1000)),
        arg(&args, 6, Some(500)),
    )
    else {
        eprintln!(
            "usage: slow_clients PORT CONNECTIONS SECONDS SOURCES [DRIBBLE_MS] [RECONNECT_MS]"
        );
        return ExitCode::from(2);
    };
    let (Ok(port), true, true, true) = (
        u16::try_from(port),
        (1..=20_000).contains(&connections),
        (1..=600).contains(&seconds),
        (1..=connections.min(2_000)).contains(&sources),
    ) else {
        eprintln!("out of bounds: 1-20000 connections, 1-600 seconds, 1-2000 sources");
        return ExitCode::from(2);
    };

    let plan = Arc::new(Plan {
        port,
        end: Instant::now() + Duration::from_secs(seconds),
        dribble: Duration::from_millis(dribble),
        reconnect: Duration::from_millis(reconnect),
    });
    let counts = Arc::new(Counts::default());
    let clients: Vec<_> = (0..connections as usize)
        .map(|i| {
            let source = source_address(i % sources as usize);
            tokio::spawn(slow_client(i, source, plan.clone(), counts.clone()))
        })
        .collect();

    let mut probes = Vec::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    while Instant::now() < plan.end {
        tick.tick().await;
        probes.push(tokio::spawn(probe(port)));
    }
    let mut latencies = Vec::new();
    let sent = probes.len();
    for p in probes {
        if let Ok(Some(d)) = p.await {
            latencies.push(d);
        }
    }
    for c in clients {
        let _ = c.await;
    }
    latencies.sort();

    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "slow connections: {connections} from {sources} source address(es), a byte every {dribble} ms, \
         reopened {reconnect} ms after a close, for {seconds} s"
    );
    println!(
        "  connections opened: {} (connect failures: {})",
        n(&counts.attempts),
        n(&counts.connect_failed)
    );
    println!(
        "  ended by the server: {} with 408, {} with another answer, {} closed without an answer",
        n(&counts.answered_408),
        n(&counts.answered_other),
        n(&counts.closed_silently)
    );
    println!(
        "  open at once: peak {}, at the end {}",
        n(&counts.open_peak),
        n(&counts.open_at_end)
    );
    println!(
        "probes (GET /health every 100 ms from 127.0.0.2): sent {sent}, answered 200 {}, unanswered {}",
        latencies.len(),
        sent - latencies.len()
    );
    println!(
        "  latency ms: p50 {:.1}, p99 {:.1}, max {:.1}; answered under 1 s: {}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        latencies
            .iter()
            .filter(|d| **d < Duration::from_secs(1))
            .count()
    );
    ExitCode::SUCCESS
}
