//! The fixture server: a client app's site on a loopback port, written as
//! raw HTTP over a `TcpListener` so that it can also misbehave on purpose
//! (a body that never ends, a server that never answers, a reply that
//! comes late, bytes no framework would send). It records every request,
//! so a test can prove doorstep never fetched it.
//!
//! One fixture server for all tests: the integration tests use it as
//! `crate::fixtures`, and client discovery's unit tests
//! (`src/clients/fixture_tests.rs`) include this same file.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fixture does with one request.
pub enum Reply {
    /// Status, headers and body, with `Content-Length` and
    /// `Connection: close` added.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Exactly these bytes, then the connection is closed.
    Raw(Vec<u8>),
    /// The reply, after a wait.
    Delayed(Duration, Box<Reply>),
    /// A 200 HTML head, then a chunked body that trickles a few bytes at a
    /// time and never ends: it reaches no size cap, only a deadline.
    Endless,
    /// The request is read and never answered.
    Silent,
}

impl Reply {
    pub fn html(body: &str) -> Reply {
        Reply::Full(
            200,
            vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body.as_bytes().to_vec(),
        )
    }

    pub fn json(body: &serde_json::Value) -> Reply {
        Reply::Full(
            200,
            vec![("Content-Type".into(), "application/json".into())],
            body.to_string().into_bytes(),
        )
    }

    /// An empty answer with this status.
    pub fn status(status: u16) -> Reply {
        Reply::Full(status, vec![], vec![])
    }

    /// A redirect (`status` 301, 302, …) to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).with_header("Location", location)
    }

    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Full(s, mut h, b) => {
                h.push((name.into(), value.into()));
                Reply::Full(s, h, b)
            }
            other => other,
        }
    }
}

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

pub struct Fixture {
    pub port: u16,
    /// Connections accepted.
    hits: Arc<AtomicUsize>,
    /// The head of every request read, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

type Handler = dyn Fn(u16, &str) -> Reply + Send + Sync;

impl Fixture {
    /// Starts a fixture on 127.0.0.1:0; `handler(port, path)` decides each
    /// reply.
    pub async fn start(handler: impl Fn(u16, &str) -> Reply + Send + Sync + 'static) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (h, r) = (hits.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                let (handler, r) = (handler.clone(), r.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, port, &*handler, &r).await;
                });
            }
        });
        Fixture {
            port,
            hits,
            requests,
        }
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The path of every request so far.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|head| head.split_whitespace().nth(1).unwrap_or("/").to_owned())
            .collect()
    }

    /// The head (request line and headers) of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `path` on this fixture, as a URL on 127.0.0.1.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("{}{path}", self.base())).expect("fixture URL")
    }

    /// The client id of an app served here, under the `localhost` name so
    /// that a redirect to 127.0.0.1 is on another origin.
    pub fn client_id(&self) -> String {
        format!("http://localhost:{}/", self.port)
    }
}

async fn serve(
    mut stream: TcpStream,
    port: u16,
    handler: &Handler,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    requests.lock().expect("lock").push(head);
    let mut reply = handler(port, &path);
    while let Reply::Delayed(wait, then) = reply {
        tokio::time::sleep(wait).await;
        reply = *then;
    }
    match reply {
        Reply::Full(status, headers, body) => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await?;
        }
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.shutdown().await?;
        }
        Reply::Endless => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n",
                )
                .await?;
            loop {
                stream.write_all(b"4\r\n<p>x\r\n").await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Reply::Silent => {
            // Until the test ends; the reader gives up first.
            let mut rest = [0u8; 1024];
            while stream.read(&mut rest).await? > 0 {}
        }
        Reply::Delayed(..) => unreachable!("unwrapped above"),
    }
    Ok(())
}
