//! Programs that run inside the qemu-tests VMs, static and without libc like dmz and init.
//!
//! They report on the serial console in a line format the harness parses (one `write` per
//! line, so lines from concurrent processes do not interleave mid-line):
//!
//! ```text
//! DMZKIT-OBS <tag> <key> <value...>      an observation; the harness compares it
//! DMZKIT-TEST <name> PASS|FAIL <detail>  a verdict reached inside the VM
//! DMZKIT-END <who>                       the end marker
//! ```
#![no_std]

pub mod sys;

/// Prefix of observation lines.
pub const OBS: &[u8] = b"DMZKIT-OBS ";
/// Prefix of verdict lines.
pub const TEST: &[u8] = b"DMZKIT-TEST ";

/// One console line, built without `core::fmt` and written with a single `write`.
pub struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line { buf: [0; 512], len: 0 }
    }
}

impl Line {
    pub fn new(prefix: &[u8]) -> Self {
        let mut l = Line::default();
        l.push(prefix);
        l
    }

    /// Appends bytes, silently cut at the buffer's end (a diagnostic line, not data).
    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        let n = s.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    pub fn sp(&mut self) -> &mut Self {
        self.push(b" ")
    }

    pub fn dec(&mut self, mut v: u64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&tmp[i..])
    }

    /// A signed decimal.
    pub fn idec(&mut self, v: i64) -> &mut Self {
        if v < 0 {
            self.push(b"-");
        }
        self.dec(v.unsigned_abs())
    }

    /// A resource limit: `unlimited` for RLIM_INFINITY, else decimal.
    pub fn limit(&mut self, v: u64) -> &mut Self {
        if v == u64::MAX {
            self.push(b"unlimited")
        } else {
            self.dec(v)
        }
    }

    /// An errno as its name when known, else `errno<N>`.
    pub fn errno(&mut self, e: sys::Errno) -> &mut Self {
        match errno_name(e) {
            Some(n) => self.push(n),
            None => self.push(b"errno").dec(e as u64),
        }
    }

    /// The bytes pushed so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the line plus a newline to stdout in one `write`.
    pub fn emit(&mut self) {
        // The cut in `push` keeps one byte free, so the newline always fits.
        self.buf[self.len] = b'\n';
        let _ = sys::write(1, &self.buf[..self.len + 1]);
        self.len = 0;
    }
}

fn errno_name(e: sys::Errno) -> Option<&'static [u8]> {
    use linux_raw_sys::errno as e_;
    let names: [(u32, &[u8]); 14] = [
        (e_::EPERM, b"EPERM"),
        (e_::ENOENT, b"ENOENT"),
        (e_::EINTR, b"EINTR"),
        (e_::EIO, b"EIO"),
        (e_::EBADF, b"EBADF"),
        (e_::ECHILD, b"ECHILD"),
        (e_::EACCES, b"EACCES"),
        (e_::EEXIST, b"EEXIST"),
        (e_::ENODEV, b"ENODEV"),
        (e_::EINVAL, b"EINVAL"),
        (e_::ENOSYS, b"ENOSYS"),
        (e_::EADDRINUSE, b"EADDRINUSE"),
        (e_::ENOTTY, b"ENOTTY"),
        (e_::EOPNOTSUPP, b"EOPNOTSUPP"),
    ];
    names.iter().find(|(n, _)| *n == e as u32).map(|(_, s)| *s)
}

/// Writes `DMZKIT-OBS <tag> <key> <value>`.
pub fn obs(tag: &[u8], key: &[u8], value: &[u8]) {
    Line::new(OBS).push(tag).sp().push(key).sp().push(value).emit();
}

/// Writes `DMZKIT-TEST <name> PASS|FAIL <detail>`.
pub fn verdict(name: &[u8], pass: bool, detail: &[u8]) {
    Line::new(TEST).push(name).push(if pass { b" PASS " } else { b" FAIL " }).push(detail).emit();
}

/// Reads a whole (small) file into `buf`; returns the filled part. `path` ends with NUL.
pub fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], sys::Errno> {
    let fd = sys::open(path, linux_raw_sys::general::O_RDONLY | linux_raw_sys::general::O_CLOEXEC, 0)?;
    let mut n = 0;
    let r = loop {
        if n == buf.len() {
            break Ok(n);
        }
        match sys::read(fd, &mut buf[n..]) {
            Ok(0) => break Ok(n),
            Ok(k) => n += k,
            Err(e) if e == linux_raw_sys::errno::EINTR as sys::Errno => {}
            Err(e) => break Err(e),
        }
    };
    sys::close(fd);
    r.map(|n| &buf[..n])
}

/// Splits `s` at ASCII whitespace, skipping empty fields.
pub fn fields(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty())
}

/// Parses an unsigned decimal.
pub fn parse_dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}
