//! Byte-string comparisons that stay calls. Matching a `&[u8]` against a literal (a `match`
//! arm, `==`, `strip_prefix`) is expanded inline into one compare per byte; at a dozen sites
//! that is most of a kilobyte of code in a binary that counts them.

/// `a == b`.
#[inline(never)]
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a == b
}

/// A decimal number of 1 to 6 digits, at most `max`.
#[inline(never)]
pub fn number(s: &[u8], max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + (d - b'0') as u32)).filter(|&n| n <= max)
}

/// `s` without `prefix`, if it starts with it.
#[inline(never)]
pub fn strip<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    s.strip_prefix(prefix)
}
