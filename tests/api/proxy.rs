//! doorstep behind the nginx configuration it ships (`contrib/nginx.conf`):
//! Debian's nginx terminates TLS on loopback with a certificate made here
//! and proxies to a `TestApp` whose issuer is nginx's https address. A
//! browser signs in through it end to end, a Micropub server's
//! `Authorization` header survives the proxy, and doorstep tells visitors
//! apart by the `X-Forwarded-For` nginx sets (SEC-18), so one stranger's
//! failed logins do not lock the owner out (SEC-16).
//!
//! The test reads the shipped file and changes only what a test must: the
//! ports, the host name, the certificate paths and doorstep's address. If
//! nginx is not installed the tests say so loudly and pass, except under
//! CI (env `CI` set), where they fail: `.ci/run` installs it.

use crate::helpers::*;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const NGINX: &str = "/usr/sbin/nginx";

/// nginx connects to doorstep from here: the only trusted proxy.
const PROXY_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// Visitors connect to nginx from other loopback addresses, so doorstep
/// can only tell them apart through `X-Forwarded-For`.
const OWNER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRANGER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Whether nginx is here; without it, outside CI, says so and skips.
fn nginx_installed() -> bool {
    if Path::new(NGINX).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{NGINX} is missing under CI: .ci/run installs Debian's nginx package, and the \
         reverse-proxy tests must not be skipped there"
    );
    // Written to the real standard error, not through `eprintln!`, which
    // the test harness captures and hides for a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n\n*** SKIPPED: {NGINX} is not installed (`apt-get install nginx`), so the \
         reverse-proxy tests did NOT run. ***\n\n"
    );
    false
}

/// `text` with `from` replaced by `to`, after checking that `from` occurs
/// exactly `times` times, so that a change to the shipped file cannot
/// quietly leave the test running something else.
fn replace_exactly(text: &str, from: &str, to: &str, times: usize) -> String {
    let found = text.matches(from).count();
    assert_eq!(
        found, times,
        "contrib/nginx.conf should contain `{from}` {times} time(s) but has it {found} time(s); \
         update tests/api/proxy.rs together with it"
    );
    text.replace(from, to)
}

/// A running nginx in front of doorstep; killed when dropped.
struct Nginx {
    child: Child,
    dir: TempDir,
    https_port: u16,
    http_port: u16,
    cert_pem: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with `contrib/nginx.conf` on loopback ports, proxying
    /// to doorstep on `upstream_port`, and waits until it has bound them.
    /// If it cannot bind them, its error log.
    async fn start(https_port: u16, http_port: u16, upstream_port: u16) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &cert_pem).expect("write cert");
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .expect("write key");

        let shipped =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/nginx.conf"))
                .expect("contrib/nginx.conf");
        let mut site = replace_exactly(
            &shipped,
            "listen 80;",
            &format!("listen 127.0.0.1:{http_port};"),
            1,
        );
        site = replace_exactly(
            &site,
            "listen 443 ssl http2;",
            &format!("listen 127.0.0.1:{https_port} ssl http2;"),
            1,
        );
        // Loopback only: IPv6 may be missing here, and no test listens on
        // a wildcard address.
        site = replace_exactly(&site, "listen [::]:80;", "", 1);
        site = replace_exactly(&site, "listen [::]:443 ssl http2;", "", 1);
        site = replace_exactly(
            &site,
            "server_name auth.example.com;",
            "server_name localhost;",
            2,
        );
        site = replace_exactly(
            &site,
            "/etc/letsencrypt/live/auth.example.com/fullchain.pem",
            &format!("{d}/cert.pem"),
            1,
        );
        site = replace_exactly(
            &site,
            "/etc/letsencrypt/live/auth.example.com/privkey.pem",
            &format!("{d}/key.pem"),
            1,
        );
        site = replace_exactly(
            &site,
            "proxy_pass http://127.0.0.1:8080;",
            &format!("proxy_pass http://{PROXY_ADDR}:{upstream_port};"),
            1,
        );
        std::fs::write(dir.path().join("doorstep.conf"), site).expect("write site");

        // What Debian's /etc/nginx/nginx.conf provides around a site file,
        // with every path in the temporary directory. One process (no
        // workers dropping to `nobody`, who could not enter the directory).
        let main = format!(
            "master_process off;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             access_log {d}/access.log;\n\
             client_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n\
             include {d}/doorstep.conf;\n\
             }}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write nginx.conf");

        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            child,
            dir,
            https_port,
            http_port,
            cert_pem,
        };
        nginx.wait_until_bound().await?;
        Ok(nginx)
    }

    /// Waits until nginx has bound its ports, which it shows by writing its
    /// pid file (only after opening its listening sockets); if it exits
    /// instead, its own words. Connecting would not tell: another process
    /// could be listening on a port nginx failed to get. The bound is
    /// generous: it only turns a hang into a failure.
    async fn wait_until_bound(&mut self) -> Result<(), String> {
        let pid_file = self.dir.path().join("nginx.pid");
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().expect("nginx status") {
                return Err(format!("nginx exited ({status}): {}", self.logs()));
            }
            if std::fs::read_to_string(&pid_file)
                .is_ok_and(|pid| pid.trim() == self.child.id().to_string())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx never bound its ports: {}", self.logs());
    }

    fn logs(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "stderr: {}\nerror.log: {}",
            read("stderr.log"),
            read("error.log")
        )
    }

    fn base(&self) -> String {
        format!("https://localhost:{}", self.https_port)
    }

    /// A client that trusts only this nginx's certificate, reaches
    /// `localhost` at it, and connects from `from`.
    fn client(&self, from: Ipv4Addr, cookies: bool) -> reqwest::Client {
        let cert = reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).expect("cert");
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(cookies)
            .tls_certs_only([cert])
            .resolve("localhost", SocketAddr::from((PROXY_ADDR, self.https_port)))
            .local_address(IpAddr::V4(from))
            .build()
            .expect("client")
    }

    /// A browser visiting doorstep through nginx from `from`.
    fn browser(&self, from: Ipv4Addr) -> Browser {
        Browser {
            http: self.client(from, true),
            base: self.base(),
        }
    }
}

/// doorstep whose public address is nginx's, trusting nginx's address,
/// with nginx started in front of it. nginx cannot be handed a bound
/// socket, so its ports are picked free and may be taken by someone else
/// before it binds them; then it says so, and both start again elsewhere.
async fn doorstep_behind_nginx() -> (TestApp, Nginx) {
    for _ in 0..10 {
        let (app, started) = try_doorstep_behind_nginx().await;
        match started {
            Ok(nginx) => return (app, nginx),
            Err(e) if e.contains("Address already in use") => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("nginx never found free ports");
}

async fn try_doorstep_behind_nginx() -> (TestApp, Result<Nginx, String>) {
    // Two different ports, free now; nothing holds them for nginx.
    let (https, http) = (UnusedPort::new(), UnusedPort::new());
    let (https_port, http_port) = (https.port, http.port);
    drop((https, http));
    let issuer = format!("https://localhost:{https_port}/");
    let app = TestApp::spawn_with(|s| {
        let mut raw = doorstep::config::RawValues::new();
        raw.insert("listen".into(), s.listen.to_string());
        raw.insert("issuer".into(), issuer.clone());
        raw.insert("trusted_proxies".into(), PROXY_ADDR.to_string());
        // The real loader's validation: a loopback https issuer is allowed.
        let checked = doorstep::config::Settings::from_raw(&raw).expect("settings");
        s.issuer = checked.issuer;
        s.me = checked.me;
        s.local_development = checked.local_development;
        s.trusted_proxies = checked.trusted_proxies;
    })
    .await;
    assert_eq!(app.issuer(), issuer);
    let nginx = Nginx::start(https_port, http_port, app.port).await;
    (app, nginx)
}

#[tokio::test]
async fn the_owner_signs_in_to_an_app_through_nginx_and_its_token_verifies_through_it() {
    if !nginx_installed() {
        return;
    }
    let (app, nginx) = doorstep_behind_nginx().await;
    let issuer = nginx.base() + "/";

    // Plain http only moves the visitor to https.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = plain
        .get(format!("http://{PROXY_ADDR}:{}/login", nginx.http_port))
        .header("Host", "localhost")
        .send()
        .await
        .expect("http");
    assert_eq!(resp.status().as_u16(), 301);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("https://localhost/login")
    );

    // The metadata, fetched through the proxy, names the public address.
    let browser = nginx.browser(OWNER_ADDR);
    let meta = browser.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(meta.status, 200, "{}", meta.body);
    let meta: serde_json::Value = serde_json::from_str(&meta.body).expect("metadata");
    assert_eq!(meta["issuer"], issuer.as_str());
    assert_eq!(meta["token_endpoint"], format!("{issuer}token"));

    // Login form (its cookies are Secure: this is https), then consent.
    let signed_in = browser.sign_in(PASSWORD, None).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let dashboard = browser.get("/dashboard").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(
        dashboard
            .header("strict-transport-security")
            .is_some_and(|v| v.starts_with("max-age=")),
        "nginx adds HSTS"
    );
    let client = app.client();
    let redirect = app
        .approve(
            &browser,
            &client.auth_query("create profile", "through-nginx"),
        )
        .await;
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some("through-nginx")
    );
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(issuer.as_str())
    );
    let code = query_param(&redirect, "code").expect("code");

    // The client redeems the code at /token through nginx.
    let api = nginx.client(OWNER_ADDR, false);
    let resp = api
        .post(format!("{issuer}token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(code_form(&client, &code)).expect("encode"))
        .send()
        .await
        .expect("token");
    let answer = Response::read(resp).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.json();
    assert_eq!(token["me"], issuer.as_str());
    assert_eq!(token["scope"], "create profile");
    let access = str_of(&token, "access_token");

    // A Micropub server verifies it with the legacy GET: the Authorization
    // header reaches doorstep through nginx.
    let resp = api
        .get(format!("{issuer}token"))
        .bearer_auth(&access)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("verify");
    let verified = Response::read(resp).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.json()["me"], issuer.as_str());
    assert_eq!(verified.json()["client_id"], client.client_id.as_str());
    assert_eq!(verified.json()["scope"], "create profile");
    // The same request without the header is refused: the 200 came from it.
    let resp = api
        .get(format!("{issuer}token"))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("verify");
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn through_nginx_a_strangers_failed_logins_lock_out_the_stranger_not_the_owner_sec_16_sec_18()
{
    if !nginx_installed() {
        return;
    }
    let (app, nginx) = doorstep_behind_nginx().await;

    // A stranger guesses, claiming a new address each time. nginx appends
    // the address it really sees, and doorstep believes only that one, so
    // the lockout lands on the stranger. Keep guessing (skipping the
    // short first locks) until it lasts minutes, so that nothing below
    // depends on how fast this machine is.
    let stranger = nginx.browser(STRANGER_ADDR);
    let mut locked_for = 0;
    for i in 0..40 {
        let resp = stranger
            .sign_in("wrong password", Some(&*format!("203.0.113.{i}")))
            .await;
        match resp.status {
            401 => {}
            429 => {
                locked_for = resp
                    .header("retry-after")
                    .and_then(|v| v.parse::<i64>().ok())
                    .expect("Retry-After");
                if locked_for >= 300 {
                    break;
                }
                app.clock.advance(locked_for);
            }
            s => panic!("unexpected status {s}: {}", resp.body),
        }
    }
    assert!(
        locked_for >= 300,
        "the stranger was never locked out for long (locked for {locked_for} s): doorstep \
         believed the address the stranger made up"
    );
    let resp = stranger.sign_in(PASSWORD, None).await;
    assert_eq!(resp.status, 429, "the stranger's address stays locked");

    // The owner, at another address behind the same proxy, is not: had
    // doorstep taken nginx's address for everyone's, the owner would be
    // locked out with the stranger.
    let owner = nginx.browser(OWNER_ADDR);
    let resp = owner.sign_in(PASSWORD, None).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(owner.get("/dashboard").await.status, 200);
}
