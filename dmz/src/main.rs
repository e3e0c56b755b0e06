//! `dmz FILE` | `dmz --fd N`: read a compiled config, apply it, exec the target.
//!
//! Exit status when dmz itself fails (docs/design.md §4): 125 before exec, 126 target not
//! executable, 127 target not found. One line on stderr.
#![no_std]
#![no_main]

use dmz::config::MAX_CONFIG_LEN;
use dmz::error::{Bad, Error, Step};
use dmz::sys::Linux;
use linux_raw_sys::general::O_RDONLY;

linker::entry!(main);

fn main(args: linker::Args) -> i32 {
    let k = &mut Linux;
    // Every failure before the config runs ends in the one report below.
    let (err, name): (Error, &[u8]) = 'fail: {
        let fd = match (args.len(), args.get(1)) {
            (2, Some(path)) if path.to_bytes().first() != Some(&b'-') => {
                match dmz::sys::open(path, O_RDONLY) {
                    Ok(fd) => fd,
                    Err(e) => break 'fail (Error::new(Step::OpenConfig, e, 0), path.to_bytes()),
                }
            }
            // The caller handed fd n to dmz; it is owned here and closed after reading. If it
            // is not open, read reports EBADF.
            (3, Some(flag)) if flag.to_bytes() == b"--fd" => {
                match args.get(2).and_then(|n| parse_fd(n.to_bytes())) {
                    Some(fd) => fd,
                    None => break 'fail (Error::invalid(Bad::Usage, 0), b""),
                }
            }
            _ => break 'fail (Error::invalid(Bad::Usage, 0), b""),
        };
        // The config lives on the stack: fixed size, nothing to free, gone at exec. One byte
        // more than the maximum tells "too large" from "exactly the maximum".
        let mut buf = [0u8; MAX_CONFIG_LEN + 1];
        let r = read_all(fd, &mut buf);
        // Closed before anything else happens, so it never reaches the target.
        dmz::sys::close(fd);
        match r {
            // n ≤ buf.len(): read never returns more than asked (no panic site, see
            // exec_program).
            Ok(n) => return dmz::run(k, buf.get(..n).unwrap_or_default()),
            Err(e) => (e, b""),
        }
    };
    dmz::fail(k, err, name)
}

/// Reads to EOF from the fd's current offset: a file, a memfd (launcher rewinds it), a pipe.
fn read_all(fd: i32, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    loop {
        let rest = match buf.get_mut(n..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => return Err(Error::invalid(Bad::TooLarge, 0)),
        };
        match linker::sys::read(fd, rest) {
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
