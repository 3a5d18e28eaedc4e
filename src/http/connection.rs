//! What one client connection may cost. A few thousand connections that
//! send a request head or body a byte at a time must not use up the
//! process's files or keep honest clients waiting (issue 11). Three bounds,
//! each cheap:
//!
//! - [`Gate`] caps the connections open at once from one client address.
//!   An IPv6 /64 counts as one address: one host usually holds a whole /64.
//!   Trusted proxies are exempt, since behind one every visitor shares its
//!   address. A connection over the cap is closed as soon as it is
//!   accepted, before any HTTP state exists for it.
//! - [`Guarded`] is the connection's socket. Whenever no request is in
//!   service, the connection must deliver a complete request head within
//!   keep-alive plus the header deadline, or it is closed, whatever it
//!   trickles meanwhile. actix's own head deadline covers only the first
//!   request of a connection, and its keep-alive timer stops at the first
//!   byte of the next request, so without this a client could make one
//!   quick request and then hold the connection forever.
//! - [`BodyDeadline`], a middleware, bounds the time to receive a request
//!   body. A body still incomplete at its deadline is answered 408 and the
//!   connection is closed.
//!
//! The socket and the middleware meet through [`Activity`], one per
//! connection, which actix hands to each of its requests as connection
//! data. Everything here runs for every connection: it must never block or
//! panic.

use super::respond;
use crate::config::{ConnectionLimits, TrustedProxies};
use crate::oauth::{ErrorCode, OAuthError};
use crate::ratelimit::address_key;
use actix_http::error::DispatchError;
use actix_http::{BoxedPayloadStream, Protocol};
use actix_web::body::EitherBody;
use actix_web::dev::{
    Extensions, Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready,
};
use actix_web::error::{InternalError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::rt::net::TcpStream;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::Stream;
use std::cell::Cell;
use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The per-address connection cap, shared by the workers.
pub struct Gate {
    per_address: usize,
    trusted_proxies: TrustedProxies,
    open: Mutex<HashMap<IpAddr, usize>>,
    /// When the operator was last told of a refusal: at most once a minute,
    /// so that a flood of connections cannot flood the log as well.
    last_warning: Mutex<Option<std::time::Instant>>,
}

/// One admitted connection's place in the [`Gate`], given back on drop.
pub struct Slot {
    /// `None` for a trusted proxy, which is not counted.
    gate: Option<Arc<Gate>>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            gate.release(self.key);
        }
    }
}

impl Gate {
    pub fn new(per_address: usize, trusted_proxies: &TrustedProxies) -> Arc<Gate> {
        Arc::new(Gate {
            per_address,
            trusted_proxies: trusted_proxies.clone(),
            open: Mutex::new(HashMap::new()),
            last_warning: Mutex::new(None),
        })
    }

    /// A slot for a new connection from `peer`, or `None` when that address
    /// already holds its share.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let peer = peer.to_canonical();
        if self.trusted_proxies.contains(peer) {
            return Some(Slot {
                gate: None,
                key: peer,
            });
        }
        let key = address_key(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.per_address {
            drop(open);
            self.warn_refused(key);
            return None;
        }
        *count += 1;
        Some(Slot {
            gate: Some(self.clone()),
            key,
        })
    }

    /// Connections currently counted against `peer`'s address.
    pub fn open_from(&self, peer: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&address_key(peer)).copied().unwrap_or(0)
    }

    fn release(&self, key: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&key);
            }
        }
    }

    fn warn_refused(&self, key: IpAddr) {
        let now = std::time::Instant::now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(60)) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            address = %key,
            limit = self.per_address,
            "closed a connection from an address that already has connections_per_address open \
             (told at most once a minute). If this is your reverse proxy, add it to trusted_proxies."
        );
    }

    /// Admits an accepted connection and wraps its socket for the HTTP
    /// service, or refuses it: the error drops the socket, which closes it.
    pub fn guard(
        self: &Arc<Self>,
        io: TcpStream,
        limits: &ConnectionLimits,
    ) -> Result<(Guarded, Protocol, Option<SocketAddr>), DispatchError> {
        let peer = io.peer_addr().map_err(DispatchError::Io)?;
        let slot = self.admit(peer.ip()).ok_or_else(|| {
            DispatchError::Io(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "too many connections from one address",
            ))
        })?;
        let idle_limit = limits.keep_alive + limits.header_deadline;
        Ok((
            Guarded::new(io, slot, idle_limit),
            Protocol::Http1,
            Some(peer),
        ))
    }
}

/// A connection's requests as the middleware sees them: how many are in
/// service, and how many have started.
#[derive(Default)]
pub struct Activity {
    in_service: Cell<u32>,
    started: Cell<u64>,
}

impl Activity {
    fn begin(self: &Rc<Self>) -> InService {
        self.in_service.set(self.in_service.get().saturating_add(1));
        self.started.set(self.started.get().wrapping_add(1));
        InService(self.clone())
    }
}

/// A request in service; the connection's idle clock may run again once
/// every one is dropped (answered, or abandoned by a vanished client).
pub struct InService(Rc<Activity>);

impl Drop for InService {
    fn drop(&mut self) {
        let n = &self.0.in_service;
        n.set(n.get().saturating_sub(1));
    }
}

/// An admitted connection's socket, closed when it sits too long with no
/// request in service.
pub struct Guarded {
    io: TcpStream,
    activity: Rc<Activity>,
    idle_limit: Duration,
    timer: Pin<Box<Sleep>>,
    /// The request count the timer was last set for; `None` while a
    /// request is in service.
    armed_for: Option<u64>,
    expired: bool,
    _slot: Slot,
}

impl Guarded {
    fn new(io: TcpStream, slot: Slot, idle_limit: Duration) -> Guarded {
        Guarded {
            io,
            activity: Rc::new(Activity::default()),
            idle_limit,
            timer: Box::pin(tokio::time::sleep(idle_limit)),
            armed_for: None,
            expired: false,
            _slot: slot,
        }
    }

    /// Hands the connection's [`Activity`] to its requests (actix's
    /// `on_connect_ext`).
    pub fn share_activity(&self, ext: &mut Extensions) {
        ext.insert(self.activity.clone());
    }

    /// Runs the idle clock: started afresh whenever the connection falls
    /// idle (at open, and after each request), stopped while a request is
    /// in service. Once it has run out every read and write fails, and
    /// actix drops the connection.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.expired {
            return Err(idle_error());
        }
        if self.activity.in_service.get() > 0 {
            self.armed_for = None;
            return Ok(());
        }
        let started = self.activity.started.get();
        if self.armed_for != Some(started) {
            self.timer.as_mut().reset(Instant::now() + self.idle_limit);
            self.armed_for = Some(started);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Err(idle_error());
        }
        Ok(())
    }
}

fn idle_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no complete request arrived in time",
    )
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check_idle(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A client that stops reading its answer is idle too.
        if let Err(e) = this.check_idle(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check_idle(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Middleware: marks each request in service on its connection's
/// [`Activity`], and gives a request body `limit` from the arrival of its
/// head to arrive whole. A late body is answered 408 with an OAuth
/// `invalid_request` JSON error (what the OAuth endpoints must send; no
/// browser takes seconds over a form) and the connection is closed.
#[derive(Clone, Copy)]
pub struct BodyDeadline {
    limit: Duration,
}

impl BodyDeadline {
    pub fn new(limit: Duration) -> BodyDeadline {
        BodyDeadline { limit }
    }
}

impl<S, B> Transform<S, ServiceRequest> for BodyDeadline
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BodyDeadlineService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BodyDeadlineService {
            service: Rc::new(service),
            limit: self.limit,
        }))
    }
}

pub struct BodyDeadlineService<S> {
    service: Rc<S>,
    limit: Duration,
}

impl<S, B> Service<ServiceRequest> for BodyDeadlineService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Answer<S>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let in_service = req.conn_data::<Rc<Activity>>().map(Activity::begin);
        // Requests without a body (the legacy verification) pay nothing.
        let late = match req.take_payload() {
            Payload::None => None,
            payload => {
                let late = Rc::new(Cell::new(false));
                let timed: BoxedPayloadStream = Box::pin(TimedBody {
                    inner: payload,
                    due: Instant::now() + self.limit,
                    deadline: None,
                    late: late.clone(),
                    finished: false,
                });
                req.set_payload(Payload::from(timed));
                Some(late)
            }
        };
        let stage = match late {
            None => Stage::Called {
                fut: self.service.call(req),
            },
            Some(_) => Stage::Head {
                service: self.service.clone(),
                req: Some(req),
                yielded: false,
            },
        };
        Answer {
            stage,
            late,
            in_service,
        }
    }
}

/// A request body that fails once its deadline has passed, and says so in
/// `late`.
///
/// The timer is only set when the body has to be waited for: a body that
/// arrived with its head (an introspection call's few dozen bytes, nearly
/// always) is read without one, since the handler is only called once
/// actix has decoded what came with the head (`Stage::Head`). Setting a
/// timer and dropping it unfired took a timer-wheel entry, an allocation
/// and two clock reads per request, about a twentieth of an
/// introspection's user instructions (issue 10).
struct TimedBody {
    inner: Payload,
    /// `limit` after the head arrived.
    due: Instant,
    /// Set at the first wait.
    deadline: Option<Pin<Box<Sleep>>>,
    late: Rc<Cell<bool>>,
    finished: bool,
}

impl TimedBody {
    fn fail_late(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.finished = true;
        self.late.set(true);
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request body did not arrive in time",
        )))))
    }
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        // Once waited for, a body past its deadline fails even if a piece
        // is ready: a trickle must not outlive the deadline a byte at a time.
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return this.fail_late();
        }
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.finished = true,
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Pending if this.deadline.is_none() => {
                // A real wait: from now on the deadline wakes us too.
                let mut deadline = Box::pin(tokio::time::sleep_until(this.due));
                if deadline.as_mut().poll(cx).is_ready() {
                    return this.fail_late();
                }
                this.deadline = Some(deadline);
            }
            // Polled above: it wakes us when it runs out.
            Poll::Pending => {}
        }
        item
    }
}

pin_project_lite::pin_project! {
    /// The answer to a request: the handler's, or 408 when its body was late.
    pub struct Answer<S>
    where
        S: Service<ServiceRequest>,
    {
        #[pin]
        stage: Stage<S>,
        late: Option<Rc<Cell<bool>>>,
        in_service: Option<InService>,
    }
}

pin_project_lite::pin_project! {
    /// Whether the handler has been called.
    #[project = StageProj]
    enum Stage<S>
    where
        S: Service<ServiceRequest>,
    {
        /// Not yet, for a request with a body. actix polls a request's
        /// answer as soon as it has decoded the head, before it decodes the
        /// body that came in the same read; it does so next, then polls
        /// the answer again. Called at that second poll, the handler finds
        /// the body there, instead of going through the routing, its
        /// extractors and its own first steps once more only to find it
        /// missing (about 400 instructions of an introspection's 27,000 in
        /// callgrind; issue 10). The first poll also asks to be polled
        /// again, which a pipelined request needs: one queued behind
        /// another is first polled when actix turns to it, with nothing
        /// left to decode and no second poll to come (without the wake it
        /// is never answered: `introspection::pipelined_introspection_
        /// calls_are_both_answered`).
        Head {
            service: Rc<S>,
            req: Option<ServiceRequest>,
            yielded: bool,
        },
        Called {
            #[pin]
            fut: S::Future,
        },
    }
}

impl<S, B> Future for Answer<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let res = loop {
            match this.stage.as_mut().project() {
                StageProj::Head { yielded, .. } if !*yielded => {
                    *yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                StageProj::Head { service, req, .. } => {
                    let Some(req) = req.take() else {
                        // Never: taken only here, and the stage is
                        // `Called` straight after. Failing beats hanging.
                        return Poll::Ready(Err(InternalError::new(
                            "the request was already handed on",
                            StatusCode::INTERNAL_SERVER_ERROR,
                        )
                        .into()));
                    };
                    let fut = service.call(req);
                    this.stage.set(Stage::Called { fut });
                }
                StageProj::Called { fut } => match fut.poll(cx) {
                    Poll::Ready(res) => break res,
                    Poll::Pending => return Poll::Pending,
                },
            }
        };
        this.in_service.take();
        let late = this.late.as_ref().is_some_and(|l| l.get());
        Poll::Ready(match res {
            Ok(res) if late => {
                let (req, _) = res.into_parts();
                Ok(ServiceResponse::new(req, body_too_slow()).map_into_right_body())
            }
            Ok(res) => Ok(res.map_into_left_body()),
            Err(_) if late => {
                Err(InternalError::from_response("request body too slow", body_too_slow()).into())
            }
            Err(e) => Err(e),
        })
    }
}

/// 408, `invalid_request`, and the connection closed: the rest of the body
/// is not worth waiting for.
fn body_too_slow() -> HttpResponse {
    let error = OAuthError::new(
        ErrorCode::InvalidRequest,
        "the request body did not arrive in time",
    );
    respond::no_store(HttpResponse::build(StatusCode::REQUEST_TIMEOUT))
        .force_close()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(error.to_json().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_gate_refuses_past_the_cap_and_gives_slots_back_on_drop() {
        let gate = Gate::new(2, &TrustedProxies::none());
        let a = gate.admit(ip("192.0.2.1")).expect("first");
        let _b = gate.admit(ip("::ffff:192.0.2.1")).expect("second");
        assert!(gate.admit(ip("192.0.2.1")).is_none(), "third refused");
        assert!(gate.admit(ip("192.0.2.2")).is_some(), "another address");
        drop(a);
        assert_eq!(gate.open_from(ip("192.0.2.1")), 1);
        assert!(gate.admit(ip("192.0.2.1")).is_some(), "a slot came back");
    }

    #[test]
    fn the_gate_counts_an_ipv6_64_together() {
        let gate = Gate::new(1, &TrustedProxies::none());
        let _a = gate.admit(ip("2001:db8::1")).expect("first");
        assert!(gate.admit(ip("2001:db8::2")).is_none());
        assert!(gate.admit(ip("2001:db8:0:1::1")).is_some());
    }

    #[test]
    fn trusted_proxies_are_not_counted() {
        let gate = Gate::new(1, &TrustedProxies::from(ip("10.0.0.1")));
        let slots: Vec<Slot> = (0..10)
            .map(|_| gate.admit(ip("::ffff:10.0.0.1")).expect("exempt"))
            .collect();
        assert_eq!(gate.open_from(ip("10.0.0.1")), 0);
        drop(slots);
        assert_eq!(gate.open_from(ip("10.0.0.1")), 0);
    }
}
