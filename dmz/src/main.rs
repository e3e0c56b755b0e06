//! `dmz FILE` | `dmz --fd N`: read a compiled config, apply it, exec the target.
//!
//! Exit status when dmz itself fails (DESIGN §4): 125 before exec, 126 target not
//! executable, 127 target not found. One line on stderr.
#![no_std]
#![no_main]

use dmz::config::MAX_CONFIG_LEN;
use dmz::error::{Bad, Error, Step};
use dmz::sys::Linux;

linker::entry!(main);

fn main(args: linker::Args) -> i32 {
    // The config lives on the stack: fixed size, nothing to free, gone at exec. One byte
    // more than the maximum tells "too large" from "exactly the maximum".
    let mut buf = [0u8; MAX_CONFIG_LEN + 1];
    match load(&args, &mut buf) {
        Ok(n) => dmz::run(&mut Linux, &buf[..n]),
        Err((e, name)) => dmz::fail(&mut Linux, e, name),
    }
}

/// Reads the config named by the arguments into `buf`; returns its length. The config fd is
/// closed before this returns, so it never reaches the target.
fn load(args: &linker::Args, buf: &mut [u8]) -> Result<usize, (Error, &'static [u8])> {
    let usage = (Error::invalid(Bad::Usage, 0), &[][..]);
    let arg1 = args.get(1).ok_or(usage)?;
    let fd = match (arg1.to_bytes(), args.len()) {
        // The caller handed fd n to dmz; it is owned here and closed after reading. If it is
        // not open, read reports EBADF.
        (b"--fd", 3) => parse_fd(args.get(2).ok_or(usage)?.to_bytes()).ok_or(usage)?,
        (path, 2) if !path.starts_with(b"-") => dmz::sys::open(arg1, linux_raw_sys::general::O_RDONLY)
            .map_err(|e| (Error::new(Step::OpenConfig, e, 0), path))?,
        _ => return Err(usage),
    };
    let r = read_all(fd, buf);
    dmz::sys::close(fd);
    r.map_err(|e| (e, &[][..]))
}

/// Reads to EOF from the fd's current offset: a file, a memfd (launcher rewinds it), a pipe.
fn read_all(fd: i32, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    loop {
        if n == buf.len() {
            return Err(Error::invalid(Bad::TooLarge, 0));
        }
        match linker::sys::read(fd, &mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(e) if e == linux_raw_sys::errno::EINTR as u16 => {}
            Err(e) => return Err(Error::new(Step::ReadConfig, e, 0)),
        }
    }
}

/// A decimal fd number, at most 9 digits (fits in i32).
fn parse_fd(s: &[u8]) -> Option<i32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut n = 0i32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as i32;
    }
    Some(n)
}
