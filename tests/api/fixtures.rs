//! Local fixture servers standing in for client apps: raw HTTP over a
//! loopback TCP listener, so tests can also misbehave on purpose (a body
//! that never ends, a server that never answers). Each counts its
//! connections, so a test can prove doorstep never fetched it.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub enum Reply {
    /// Status, headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Headers, then body bytes forever.
    Endless,
    /// Accept the connection and never answer.
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

pub struct Fixture {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    paths: Arc<std::sync::Mutex<Vec<String>>>,
}

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

impl Fixture {
    /// Starts a fixture; `handler(port, path)` decides each reply.
    pub async fn start(handler: impl Fn(u16, &str) -> Reply + Send + Sync + 'static) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let (h, p) = (hits.clone(), paths.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let p = p.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    p.lock().expect("lock").push(path.clone());
                    match handler(port, &path) {
                        Reply::Full(status, headers, body) => {
                            let mut out = format!(
                                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            out.push_str("\r\n");
                            let _ = sock.write_all(out.as_bytes()).await;
                            let _ = sock.write_all(&body).await;
                        }
                        Reply::Endless => {
                            let _ = sock
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
                                .await;
                            let filler = vec![b'a'; 16 * 1024];
                            while sock.write_all(&filler).await.is_ok() {}
                        }
                        Reply::Silent => {
                            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                        }
                    }
                });
            }
        });
        Fixture { port, hits, paths }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().expect("lock").clone()
    }

    /// The client id of an app served here, under the `localhost` name so
    /// that a redirect to 127.0.0.1 is on another origin.
    pub fn client_id(&self) -> String {
        format!("http://localhost:{}/", self.port)
    }
}
