//! Control of a running system from a shell: `init status [NAME]`, `init start|stop|restart
//! NAME`, `init reload`. The same binary is the client (not PID 1) and the server (PID 1, in
//! system mode), over a unix socket of type SOCK_SEQPACKET at [`SOCKET`]: the client sends
//! one packet, the request; PID 1 answers with one packet and closes. init/README.md
//! documents the protocol, the status lines and the exit codes.
//!
//! PID 1 never waits for a client: the listening socket and every connection are
//! non-blocking, read only when poll says so; a request is at most [`MAX_REQUEST`] bytes; a
//! connection that sends nothing within [`CLIENT_MS`] is closed; at most [`SLOTS`]
//! connections are held, the rest wait in the listen backlog. The peer's uid (SO_PEERCRED)
//! is checked at accept: a non-root caller gets the refusal at once and holds nothing.

use crate::events::now;
use crate::log::{Line, Log, S};
use crate::sys::{self, Errno, Mapping, PollFd};
use core::ffi::CStr;
use init::text::eq;
use rustix::fd::{AsFd, OwnedFd};

/// Where PID 1 listens (on the tmpfs it mounts on /run).
pub const SOCKET: &CStr = c"/run/dmzkit-init.sock";
/// Longest request: a word, a space and a unit name, with room to spare.
pub const MAX_REQUEST: usize = 64;
/// Largest reply: a header line and one status line per task and service.
pub const MAX_REPLY: usize = 16 << 10;
/// Connections PID 1 holds while waiting for their request.
pub const SLOTS: usize = 4;
/// How long a connection may take to send its request.
const CLIENT_MS: u64 = 1000;
/// How long the client waits for the reply (a stop waits up to the service's stop timeout).
const REPLY_WAIT_MS: u64 = 120_000;

/// Exit codes of the client (and the code in a reply's header line).
pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const NOT_ROOT: u8 = 3;
pub const UNREACHABLE: u8 = 4;

/// The words a client may send, and how many names each takes (`status` 0 or 1).
const WORDS: [(&[u8], u8, u8); 5] =
    [(b"status", 0, 1), (b"start", 1, 1), (b"stop", 1, 1), (b"restart", 1, 1), (b"reload", 0, 0)];

/// Whether `args` (init's arguments after its name) are a control request.
pub fn is_request(word: &[u8]) -> bool {
    WORDS.iter().any(|(w, _, _)| eq(w, word))
}

/// PID 1's end: the listening socket and the connections waiting for their request.
pub struct Server {
    listen: OwnedFd,
    conns: [Option<(OwnedFd, u64)>; SLOTS],
}

/// A request read from a connection; answered (and the connection closed) by [`Request::reply`].
pub struct Request {
    conn: OwnedFd,
    buf: [u8; MAX_REQUEST],
    /// The packet's full length (more than the buffer when it was too long).
    len: usize,
}

impl Server {
    /// Listens on [`SOCKET`].
    pub fn open() -> Result<Server, Errno> {
        Ok(Server { listen: sys::listen_unix(SOCKET)?, conns: [const { None }; SLOTS] })
    }

    /// The fds to poll: `fds[0]` the listener (only while a slot is free), `fds[1 + k]`
    /// connection k; -1 where there is none.
    pub fn poll_set(&self, fds: &mut [PollFd]) {
        use rustix::fd::AsRawFd;
        let free = self.conns.iter().any(Option::is_none);
        fds[0] = PollFd::new(if free { self.listen.as_raw_fd() } else { -1 });
        for (f, c) in fds[1..].iter_mut().zip(&self.conns) {
            *f = PollFd::new(c.as_ref().map_or(-1, |(fd, _)| fd.as_raw_fd()));
        }
    }

    /// When the first held connection expires.
    pub fn deadline(&self) -> u64 {
        let mut first = u64::MAX;
        for &(_, d) in self.conns.iter().flatten() {
            first = first.min(d);
        }
        first
    }

    /// Closes connections past their deadline.
    pub fn expire(&mut self, t: u64) {
        for c in self.conns.iter_mut() {
            if c.as_ref().is_some_and(|&(_, d)| d <= t) {
                *c = None;
            }
        }
    }

    /// Accepts pending connections into free slots; a non-root peer is refused at once.
    pub fn accept(&mut self) {
        while let Some(slot) = self.conns.iter_mut().find(|c| c.is_none()) {
            let Ok(conn) = sys::accept(self.listen.as_fd()) else { return };
            match sys::peer_uid(conn.as_fd()) {
                Ok(0) => *slot = Some((conn, now() + CLIENT_MS)),
                _ => refuse(&conn),
            }
        }
    }

    /// Reads the request of slot `k` (readable, hung up or in error); `None` if there is
    /// nothing yet, or the client left (its slot is freed then).
    pub fn take(&mut self, k: usize) -> Option<Request> {
        let (conn, _) = self.conns.get_mut(k)?.take()?;
        let mut buf = [0u8; MAX_REQUEST];
        match sys::recv_packet(conn.as_fd(), &mut buf) {
            Ok(len) if len > 0 => Some(Request { conn, buf, len }),
            Err(sys::EAGAIN) => {
                self.conns[k] = Some((conn, now() + CLIENT_MS));
                None
            }
            _ => None, // closed, or an error: nothing to answer
        }
    }
}

impl Request {
    /// The request's word and its name (empty when none); `None` for a request that is not
    /// `WORD` or `WORD NAME` of at most [`MAX_REQUEST`] bytes.
    pub fn words(&self) -> Option<(&[u8], &[u8])> {
        parse(self.buf.get(..self.len)?)
    }

    /// Answers with `code`, `message` (the client prints it on stderr as `init: MESSAGE`;
    /// empty for none) and `body` (printed on stdout). Dropping the request closes the
    /// connection.
    pub fn reply(&self, code: u8, message: &[u8], body: &[u8]) {
        answer(&self.conn, code, message, body);
    }
}

/// Answers a non-root peer at once, without reading its request. Closing a socket with
/// unread packets would reset the connection (the client would see ECONNRESET, not the
/// answer): further packets are refused first, then what already arrived is dropped.
fn refuse(conn: &OwnedFd) {
    answer(conn, NOT_ROOT, b"control needs root", b"");
    sys::shutdown_read(conn.as_fd());
    while sys::recv_packet(conn.as_fd(), &mut []).is_ok_and(|n| n > 0) {}
}

/// `WORD` or `WORD NAME`, a word of [`WORDS`] with as many names as it takes.
fn parse(r: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = r.split(|&b| b == b' ');
    let word = parts.next()?;
    let name = parts.next().unwrap_or(b"");
    let &(_, min, max) = WORDS.iter().find(|(w, _, _)| eq(w, word))?;
    let n = !name.is_empty() as u8;
    (parts.next().is_none() && n >= min && n <= max).then_some((word, name))
}

/// Sends the one reply packet: `CODE[ MESSAGE]\n` then `body`, gathered by the kernel from
/// where they are; a reply that cannot be sent at once is dropped.
fn answer(conn: &OwnedFd, code: u8, message: &[u8], body: &[u8]) {
    let head = [b'0' + code, b' '];
    let head = if message.is_empty() { &head[..1] } else { &head[..] };
    let _ = sys::send_parts(conn.as_fd(), [head, message, b"\n", body]);
}

/// The client: `init WORD [NAME]` sent to PID 1; prints the reply and returns its code.
#[inline(never)]
pub fn client(args: &linker::Args) -> i32 {
    let log = Log::new(false);
    // The arguments joined by spaces (the server splits them again): one that does not fit
    // in a request makes it too long, whatever the rest.
    let mut line = Line::default();
    for i in 1..args.len() {
        if i > 1 {
            line.push(b" ");
        }
        line.push(crate::arg(args, i));
    }
    let req = crate::log::bytes(&line);
    if req.len() > MAX_REQUEST || parse(req).is_none() {
        log.error(b"usage: init status [NAME] | init start|stop|restart NAME | init reload", &[]);
        return USAGE as i32;
    }
    let fail = |what: &[u8], e: Errno| {
        log.error_unable(what, e, Some(SOCKET.to_bytes()));
        UNREACHABLE as i32
    };
    let conn = match sys::connect_unix(SOCKET) {
        Ok(c) => c,
        Err(e) => return fail(b"reach PID 1", e),
    };
    // A refusal may already be waiting, and the request refused (EPIPE): read on.
    let _ = sys::send_packet(conn.as_fd(), req);
    let Ok(mut m) = Mapping::new(MAX_REPLY) else { return UNREACHABLE as i32 };
    let (code, reply) = match read_reply(&conn, &mut m) {
        Ok(r) => r,
        Err(e) => return fail(b"read reply", e),
    };
    let head = reply.iter().position(|&b| b == b'\n').unwrap_or(reply.len());
    if head > 2 {
        log.error(b"%", &[S(&reply[2..head])]);
    }
    sys::write(sys::stdio(sys::Stdio::Out), reply.get(head + 1..).unwrap_or(b""));
    code as i32
}

/// Waits for the reply to arrive and reads it: its code and its bytes.
fn read_reply<'m>(conn: &OwnedFd, m: &'m mut [u8]) -> Result<(u8, &'m [u8]), Errno> {
    if !sys::poll_readable(&mut [PollFd::new(rustix::fd::AsRawFd::as_raw_fd(conn))], Some(REPLY_WAIT_MS)) {
        return Err(sys::ETIMEDOUT);
    }
    let reply = match sys::recv_packet(conn.as_fd(), m)? {
        0 => return Err(sys::ECONNRESET),
        len => &m[..len.min(m.len())],
    };
    match reply.first() {
        Some(&c @ b'0'..=b'9') => Ok((c - b'0', reply)),
        _ => Err(sys::EINVAL),
    }
}
