//! Loopback ports for addresses that must lead nowhere.

/// A loopback port bound but not listening, for as long as this lives: a
/// connection to it is refused at once, and the kernel gives it to no
/// other socket, so no other test's server or fixture can appear there.
/// Where IPv6 loopback exists the port is held on `[::1]` too, for client
/// ids spelled `[::1]` or `localhost`.
pub struct UnusedPort {
    pub port: u16,
    _sockets: Vec<socket2::Socket>,
}

impl UnusedPort {
    pub fn new() -> UnusedPort {
        use socket2::{Domain, Socket, Type};
        let hold = |addr: std::net::SocketAddr| -> std::io::Result<Socket> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.bind(&addr.into())?;
            Ok(socket)
        };
        for _ in 0..100 {
            let v4 = hold(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
            let port = v4
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .expect("bound address")
                .port();
            match hold((std::net::Ipv6Addr::LOCALHOST, port).into()) {
                Ok(v6) => {
                    return UnusedPort {
                        port,
                        _sockets: vec![v4, v6],
                    };
                }
                // No IPv6 loopback here: nothing can listen on it either.
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                    return UnusedPort {
                        port,
                        _sockets: vec![v4],
                    };
                }
                // Taken on [::1]: try another port.
                Err(_) => continue,
            }
        }
        panic!("no loopback port free on both 127.0.0.1 and [::1]");
    }
}

impl Default for UnusedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback port free at the moment of asking, for tests that must name
/// the port before the binary binds it (an issuer of `http://localhost:PORT/`).
/// Racy by nature — another process may take it first — so prefer
/// `--listen 127.0.0.1:0` and the binary's listening line where the port
/// need not be known in advance.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
