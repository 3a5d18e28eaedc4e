//! The start-up check that the owner's homepage points back to doorstep
//! (DISC-17), against fixture homepages over HTTP.

use crate::fixtures::{Fixture, Reply};
use doorstep::config::{RawValues, Settings};
use doorstep::selfcheck::{Finding, check_homepage};

fn settings_for(homepage_port: u16) -> Settings {
    let mut raw = RawValues::new();
    raw.insert("listen".into(), "127.0.0.1:8080".into());
    raw.insert("me".into(), format!("http://127.0.0.1:{homepage_port}/"));
    Settings::from_raw(&raw).expect("settings")
}

#[tokio::test]
async fn homepage_linking_to_this_doorstep_passes_disc_17() {
    let fx = Fixture::start(|_, _| {
        Reply::html("<link rel=\"indieauth-metadata\" href=\"http://127.0.0.1:8080/.well-known/oauth-authorization-server\">")
    })
    .await;
    let finding = check_homepage(&settings_for(fx.port))
        .await
        .expect("fetched");
    assert_eq!(finding, Finding::PointsHere);
}

#[tokio::test]
async fn homepage_naming_another_server_is_reported_disc_17() {
    let fx = Fixture::start(|_, _| {
        Reply::html("<p>hello</p>").with_header(
            "Link",
            "<https://other.example/auth>; rel=\"authorization_endpoint\"",
        )
    })
    .await;
    let finding = check_homepage(&settings_for(fx.port))
        .await
        .expect("fetched");
    assert!(
        matches!(finding, Finding::PointsElsewhere(ref why) if why.contains("other.example")),
        "{finding:?}"
    );
}
