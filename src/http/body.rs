//! `Body`: a request body read whole, for the handlers that take forms and
//! JSON. It answers as actix-web's `Bytes` extractor did (413 for a body,
//! or a declared `Content-Length`, past `LIMIT`; 400 for a `Content-Length`
//! that is not a number; the connection's own errors as they come, the body
//! deadline's included, `connection::TimedBody`), without that extractor's
//! work on every request: a lookup of its configuration, an 8 KiB buffer
//! and a copy of the body into it. A body that arrives in one piece, as
//! nearly every form does, is handed on as the piece the connection read
//! (sharing the connection's read buffer until the handler is done);
//! introspection reads one on every Micropub request (issue 10).
//!
//! Every handler reads its body through `Body`. actix-web's own body
//! extractors (`web::Bytes`, `String`, `web::Form`, `web::Json`) are not
//! used, and no `PayloadConfig` is registered: one would read up to
//! actix's default of 256 KiB.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::Stream;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The largest body doorstep reads: its forms are a few hundred bytes, a
/// passkey's attestation a few kilobytes.
pub const LIMIT: usize = 64 * 1024;

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
    type Error = actix_web::Error;
    type Future = ReadBody;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> ReadBody {
        ReadBody {
            refused: check_declared_length(req).err(),
            payload: payload.take(),
            read: Read::Nothing,
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
}

impl Future for ReadBody {
    type Output = Result<Body, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.refused.take() {
            return Poll::Ready(Err(e.into()));
        }
        loop {
            match ready!(Pin::new(&mut this.payload).poll_next(cx)) {
                None => {
                    let read = std::mem::replace(&mut this.read, Read::Nothing);
                    return Poll::Ready(Ok(Body(read.into_bytes())));
                }
                Some(Err(e)) => return Poll::Ready(Err(e.into())),
                Some(Ok(piece)) => {
                    if this.read.len() + piece.len() > LIMIT {
                        return Poll::Ready(Err(PayloadError::Overflow.into()));
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
            .map_err(|e| e.as_response_error().status_code())
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
        assert_eq!(e.as_response_error().status_code(), StatusCode::BAD_REQUEST);
    }
}
