//! One log line per request off the verification hot path: method, route
//! pattern, status and latency, inside a `request` span so that whatever a
//! handler logs carries them too. The route is the pattern (`/auth`), never
//! the URI: query strings carry setup links and codes.
//!
//! The hot path (legacy `GET /token`, introspection, userinfo, `/health`)
//! is left out: a resource server asks on every request, and a span there
//! would cost more than the lookup it describes.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use tracing::Instrument;

fn is_hot_path(req: &ServiceRequest) -> bool {
    matches!(
        (req.method(), req.path()),
        (&Method::GET, "/token" | "/userinfo" | "/health") | (&Method::POST, "/introspect")
    )
}

pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if is_hot_path(&req) {
        return next.call(req).await;
    }
    let method = req.method().clone();
    // Measures a duration only; the wall clock stays in `clock`.
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", %method, route = tracing::field::Empty);
    let res = next.call(req).instrument(span.clone()).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".to_owned());
    span.record("route", route.as_str());
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    if res.status().is_server_error() {
        tracing::warn!(status, latency_ms, "request failed");
    } else {
        tracing::debug!(status, latency_ms, "request");
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn verification_routes_are_the_hot_path_and_pages_are_not() {
        let hot = |m: Method, p: &str| {
            is_hot_path(&TestRequest::default().method(m).uri(p).to_srv_request())
        };
        assert!(hot(Method::GET, "/token"));
        assert!(hot(Method::POST, "/introspect"));
        assert!(hot(Method::GET, "/userinfo"));
        assert!(hot(Method::GET, "/health"));
        assert!(!hot(Method::POST, "/token"));
        assert!(!hot(Method::GET, "/auth"));
        assert!(!hot(Method::POST, "/login"));
    }
}
