//! The real `doorstep serve`, as a process of its own.

use std::sync::Mutex;

/// `doorstep serve` run as its own process. It listens on
/// `127.0.0.1:0`, and the test learns the port from its "doorstep is
/// listening" log line, so it never races another test for a port. Its
/// standard error is collected from start to exit.
pub struct Served {
    pub child: tokio::process::Child,
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

/// How long a process started here may take to start or stop on a loaded
/// machine: a bound that only turns a hang into a failure.
pub const PROCESS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Served {
    /// Spawns `cmd`, which runs `doorstep serve --listen 127.0.0.1:0 …`
    /// (directly or through a shell), waits for its listening line, then
    /// until it answers there. Panics with the log if it never does.
    pub async fn start(mut cmd: tokio::process::Command) -> Served {
        use tokio::io::AsyncBufReadExt;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn doorstep serve");
        let stderr = child.stderr.take().expect("piped standard error");
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut found = Some(found);
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("doorstep is listening")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|field| field.strip_prefix("listen="))
                        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                    && let Some(found) = found.take()
                {
                    let _ = found.send(addr);
                }
                let mut log = sink.lock().expect("lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match tokio::time::timeout(PROCESS_PATIENCE, listening).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.start_kill();
                panic!(
                    "doorstep serve never said it was listening:\n{}",
                    log.lock().expect("lock")
                );
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
        served
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

    pub async fn stop(mut self) {
        self.child.kill().await.expect("stop doorstep");
    }
}
