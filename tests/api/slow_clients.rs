//! Slow clients cannot take the server down (issue 11): deadlines on the
//! request head and body, a cap on connections per address, and the
//! open-files limit raised at start-up. Each test shortens the deadlines it
//! needs through `Settings::limits` and asserts on what happens to the
//! connection (an answer, or a close), never on how long it took; the
//! 60-second caps only stop a failing test from hanging.
//!
//! The load figures (2,000 slow connections for 30 s) come from
//! `bench/slow_clients.sh`, not from here.

use crate::helpers::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};

/// Long enough for any loaded machine; only a failing test waits this long.
const CAP: Duration = Duration::from_secs(60);

/// A connection to the test server from `source`, another loopback address
/// (all of 127.0.0.0/8 is local, so each stands for a different client).
async fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback source address");
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect")
}

/// Sends `GET path` and reads the whole answer, leaving the connection
/// usable. `None` when the server closed the connection instead.
async fn get_status(conn: &mut TcpStream, path: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    conn.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(CAP, conn.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            Ok(_) => return None,
            Err(_) => panic!("no answer and no close within {CAP:?}"),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.ok()?;
    Some(status)
}

/// Everything the server sends until it closes the connection; panics if
/// it never does.
async fn read_until_closed(mut rd: OwnedReadHalf) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(CAP, read_all)
        .await
        .expect("the server closed the connection");
    String::from_utf8_lossy(&received).to_string()
}

/// Writes one byte every 100 ms, until the server stops taking them.
fn dribble(mut wr: tokio::net::tcp::OwnedWriteHalf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while wr.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test]
async fn a_body_dribbled_past_its_deadline_gets_408_and_a_close_while_others_are_served() {
    let app = TestApp::spawn_with(|s| s.limits.body_deadline = Duration::from_secs(1)).await;
    let mut conn = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    conn.write_all(
        b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\n\r\ngrant_type=",
    )
    .await
    .expect("head");
    let (rd, wr) = conn.into_split();
    let writer = dribble(wr);

    let health = app
        .api
        .get(app.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), 200, "another client is served meanwhile");

    let answer = read_until_closed(rd).await;
    writer.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

/// The body timer is only set once the body is really waited for (issue
/// 10): a body that never starts, or stops after its first piece, still
/// gets its 408.
#[tokio::test]
async fn a_body_that_never_comes_or_stops_midway_gets_408() {
    // Every other clock far beyond `CAP`: nothing but the body deadline
    // may wake the request.
    let app = TestApp::spawn_with(|s| {
        s.limits.body_deadline = Duration::from_secs(1);
        s.limits.header_deadline = Duration::from_secs(600);
        s.limits.keep_alive = Duration::from_secs(600);
    })
    .await;
    let heads: [&[u8]; 2] = [
        b"POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Authorization: Bearer x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\n",
        b"POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Authorization: Bearer x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\ntoken=abc",
    ];
    for head in heads {
        let mut conn = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connect");
        conn.write_all(head).await.expect("head");
        // Kept open and silent: only the body deadline can end this.
        let (rd, _wr) = conn.into_split();
        let answer = read_until_closed(rd).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    }
}

#[tokio::test]
async fn a_first_request_head_dribbled_past_the_header_deadline_is_cut() {
    let app = TestApp::spawn_with(|s| s.limits.header_deadline = Duration::from_secs(1)).await;
    let mut conn = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("start of the head");
    let (rd, wr) = conn.into_split();
    let writer = dribble(wr);
    let answer = read_until_closed(rd).await;
    writer.abort();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "the head never completes, so only a 408 or nothing can come: {answer}"
    );
}

/// actix's own head deadline covers only a connection's first request, and
/// its keep-alive timer stops at the first byte of the next one: before
/// this, one quick request bought a connection that could dribble forever.
#[tokio::test]
async fn a_head_dribbled_after_a_first_request_on_the_same_connection_is_cut() {
    let app = TestApp::spawn_with(|s| {
        s.limits.header_deadline = Duration::from_secs(1);
        s.limits.keep_alive = Duration::from_secs(1);
    })
    .await;
    let mut conn = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    assert_eq!(get_status(&mut conn, "/health").await, Some(200));
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("start of the second head");
    let (rd, wr) = conn.into_split();
    let writer = dribble(wr);
    let answer = read_until_closed(rd).await;
    writer.abort();
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn connections_past_the_per_address_cap_are_closed_while_other_addresses_and_trusted_proxies_are_served()
 {
    let client = Ipv4Addr::new(127, 0, 0, 2);
    let proxy = Ipv4Addr::new(127, 0, 0, 5);
    let app = TestApp::spawn_with(|s| {
        s.limits.per_address = 3;
        // Held connections must outlive the test's steps on a slow machine.
        s.limits.keep_alive = Duration::from_secs(120);
        s.trusted_proxies = IpAddr::V4(proxy).into();
    })
    .await;

    // Each held connection has been answered, so the server counts it.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = connect_from(client, app.port).await;
        assert_eq!(get_status(&mut conn, "/health").await, Some(200));
        held.push(conn);
    }
    let mut fourth = connect_from(client, app.port).await;
    assert_eq!(
        get_status(&mut fourth, "/health").await,
        None,
        "a fourth connection from the same address is closed unanswered"
    );

    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 3), app.port).await;
    assert_eq!(get_status(&mut other, "/health").await, Some(200));

    let mut via_proxy = Vec::new();
    for _ in 0..6 {
        let mut conn = connect_from(proxy, app.port).await;
        assert_eq!(
            get_status(&mut conn, "/health").await,
            Some(200),
            "a trusted proxy is not capped"
        );
        via_proxy.push(conn);
    }

    // Closing a held connection gives its slot back (once the server has
    // seen the close).
    drop(held.pop());
    let served_again = async {
        loop {
            let mut conn = connect_from(client, app.port).await;
            if get_status(&mut conn, "/health").await == Some(200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(CAP, served_again)
        .await
        .expect("the address is served again once it is under the cap");
}

/// systemd starts services with a soft limit of 1024 open files; `serve`
/// raises it to the hard limit.
#[tokio::test]
async fn serve_raises_the_soft_open_files_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("doorstep.db");
    let mut cmd = crate::cli::without_doorstep_env(tokio::process::Command::new("sh"));
    cmd.arg("-c")
        .arg("ulimit -Sn 256 2>/dev/null; exec \"$0\" serve --listen 127.0.0.1:0 --database \"$1\"")
        .arg(env!("CARGO_BIN_EXE_doorstep"))
        .arg(&db)
        .stdout(std::process::Stdio::null());
    let served = Served::start(cmd).await;
    let pid = served.pid();

    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    served.stop().await;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<&str> = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .collect();
    assert_eq!(numbers.first(), numbers.get(1), "soft = hard: {line}");
}
