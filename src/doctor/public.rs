//! The checks `doorstep doctor` makes through the server's public URL, as
//! apps and Micropub servers will reach it: the metadata document and the
//! clock, the homepage's links, whether `Authorization` survives the
//! proxy, and whether the server can be fooled about a client's address.
//! The token these need is the doctor's own throwaway, revoked afterwards.

use super::{AddressReport, Check, DOCTOR_CLIENT_ID, Limits};
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::{ClientId, ScopeSet, Secret, is_loopback_ip};
use crate::errors::error_chain;
use crate::store::{Store, tokens};

/// An address from the documentation range (RFC 5737) that the doctor
/// claims in `X-Forwarded-For`: if the server believes it, anyone can
/// choose their address.
const SPOOFED_ADDRESS: &str = "192.0.2.77";

pub(super) fn http_client(limits: &Limits) -> Result<reqwest::Client, reqwest::Error> {
    crate::clients::ensure_tls_provider();
    reqwest::Client::builder()
        .timeout(limits.http_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("doorstep-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub(super) async fn public_checks(
    settings: &Settings,
    store: Option<&Store>,
    client: &reqwest::Client,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) {
    checks.push(if settings.issuer.scheme() == "https" {
        Check::pass(
            "https",
            format!("the public URL {} uses https", settings.issuer_str()),
        )
    } else {
        Check::warn(
            "https",
            format!(
                "{} is plain http: fine on this machine for development, refused by apps elsewhere",
                settings.issuer_str()
            ),
        )
    });
    let reachable = metadata_and_clock(settings, client, now, limits, checks).await;
    if !reachable {
        return;
    }
    checks.push(homepage(settings, client).await);
    let Some(store) = store else {
        return;
    };
    let token = Secret::generate();
    let grant = match issue_throwaway(store, &token, settings, now) {
        Ok(g) => g,
        Err(e) => {
            checks.push(Check::fail(
                "Authorization header",
                format!("could not issue a test token: {}", error_chain(e.as_ref())),
                "fix the database problems above",
            ));
            return;
        }
    };
    checks.push(authorization_header(settings, client, &token).await);
    checks.push(forwarded_for(settings, client, &token).await);
    if let Err(e) = store.write_now(move |tx| tokens::revoke_grant(tx, grant, now).map(|_| ())) {
        checks.push(Check::fail(
            "test token",
            format!(
                "could not revoke the doctor's test token: {}",
                error_chain(&e)
            ),
            format!("run `doorstep tokens revoke {grant}`"),
        ));
    }
}

/// The metadata document through the public URL, and the server's clock
/// from that answer's `Date`. Returns whether the server answered at all.
async fn metadata_and_clock(
    settings: &Settings,
    client: &reqwest::Client,
    now: UnixTime,
    limits: &Limits,
    checks: &mut Vec<Check>,
) -> bool {
    let url = settings.metadata_url();
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "public URL",
                format!("could not reach {url}: {}", error_chain(&e)),
                "start doorstep (`doorstep serve` or `systemctl start doorstep`), and check \
                 that DNS, the firewall and the reverse proxy send the issuer's host to \
                 doorstep's `listen` address",
            ));
            return false;
        }
    };
    let status = resp.status();
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let body: Option<serde_json::Value> = json_body(resp).await;
    let issuer = body
        .as_ref()
        .and_then(|b| b.get("issuer"))
        .and_then(|i| i.as_str())
        .map(str::to_owned);
    checks.push(match (status.as_u16(), issuer) {
        (200, Some(i)) if i == settings.issuer_str() => Check::pass(
            "public URL",
            format!("{url} serves this doorstep's metadata"),
        ),
        (200, Some(i)) => Check::fail(
            "public URL",
            format!("{url} names the issuer {i}, not {}", settings.issuer_str()),
            "the public URL reaches another doorstep (or one with another `issuer`): point \
             the proxy at this one, or make `issuer` match",
        ),
        (code, _) => Check::fail(
            "public URL",
            format!("{url} answered HTTP {code} without doorstep's metadata"),
            "make the reverse proxy pass every path on the issuer's host to doorstep",
        ),
    });
    checks.push(match date {
        Some(server_time) => {
            let server = server_time
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let skew = server - now;
            if skew.abs() <= limits.clock_tolerance {
                Check::pass("clock", "the server's clock agrees with this machine's")
            } else {
                Check::fail(
                    "clock",
                    format!("the server's clock is {skew} seconds off this machine's"),
                    "enable time synchronisation (`timedatectl set-ntp true`): codes and \
                     tokens expire by the clock",
                )
            }
        }
        None => Check::warn("clock", "the answer carried no Date header to compare"),
    });
    true
}

/// The owner's homepage must lead clients back here (IndieAuth §5.4).
async fn homepage(settings: &Settings, client: &reqwest::Client) -> Check {
    let me = settings.me.as_str();
    let finding = if settings.serves_homepage() {
        crate::selfcheck::fetch_and_judge(client, settings, settings.me.url().clone()).await
    } else {
        crate::selfcheck::check_homepage(settings).await
    };
    match finding {
        Ok(crate::selfcheck::Finding::PointsHere) => Check::pass(
            "homepage links",
            format!("{me} points apps to this doorstep"),
        ),
        Ok(crate::selfcheck::Finding::PointsElsewhere(why)) => Check::fail(
            "homepage links",
            format!("{me} does not point to this doorstep: {why}"),
            "add the <link> tags shown on the dashboard to your homepage's <head>",
        ),
        Err(why) => Check::fail(
            "homepage links",
            format!("{me}: {why}"),
            "make sure your homepage is online at exactly the configured `me` URL",
        ),
    }
}

fn issue_throwaway(
    store: &Store,
    token: &Secret,
    settings: &Settings,
    now: UnixTime,
) -> Result<i64, Box<dyn std::error::Error>> {
    let hash = token.hash();
    let grant = tokens::Grant {
        client_id: ClientId::parse(DOCTOR_CLIENT_ID)?,
        client_name: Some("doorstep doctor".into()),
        client_logo: None,
        redirect_uri: DOCTOR_CLIENT_ID.into(),
        scope: ScopeSet::parse("profile")?,
        me: settings.me.as_str().to_owned(),
        access_lifetime: Some(300),
    };
    let expires = Some(now + 300);
    Ok(store
        .write_now(move |tx| tokens::create_grant_with_token(tx, &grant, &hash, now, expires))?)
}

/// Micropub servers send their token in `Authorization`; some proxies and
/// CGI set-ups drop that header (the most-asked question about
/// WordPress IndieAuth).
async fn authorization_header(
    settings: &Settings,
    client: &reqwest::Client,
    token: &Secret,
) -> Check {
    let name = "Authorization header";
    let resp = client
        .get(settings.endpoint("token"))
        .bearer_auth(token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                name,
                format!(
                    "the token endpoint could not be reached: {}",
                    error_chain(&e)
                ),
                "check the reverse proxy",
            );
        }
    };
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: serde_json::Value = json_body(resp).await.unwrap_or_default();
    match status {
        200 if body["me"] == settings.me.as_str() => Check::pass(
            name,
            "a token sent through the public URL reached doorstep and was verified",
        ),
        401 if !challenge.contains("error=") => Check::fail(
            name,
            "the proxy dropped the Authorization header: doorstep saw no token",
            "nginx: `proxy_set_header Authorization $http_authorization;` — Apache: \
             `CGIPassAuth On` or `RequestHeader set Authorization \"%{HTTP:Authorization}e\"`; \
             see contrib/ for working proxy configurations",
        ),
        401 => Check::fail(
            name,
            "the token reached a server that does not know it",
            "the public URL reaches another doorstep or another database than this \
             configuration names",
        ),
        code => Check::fail(
            name,
            format!("verifying a token through the public URL answered HTTP {code}"),
            "check the reverse proxy",
        ),
    }
}

/// Whose `X-Forwarded-For` doorstep believes decides whose failures lock
/// out whom: believing anyone lets a guesser pick a fresh address per try;
/// believing nobody behind a proxy makes every visitor share one address.
async fn forwarded_for(settings: &Settings, client: &reqwest::Client, token: &Secret) -> Check {
    let name = "client addresses";
    let resp = client
        .get(settings.endpoint("doctor/address"))
        .bearer_auth(token.expose())
        .header("X-Forwarded-For", SPOOFED_ADDRESS)
        .send()
        .await;
    let report: AddressReport = match resp {
        Ok(r) if r.status().is_success() => match json_body(r).await {
            Some(a) => a,
            None => return Check::warn(name, "the server's answer was unreadable"),
        },
        Ok(r) => {
            return Check::warn(
                name,
                format!(
                    "could not ask (HTTP {}); is the server older than this doorstep?",
                    r.status()
                ),
            );
        }
        Err(e) => return Check::warn(name, format!("could not ask: {}", error_chain(&e))),
    };
    judge_addresses(&report)
}

/// The rule behind the client-address check, apart from the network.
pub fn judge_addresses(a: &AddressReport) -> Check {
    let name = "client addresses";
    let entries: Vec<&str> = a
        .forwarded_for
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if a.client == SPOOFED_ADDRESS {
        // Who vouched for the made-up entry: the hop written right of it.
        let voucher = entries
            .iter()
            .position(|e| *e == SPOOFED_ADDRESS)
            .and_then(|i| entries.get(i + 1).copied())
            .unwrap_or(a.peer.as_str());
        let from_here = voucher
            .parse::<std::net::IpAddr>()
            .is_ok_and(is_loopback_ip);
        if from_here {
            return Check::warn(
                name,
                "this machine is itself a trusted proxy, so the doctor cannot tell whether \
                 strangers could choose their address; run it from another machine to be sure",
            );
        }
        return Check::fail(
            name,
            format!(
                "doorstep believed an address the doctor made up ({SPOOFED_ADDRESS}), vouched \
                 for by {voucher}: anyone can pick a fresh address for each guess"
            ),
            format!(
                "list only your reverse proxy's own address in `trusted_proxies` (not {voucher})"
            ),
        );
    }
    let proxied = entries.iter().any(|e| *e != SPOOFED_ADDRESS);
    if proxied && !a.peer_is_trusted_proxy {
        return Check::fail(
            name,
            format!(
                "requests arrive through a proxy at {} that is not in `trusted_proxies`: every \
                 visitor shares that address, so one stranger's failed sign-ins lock you out too",
                a.peer
            ),
            format!(
                "add `trusted_proxies = \"{}\"` to the configuration",
                a.peer
            ),
        );
    }
    Check::pass(
        name,
        format!("doorstep sees this machine as {}, as it should", a.client),
    )
}

/// A JSON answer of our own server, read whole (they are small).
async fn json_body<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Option<T> {
    let bytes = resp.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn report(peer: &str, trusted: bool, client: &str, xff: &str) -> AddressReport {
        AddressReport {
            peer: peer.into(),
            peer_is_trusted_proxy: trusted,
            client: client.into(),
            forwarded_for: xff.into(),
        }
    }

    #[test]
    fn a_believed_made_up_address_fails_unless_this_machine_vouched() {
        let c = judge_addresses(&report(
            "10.0.0.2",
            true,
            SPOOFED_ADDRESS,
            "192.0.2.77, 203.0.113.9",
        ));
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().contains("203.0.113.9"));
        let c = judge_addresses(&report(
            "127.0.0.1",
            true,
            SPOOFED_ADDRESS,
            "192.0.2.77, 127.0.0.1",
        ));
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn an_untrusted_proxy_that_adds_entries_fails() {
        let c = judge_addresses(&report(
            "127.0.0.1",
            false,
            "127.0.0.1",
            "192.0.2.77, 198.51.100.4",
        ));
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().contains("trusted_proxies = \"127.0.0.1\""));
    }

    #[test]
    fn a_direct_connection_or_a_trusted_proxy_passes() {
        let direct = judge_addresses(&report("198.51.100.4", false, "198.51.100.4", "192.0.2.77"));
        assert_eq!(direct.status, Status::Pass);
        let proxied = judge_addresses(&report(
            "127.0.0.1",
            true,
            "198.51.100.4",
            "192.0.2.77, 198.51.100.4",
        ));
        assert_eq!(proxied.status, Status::Pass);
    }
}
