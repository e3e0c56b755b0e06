//! `dmz FILE` | `dmz --fd N`: read a compiled config, apply it, exec the target.
//!
//! Exit status when dmz itself fails (docs/design.md §4): 125 before exec, 126 target not
//! executable, 127 target not found. One line on stderr.
#![no_std]
#![no_main]

use dmz::config::{le32, HEADER_LEN, MAX_ARGS, MAX_CONFIG_LEN, MAX_ENV};
use dmz::error::{Bad, Error, Step};
use dmz::sys::{Linux, Scratch};
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
        let r = load(fd);
        // Closed before anything else happens, so it never reaches the target.
        dmz::sys::close(fd);
        match r {
            Ok(s) => return dmz::run_in(k, s.blob, s.ptrs, s.path),
            Err(e) => (e, b""),
        }
    };
    dmz::fail(k, err, name)
}

/// Reads the config from `fd`: its 16-byte header, then the body (of the length the header
/// gives) into a [`Scratch`] sized by it, one byte more asked for than the body, so that
/// trailing bytes show. A short header or body is left for the decoder to name. Nothing here
/// is sized by the limits: a 1 KiB config touches a page or two.
fn load(fd: i32) -> Result<Scratch, Error> {
    let mut head = [0u8; HEADER_LEN];
    let n = read_all(fd, &mut head)?;
    let body = if n == HEADER_LEN { le32(&head, 8) } else { 0 };
    let body = body as usize;
    if body > MAX_CONFIG_LEN - HEADER_LEN {
        return Err(Error::invalid(Bad::TooLarge, 0));
    }
    // No more pointers than strings: each string has its NUL in the body.
    let slots = body.min(MAX_ARGS + MAX_ENV) + 2;
    let mut s =
        dmz::sys::scratch(HEADER_LEN + body + 1, slots).map_err(|e| Error::new(Step::ReadConfig, e, 0))?;
    let mut m = 0;
    if let Some((start, rest)) = s.blob.split_at_mut_checked(HEADER_LEN) {
        for (to, from) in start.iter_mut().zip(head) {
            *to = from;
        }
        if n == HEADER_LEN {
            m = read_all(fd, rest)?;
        }
    }
    s.blob = core::mem::take(&mut s.blob).get_mut(..n + m).unwrap_or_default();
    Ok(s)
}

/// Reads to EOF, or until `buf` is full, from the fd's current offset: a file, a memfd
/// (launcher rewinds it), a pipe.
fn read_all(fd: i32, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    loop {
        let rest = match buf.get_mut(n..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => return Ok(n),
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
