//! `Body`: a request body read whole, for the handlers that take forms and
//! JSON. It answers as actix-web's `Bytes` extractor did (413 for a body,
//! or a declared `Content-Length`, past `LIMIT`; 400 for a `Content-Length`
//! that is not a number, which actix-http's parser refuses itself before
//! this sees it — kept as a defence; the connection's own errors as they
//! come, the body deadline's included, `connection::TimedBody`), without
//! that extractor's work on every request: a lookup of its configuration,
//! an 8 KiB buffer and a copy of the body into it. A body that arrives in one piece, as
//! nearly every form does, is handed on as the piece the connection read
//! (sharing the connection's read buffer until the handler is done);
//! introspection reads one on every Micropub request (issue 10).
//!
//! A body that cannot be read is answered in doorstep's own words
//! (`BodyError`): the OAuth JSON error `invalid_request` with
//! `Cache-Control: no-store` (ERR-4, ERR-10), or the error page for a
//! browser's form — never actix's plain-text default.
//!
//! Every handler reads its body through `Body`. actix-web's own body
//! extractors (`web::Bytes`, `String`, `web::Form`, `web::Json`) are not
//! used, and no `PayloadConfig` is registered: one would read up to
//! actix's default of 256 KiB.

use super::AppState;
use super::respond;
use crate::oauth::error::{ErrorCode, OAuthError};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::Stream;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The largest body doorstep reads: its forms are a few hundred bytes, a
/// passkey's attestation a few kilobytes.
pub const LIMIT: usize = 64 * 1024;
// `BodyError`'s message names the limit in words.
const _: () = assert!(
    LIMIT == 64 * 1024,
    "say the new limit in BodyError's message"
);

/// The whole body of a request.
#[derive(Debug)]
pub struct Body(Bytes);

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl FromRequest for Body {
    type Error = BodyError;
    type Future = ReadBody;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> ReadBody {
        ReadBody {
            refused: check_declared_length(req).err(),
            payload: payload.take(),
            read: Read::Nothing,
            // Kept for an error's answer (a reference count; looking at
            // `Accept` here would cost every introspection a header lookup).
            req: req.clone(),
        }
    }
}

/// A declared length past `LIMIT` is refused before anything is read.
fn check_declared_length(req: &HttpRequest) -> Result<(), PayloadError> {
    let Some(value) = req.headers().get(header::CONTENT_LENGTH) else {
        return Ok(());
    };
    match value.to_str().ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) if n > LIMIT => Err(PayloadError::Overflow),
        Some(_) => Ok(()),
        None => Err(PayloadError::UnknownLength),
    }
}

/// A browser submitting a form asks for HTML; apps, resource servers and
/// the passkey script's `fetch` do not.
fn wants_page(req: &HttpRequest) -> Option<web::Data<AppState>> {
    let accept = req.headers().get(header::ACCEPT)?.to_str().ok()?;
    if !accept.contains("text/html") {
        return None;
    }
    req.app_data::<web::Data<AppState>>().cloned()
}

/// A body doorstep would not read, or could not.
pub struct BodyError {
    status: StatusCode,
    message: &'static str,
    /// The error page is shown with this, for a browser; without, the
    /// OAuth JSON error.
    page: Option<web::Data<AppState>>,
}

impl BodyError {
    fn new(e: &PayloadError, page: Option<web::Data<AppState>>) -> BodyError {
        let (status, message) = match e {
            PayloadError::Overflow => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 64 KiB",
            ),
            PayloadError::UnknownLength => (
                StatusCode::BAD_REQUEST,
                "the Content-Length header is not a number",
            ),
            other => {
                tracing::debug!(error = %other, "a request body could not be read");
                (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
            }
        };
        BodyError {
            status,
            message,
            page,
        }
    }

    /// The OAuth JSON error whatever the request accepts: what the token,
    /// introspection and revocation endpoints answer (ERR-4).
    pub fn oauth_response(&self) -> HttpResponse {
        let error = OAuthError::new(ErrorCode::InvalidRequest, self.message);
        respond::json(self.status, &error.to_json())
    }
}

impl std::fmt::Debug for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyError")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("page", &self.page.is_some())
            .finish()
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

impl ResponseError for BodyError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        match &self.page {
            Some(state) => {
                let mut message = self.message.to_owned();
                message[..1].make_ascii_uppercase();
                message.push_str(". Go back and try again.");
                respond::error_page(state, self.status, "The form was not read", &message)
            }
            None => self.oauth_response(),
        }
    }
}

/// What has been read so far.
enum Read {
    Nothing,
    /// One piece, kept as the connection handed it over.
    One(Bytes),
    /// More than one, copied together.
    Many(BytesMut),
}

impl Read {
    fn len(&self) -> usize {
        match self {
            Read::Nothing => 0,
            Read::One(b) => b.len(),
            Read::Many(b) => b.len(),
        }
    }

    fn add(self, piece: Bytes) -> Read {
        match self {
            Read::Nothing => Read::One(piece),
            Read::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + piece.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&piece);
                Read::Many(all)
            }
            Read::Many(mut all) => {
                all.extend_from_slice(&piece);
                Read::Many(all)
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Read::Nothing => Bytes::new(),
            Read::One(b) => b,
            Read::Many(b) => b.freeze(),
        }
    }
}

/// Reading a `Body`: ends with the body's end, the first error, or a body
/// past `LIMIT` (refused without reading on).
pub struct ReadBody {
    refused: Option<PayloadError>,
    payload: Payload,
    read: Read,
    req: HttpRequest,
}

impl Future for ReadBody {
    type Output = Result<Body, BodyError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let fail = |this: &ReadBody, e: PayloadError| {
            Poll::Ready(Err(BodyError::new(&e, wants_page(&this.req))))
        };
        if let Some(e) = this.refused.take() {
            return fail(this, e);
        }
        loop {
            match ready!(Pin::new(&mut this.payload).poll_next(cx)) {
                None => {
                    let read = std::mem::replace(&mut this.read, Read::Nothing);
                    return Poll::Ready(Ok(Body(read.into_bytes())));
                }
                Some(Err(e)) => return fail(this, e),
                Some(Ok(piece)) => {
                    if this.read.len() + piece.len() > LIMIT {
                        return fail(this, PayloadError::Overflow);
                    }
                    let read = std::mem::replace(&mut this.read, Read::Nothing);
                    this.read = read.add(piece);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    fn pieces(parts: &[&'static [u8]]) -> Payload {
        let stream = futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, PayloadError>(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        );
        Payload::from(Box::pin(stream) as actix_http::BoxedPayloadStream)
    }

    async fn read(req: TestRequest, parts: &[&'static [u8]]) -> Result<Vec<u8>, StatusCode> {
        let req = req.to_http_request();
        let mut payload = pieces(parts);
        Body::from_request(&req, &mut payload)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.status_code())
    }

    #[actix_web::test]
    async fn a_body_is_read_whole_in_one_piece_or_many() {
        assert_eq!(read(TestRequest::post(), &[]).await, Ok(vec![]));
        assert_eq!(
            read(TestRequest::post(), &[b"token=abc"]).await,
            Ok(b"token=abc".to_vec())
        );
        assert_eq!(
            read(TestRequest::post(), &[b"tok", b"en=a", b"", b"bc"]).await,
            Ok(b"token=abc".to_vec())
        );
    }

    #[actix_web::test]
    async fn a_body_in_one_piece_is_handed_on_as_read() {
        static FORM: &[u8] = b"token=abc";
        let req = TestRequest::post().to_http_request();
        let body = Body::from_request(&req, &mut pieces(&[FORM]))
            .await
            .unwrap();
        assert_eq!(body.as_ptr(), FORM.as_ptr(), "not copied");
    }

    #[actix_web::test]
    async fn a_body_past_the_limit_is_refused_as_too_large() {
        static BIG: [u8; LIMIT] = [b'a'; LIMIT];
        assert_eq!(read(TestRequest::post(), &[&BIG]).await, Ok(BIG.to_vec()));
        assert_eq!(
            read(TestRequest::post(), &[&BIG, b"a"]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(
            read(TestRequest::post(), &[b"a", &BIG]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let exactly = TestRequest::post().insert_header((header::CONTENT_LENGTH, "65536"));
        assert_eq!(read(exactly, &[&BIG]).await, Ok(BIG.to_vec()));
        // Refused on the declared length, before a byte is read.
        let declared = TestRequest::post().insert_header((header::CONTENT_LENGTH, "65537"));
        assert_eq!(
            read(declared, &[b"a"]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let nonsense = TestRequest::post().insert_header((header::CONTENT_LENGTH, "ten"));
        assert_eq!(read(nonsense, &[b"a"]).await, Err(StatusCode::BAD_REQUEST));
    }

    #[actix_web::test]
    async fn the_connections_errors_are_passed_on() {
        let req = TestRequest::post().to_http_request();
        let stream = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"token=")),
            Err(PayloadError::Incomplete(None)),
        ]);
        let mut payload = Payload::from(Box::pin(stream) as actix_http::BoxedPayloadStream);
        let e = Body::from_request(&req, &mut payload).await.unwrap_err();
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
    }
}
