//! `TestClient`: an IndieAuth client on loopback, with PKCE (S256 unless
//! told otherwise).

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// An IndieAuth client on loopback with PKCE (S256 by default).
#[derive(Clone, Debug)]
pub struct TestClient {
    pub client_id: String,
    pub redirect_uri: String,
    pub verifier: String,
    pub challenge: String,
    /// None: send no PKCE at all.
    pub method: Option<&'static str>,
}

impl TestClient {
    /// A client at `http://127.0.0.1:<port>/` whose redirect is on its own
    /// origin (no fetch needed to verify it). doorstep will try to fetch
    /// its page: use `TestApp::client()` unless `port` is a fixture or
    /// otherwise the test's own.
    pub fn new(port: u16) -> TestClient {
        TestClient {
            client_id: format!("http://127.0.0.1:{port}/"),
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            verifier: RFC_VERIFIER.into(),
            challenge: RFC_CHALLENGE.into(),
            method: Some("S256"),
        }
    }

    pub fn with_verifier(mut self, verifier: &str) -> TestClient {
        self.verifier = verifier.into();
        self.challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        self
    }

    pub fn without_pkce(mut self) -> TestClient {
        self.method = None;
        self
    }

    pub fn auth_params(&self, scope: &str, state: &str) -> Vec<(String, String)> {
        let mut p = vec![
            ("response_type".to_string(), "code".to_string()),
            ("client_id".into(), self.client_id.clone()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("state".into(), state.into()),
        ];
        if !scope.is_empty() {
            p.push(("scope".into(), scope.into()));
        }
        if let Some(m) = self.method {
            p.push(("code_challenge".into(), self.challenge.clone()));
            p.push(("code_challenge_method".into(), m.into()));
        }
        p
    }

    pub fn auth_query(&self, scope: &str, state: &str) -> String {
        serde_urlencoded::to_string(self.auth_params(scope, state)).expect("encode")
    }
}
