//! Signal names and numbers. The numbering is the generic one (asm-generic/signal.h), which
//! x86, arm, aarch64 and riscv share.

/// Names of signals 1..=31 without "SIG", space-separated to keep the table small.
const NAMES: &[u8] = b"HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT \
CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS ";

use linux_raw_sys::general as g;

pub const SIGHUP: u8 = g::SIGHUP as u8;
pub const SIGINT: u8 = g::SIGINT as u8;
pub const SIGKILL: u8 = g::SIGKILL as u8;
pub const SIGUSR1: u8 = g::SIGUSR1 as u8;
pub const SIGUSR2: u8 = g::SIGUSR2 as u8;
pub const SIGTERM: u8 = g::SIGTERM as u8;
pub const SIGCHLD: u8 = g::SIGCHLD as u8;
pub const SIGTTIN: u8 = g::SIGTTIN as u8;
pub const SIGTTOU: u8 = g::SIGTTOU as u8;
/// The highest signal number (_NSIG).
pub const MAX: u8 = 64;

/// The name of signal `n` without "SIG" ("TERM"), for 1..=31.
pub fn name(n: u8) -> Option<&'static [u8]> {
    NAMES.split(|&b| b == b' ').nth((n as usize).checked_sub(1)?).filter(|s| !s.is_empty())
}

/// A signal given as "SIGTERM", "TERM" or a number 1..=64.
pub fn parse(s: &[u8]) -> Option<u8> {
    if s.first().is_some_and(u8::is_ascii_digit) {
        return crate::text::number(s, MAX as u32).filter(|&n| n > 0 && s.len() <= 3).map(|n| n as u8);
    }
    let bare = crate::text::strip(s, b"SIG").unwrap_or(s);
    // One pass over the table: a name's position is its number.
    let mut n = 0;
    for name in NAMES.split(|&b| b == b' ') {
        n += 1;
        if !name.is_empty() && crate::text::eq(name, bare) {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(name(1), Some(&b"HUP"[..]));
        assert_eq!(name(15), Some(&b"TERM"[..]));
        assert_eq!(name(31), Some(&b"SYS"[..]));
        assert_eq!(name(0), None);
        assert_eq!(name(32), None);
        assert_eq!(parse(b"SIGKILL"), Some(9));
        assert_eq!(parse(b"USR2"), Some(12));
        assert_eq!(parse(b"SIGCHLD"), Some(SIGCHLD));
        assert_eq!(parse(b"34"), Some(34));
        assert_eq!(parse(b"64"), Some(64));
        assert_eq!(parse(b"65"), None);
        assert_eq!(parse(b"0"), None);
        assert_eq!(parse(b"0009"), None);
        assert_eq!(parse(b"SIGFOO"), None);
        assert_eq!(parse(b""), None);
        for n in 1..32 {
            assert_eq!(parse(name(n).unwrap()), Some(n));
        }
    }
}
