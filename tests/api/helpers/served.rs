//! The real `doorstep serve`, as a process of its own.

use super::free_port;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// `doorstep serve` run as its own process. It listens on
/// `127.0.0.1:0`, and the test learns the port from its "doorstep is
/// listening" log line, so it never races another test for a port. Its
/// standard error is collected from start to exit.
pub struct Served {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

/// How long a process started here may take to start or stop on a loaded
/// machine: a bound that only turns a hang into a failure.
pub const PROCESS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Served {
    /// Spawns `cmd`, which runs `doorstep serve --listen 127.0.0.1:0 …`
    /// (directly or through a shell), waits for its listening line, then
    /// until it answers there. Panics with the log if it never does.
    pub async fn start(cmd: tokio::process::Command) -> Served {
        Self::try_start(cmd)
            .await
            .unwrap_or_else(|log| panic!("doorstep serve never said it was listening:\n{log}"))
    }

    /// For a test that must name the port before the binary binds it (an
    /// issuer of `http://localhost:PORT/`): `command(port)` is given a port
    /// that was free a moment ago. If another process took it first, the
    /// binary says so and exits, and this tries another; once the binary
    /// says it listens there, the port is its own.
    pub async fn start_on_free_port(command: impl Fn(u16) -> tokio::process::Command) -> Served {
        for _ in 0..10 {
            let port = free_port();
            match Self::try_start(command(port)).await {
                Ok(served) => {
                    assert_eq!(served.addr.port(), port, "{}", served.log());
                    return served;
                }
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("doorstep serve never said it was listening:\n{log}"),
            }
        }
        panic!("doorstep serve found no free port in ten tries");
    }

    /// As `start`; the log so far if the process exits (or stays silent)
    /// without saying it listens.
    async fn try_start(mut cmd: tokio::process::Command) -> Result<Served, String> {
        use tokio::io::AsyncBufReadExt;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn doorstep serve");
        let stderr = child.stderr.take().expect("piped standard error");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut found = Some(found);
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                {
                    let mut log = sink.lock().expect("lock");
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(addr) = listening_address(&line)
                    && let Some(found) = found.take()
                {
                    let _ = found.send(addr);
                }
            }
        });
        let addr = match tokio::time::timeout(PROCESS_PATIENCE, listening).await {
            Ok(Ok(addr)) => addr,
            // Exited (the reader dropped the sender) or said nothing.
            _ => {
                let _ = child.kill().await;
                let _ = tokio::time::timeout(PROCESS_PATIENCE, reader).await;
                return Err(log.lock().expect("lock").clone());
            }
        };
        let served = Served {
            child,
            addr,
            log,
            reader,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let health = format!("{}health", served.base());
        let answers = async {
            while !reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(PROCESS_PATIENCE, answers)
            .await
            .is_err()
        {
            panic!("doorstep serve never answered:\n{}", served.log());
        }
        Ok(served)
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Everything it has written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Waits for it to exit by itself; its status and whole log.
    pub async fn exit(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(PROCESS_PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("doorstep kept running:\n{}", self.log()))
            .expect("wait");
        // The pipe closes with the process; the reader then ends.
        let _ = tokio::time::timeout(PROCESS_PATIENCE, &mut self.reader).await;
        (status, self.log())
    }

    /// Stops it; its whole log.
    pub async fn stop(mut self) -> String {
        self.child.kill().await.expect("stop doorstep");
        let _ = tokio::time::timeout(PROCESS_PATIENCE, &mut self.reader).await;
        self.log()
    }
}

/// The address in doorstep's "doorstep is listening" line, in the text
/// format (`listen=127.0.0.1:8080`) or the JSON one (`"listen":"…"`).
fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("doorstep is listening") {
        return None;
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        return json["fields"]["listen"].as_str()?.parse().ok();
    }
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("listen="))?
        .parse()
        .ok()
}
