//! The compiled config: one schema, encoded by launcher, decoded zero-copy by dmz.
//!
//! Layout of a blob (all integers little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `DMZK` |
//! | 4 | 4 | format version ([`VERSION`]) |
//! | 8 | 4 | body length in bytes |
//! | 12 | 4 | CRC-32 (IEEE) of the body |
//! | 16 | n | postcard body: [`Config`] |
//!
//! A blob must be exactly `16 + body length` bytes. Strings that reach execve, chdir or open
//! are stored with their terminating NUL so dmz can point into the buffer.

use crate::error::{Bad, Error};
use heapless::Vec;

pub const MAGIC: [u8; 4] = *b"DMZK";
pub const VERSION: u32 = 2;
pub const HEADER_LEN: usize = 16;

/// Largest blob dmz reads (header included): 32 KiB for a maximal BPF program
/// (4096 instructions × 8 bytes) plus 96 KiB for args, env and paths. dmz maps memory for
/// the size the header names (src/main.rs), so the bound caps that mapping.
pub const MAX_CONFIG_LEN: usize = 128 * 1024;
/// Maximum number of arguments (argv[0] included): the size of dmz's argv pointer array.
pub const MAX_ARGS: usize = 1024;
/// Maximum number of environment entries: the size of dmz's envp pointer array.
pub const MAX_ENV: usize = 1024;
/// Maximum number of additional groups (NGROUPS_MAX is 65536; services need a handful).
pub const MAX_GROUPS: usize = 64;
/// Maximum number of rlimits: one per resource (RLIM_NLIMITS is 16).
pub const MAX_RLIMITS: usize = 16;
/// Number of rlimit resources the kernel knows.
pub const RLIM_NLIMITS: u32 = linux_raw_sys::general::RLIM_NLIMITS;
/// Maximum number of explicitly preserved fds.
pub const MAX_PRESERVE_FDS: usize = 64;
/// BPF_MAXINSNS: the kernel's limit for one classic BPF program.
pub const MAX_BPF_INSNS: usize = 4096;

// The ranges of the config's values, checked by dmz's `validate` and by launcher on every
// source (config.json, flags, compiled files) with these same bounds.
/// The values `/proc/self/oom_score_adj` takes (OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX,
/// include/uapi/linux/oom.h).
pub const OOM_SCORE_ADJ: core::ops::RangeInclusive<i32> = -1000..=1000;
/// The largest umask: permission bits only (umask(2) keeps `mask & 0777`).
pub const MAX_UMASK: u32 = 0o777;
/// The largest uid, gid or group (2^31-1, the largest runc accepts): 4294967295 is -1 to
/// setresuid(2) and friends, "leave unchanged", which would keep the caller's ids.
pub const MAX_ID: u32 = i32::MAX as u32;
/// The largest fd number (fds are non-negative `int`s).
pub const MAX_FD: u32 = i32::MAX as u32;

/// Bytes borrowed from the config buffer; encoded as a byte string (varint length, bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bytes<'a>(pub &'a [u8]);

/// The five capability sets as bit masks (bit n = capability n). `repr(C)`: laid out as
/// `[u64; 5]`, the view validation and the decoder loop over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Caps {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl Caps {
    /// The five sets in field order, as one array.
    pub(crate) fn sets(&self) -> &[u64; 5] {
        bytemuck::cast_ref(self)
    }

    fn sets_mut(&mut self) -> &mut [u64; 5] {
        bytemuck::cast_mut(self)
    }
}

/// One resource limit (`prlimit64`); `u64::MAX` is RLIM_INFINITY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// A classic BPF program (array of `struct sock_filter`, native byte order) and the
/// `SECCOMP_FILTER_FLAG_*` flags to install it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seccomp<'a> {
    pub flags: u32,
    pub program: Bytes<'a>,
}

/// Everything dmz applies before it execs the target.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Config<'a> {
    /// argv as the kernel stores it: each argument followed by a NUL ("ls\0-l\0").
    /// `args[0]` is the program, looked up in the target's PATH when it has no '/'.
    pub args: Bytes<'a>,
    /// The target's whole environment, "KEY=VALUE" strings each followed by a NUL.
    pub env: Bytes<'a>,
    /// Working directory with its NUL; empty keeps dmz's.
    pub cwd: Bytes<'a>,
    /// The uid to switch to (real, effective and saved), or `None` to leave it unchanged
    /// (setpriv without --reuid). At most 2147483647: the kernel reads 4294967295 as "leave
    /// unchanged", and runc refuses every id above 2^31-1.
    pub uid: Option<u32>,
    /// The gid, likewise.
    pub gid: Option<u32>,
    /// Supplementary groups; `Some` even when empty drops the caller's groups (as runc
    /// does), `None` leaves them.
    pub groups: Option<Vec<u32, MAX_GROUPS>>,
    /// Give fds 0–2 to `uid` before the uid change, as runc does (its fixStdioPermissions),
    /// so a non-root target can reopen its stdout (`/dev/stdout`) when that is a root-owned
    /// pipe or terminal.
    pub chown_stdio: bool,
    pub umask: u32,
    /// `None` leaves every capability set as the uid change leaves it (runc without a
    /// `capabilities` object).
    pub caps: Option<Caps>,
    /// SECBIT_* bits for PR_SET_SECUREBITS, or `None` to leave them.
    pub securebits: Option<u32>,
    pub no_new_privs: bool,
    pub rlimits: Vec<Rlimit, MAX_RLIMITS>,
    pub oom_score_adj: Option<i32>,
    /// Fds ≥ 3 that stay open in the target (ascending); all others are closed at exec.
    pub preserve_fds: Vec<u32, MAX_PRESERVE_FDS>,
    pub seccomp: Option<Seccomp<'a>>,
}

/// Splits a NUL-terminated string list ([`Config::args`], [`Config::env`]) into its strings,
/// without their NULs. A trailing part without NUL is dropped (validation refuses it).
pub fn strings(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    core::iter::from_fn(move || {
        let n = rest.iter().position(|&b| b == 0)?;
        let s = &rest[..n];
        rest = &rest[n + 1..];
        Some(s)
    })
}

/// Joins strings into a NUL-terminated list (the encoding of [`Config::args`] and
/// [`Config::env`]). A string containing NUL cannot be represented: returns its index.
pub fn push_strings<'s, B: Extend<u8>>(
    out: &mut B,
    items: impl IntoIterator<Item = &'s [u8]>,
) -> Result<usize, usize> {
    let mut n = 0;
    for (i, s) in items.into_iter().enumerate() {
        if s.contains(&0) {
            return Err(i);
        }
        out.extend(s.iter().copied().chain([0]));
        n += 1;
    }
    Ok(n)
}

/// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), bitwise: no table, smallest code.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The little-endian u32 at `at` in a header (the version at 4, the body length at 8, the
/// CRC at 12).
#[inline(always)]
pub fn le32(head: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]])
}

/// The decoder of both compiled formats, dmz's and init's, which differ only in their
/// `magic`, `version`, largest size `max_len` (layout above) and body: checks the header,
/// then `read` reads the body, which must end exactly at its end. What is wrong, with the
/// number its message shows, or [`Bad::None`]. Inlined, so each format's decoder compiles it
/// with its constants folded in.
#[inline(always)]
pub fn decode<'a>(
    blob: &'a [u8],
    magic: [u8; 4],
    version: u32,
    max_len: usize,
    read: impl FnOnce(&mut Reader<'a>),
) -> (Bad, u32) {
    if blob.len() > max_len {
        return (Bad::TooLarge, 0);
    }
    let Some((head, body)) = blob.split_first_chunk::<HEADER_LEN>() else {
        return (Bad::TruncatedHeader, 0);
    };
    if head[..4] != magic {
        return (Bad::Magic, 0);
    }
    let v = le32(head, 4);
    if v != version {
        return (Bad::Version, v);
    }
    let len = le32(head, 8) as usize;
    if body.len() < len {
        return (Bad::TruncatedBody, 0);
    }
    if body.len() > len {
        return (Bad::TrailingBytes, 0);
    }
    if crc32(body) != le32(head, 12) {
        return (Bad::Crc, 0);
    }
    let mut r = Reader::new(body);
    read(&mut r);
    if r.bad {
        return (Bad::Malformed, 0);
    }
    if !r.rest.is_empty() {
        return (Bad::TrailingInBody, 0);
    }
    (Bad::None, 0)
}

impl<'a> Config<'a> {
    /// Checks the header and decodes the body. Only structure is checked here; see
    /// [`crate::validate`] for the meaning of the values.
    pub fn decode(blob: &'a [u8]) -> Result<Self, Error> {
        let mut cfg = Config::default();
        cfg.decode_into(blob)?;
        Ok(cfg)
    }

    /// [`Config::decode`] into `self`, which must be `Config::default()` (dmz decodes in
    /// place: no 1 KiB copy of the result).
    #[inline(never)]
    pub fn decode_into(&mut self, blob: &'a [u8]) -> Result<(), Error> {
        match self.decode_checked(blob) {
            (Bad::None, _) => Ok(()),
            (bad, num) => Err(Error::invalid(bad, num)),
        }
    }

    /// [`Config::decode_into`]'s checks in order: what is wrong (with its number) or
    /// [`Bad::None`]. One `Error` built at the end instead of one per check.
    fn decode_checked(&mut self, blob: &'a [u8]) -> (Bad, u32) {
        decode(blob, MAGIC, VERSION, MAX_CONFIG_LEN, |r| r.config(self))
    }

    /// Encodes header + body into `out`; returns the blob's length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let limit = out.len().min(MAX_CONFIG_LEN);
        let out = &mut out[..limit];
        if out.len() < HEADER_LEN {
            return Err(EncodeError::TooLarge);
        }
        let (head, body) = out.split_at_mut(HEADER_LEN);
        let mut w = Writer::new(body);
        w.config(self).ok_or(EncodeError::TooLarge)?;
        let n = w.len;
        write_header(head, MAGIC, VERSION, &body[..n]);
        Ok(HEADER_LEN + n)
    }
}

/// Fills the 16-byte header (layout above) for `body`. Shared with init's config, which uses
/// the same header with its own magic and version.
pub fn write_header(head: &mut [u8], magic: [u8; 4], version: u32, body: &[u8]) {
    head[..4].copy_from_slice(&magic);
    head[4..8].copy_from_slice(&version.to_le_bytes());
    head[8..12].copy_from_slice(&(body.len() as u32).to_le_bytes());
    head[12..16].copy_from_slice(&crc32(body).to_le_bytes());
}

// The body is in the postcard 1.x wire format, written out for [`Config`]'s fields in order:
// unsigned integers are LEB128 varints, `i32` is zigzag + varint, `bool` one byte 0/1,
// `Option` one byte 0/1 then the value, byte strings and sequences a varint length then the
// items, structs their fields in order.
//
// Why by hand and not serde + postcard: serde's derived decoder costs ~3 KB of dmz's size
// budget, and in a workspace build serde is compiled with `std` (serde_json needs it), which a
// no_std binary cannot link. The launcher writes configs with serde + postcard
// (launcher/src/wire.rs); launcher/tests/wire.rs proves this reader, and the [`Writer`] below,
// against it.

/// Decoder for a body in the postcard wire format, of both compiled formats. A malformed
/// body does not stop it: the error sticks, the reads that follow return zeros and empty
/// strings, and [`Reader::end`] says once at the end whether the body was well-formed. (One
/// branch per body instead of one per field; the result is the same.)
pub struct Reader<'a> {
    rest: &'a [u8],
    bad: bool,
}

impl<'a> Reader<'a> {
    /// Reads `body` from its start.
    pub fn new(body: &'a [u8]) -> Self {
        Reader { rest: body, bad: false }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether a read so far found the body malformed.
    pub fn is_bad(&self) -> bool {
        self.bad
    }

    /// Marks the body malformed (a value the format does not allow, such as an unknown enum
    /// tag).
    pub fn malformed(&mut self) {
        self.bad = true;
    }

    /// One raw byte.
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => {
                self.bad = true;
                0
            }
        }
    }

    /// An unsigned LEB128 varint of at most `max_bytes` bytes, in its one canonical form.
    pub fn varint(&mut self, max_bytes: u32) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            let bits = (b & 0x7f) as u64;
            v |= bits << shift;
            if b & 0x80 == 0 {
                // One canonical form, the shortest (what postcard writes): no final zero
                // byte after the first, no bits past the 64th (they would be dropped).
                if shift != 0 && (b == 0 || v >> shift != bits) {
                    self.bad = true;
                }
                return v;
            }
            shift += 7;
            if shift == 7 * max_bytes {
                self.bad = true;
                return 0;
            }
        }
    }

    /// A `u8` (an enum tag): a varint of at most 2 bytes, at most 255.
    pub fn u8(&mut self) -> u8 {
        let v = self.varint(2);
        if v > u8::MAX as u64 {
            self.bad = true;
        }
        v as u8
    }

    pub fn u32(&mut self) -> u32 {
        let v = self.varint(5);
        if v > u32::MAX as u64 {
            self.bad = true;
        }
        v as u32
    }

    pub fn u64(&mut self) -> u64 {
        self.varint(10)
    }

    fn i32(&mut self) -> i32 {
        let z = self.u32();
        ((z >> 1) as i32) ^ -((z & 1) as i32)
    }

    /// A `bool` (or an `Option` tag): one byte, 0 or 1.
    pub fn bool(&mut self) -> bool {
        let b = self.byte();
        if b > 1 {
            self.bad = true;
        }
        b != 0
    }

    /// A byte string: varint length, then the bytes (borrowed from the body).
    pub fn bytes(&mut self) -> Bytes<'a> {
        let n = self.u32() as usize;
        if n > self.rest.len() {
            self.bad = true;
            return Bytes(&[]);
        }
        let (b, rest) = self.rest.split_at(n);
        self.rest = rest;
        Bytes(b)
    }

    /// A sequence into `v`; more items than `v` holds is malformed.
    fn vec<T, const N: usize>(&mut self, v: &mut Vec<T, N>, mut f: impl FnMut(&mut Self) -> T) {
        let n = self.u32();
        for _ in 0..n {
            // Over the maximum: malformed. This also ends a huge count over a short body.
            if v.push(f(self)).is_err() {
                self.bad = true;
                break;
            }
        }
    }

    /// The body's fields, in [`Config`]'s order, decoded into `c` (which starts empty).
    #[inline(never)]
    fn config(&mut self, c: &mut Config<'a>) {
        c.args = self.bytes();
        c.env = self.bytes();
        c.cwd = self.bytes();
        if self.bool() {
            c.uid = Some(self.u32());
        }
        if self.bool() {
            c.gid = Some(self.u32());
        }
        if self.bool() {
            self.vec(c.groups.insert(Vec::new()), Self::u32);
        }
        c.chown_stdio = self.bool();
        c.umask = self.u32();
        // Each Option: its tag, then the value, written in place (`c` starts with `None`).
        if self.bool() {
            for set in c.caps.insert(Caps::default()).sets_mut() {
                *set = self.u64();
            }
        }
        if self.bool() {
            c.securebits = Some(self.u32());
        }
        c.no_new_privs = self.bool();
        self.vec(&mut c.rlimits, |r| Rlimit { resource: r.u32(), soft: r.u64(), hard: r.u64() });
        if self.bool() {
            c.oom_score_adj = Some(self.i32());
        }
        self.vec(&mut c.preserve_fds, Self::u32);
        if self.bool() {
            c.seccomp = Some(Seccomp { flags: self.u32(), program: self.bytes() });
        }
    }
}

/// Encoder for the body: the mirror image of [`Reader`], for the tests of dmz and init (which
/// cannot use the launcher's postcard writer) and init's `Config::encode`. Neither binary
/// calls it. Byte for byte postcard's encoding (launcher/tests/wire.rs).
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    /// Writes into `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Writer<'_> {
    /// One raw byte (a `bool` or an `Option` tag). `None` when the buffer is full.
    pub fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    /// An unsigned integer as a LEB128 varint.
    pub fn varint(&mut self, mut v: u64) -> Option<()> {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80)?;
            v >>= 7;
        }
        self.byte(v as u8)
    }

    fn i32(&mut self, v: i32) -> Option<()> {
        self.varint(((v << 1) ^ (v >> 31)) as u32 as u64)
    }

    fn bool(&mut self, b: bool) -> Option<()> {
        self.byte(b as u8)
    }

    /// A byte string: varint length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.varint(b.len() as u64)?;
        let end = self.len.checked_add(b.len())?;
        self.buf.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }

    fn option<T: Copy>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T) -> Option<()>) -> Option<()> {
        match v {
            None => self.bool(false),
            Some(x) => {
                self.bool(true)?;
                f(self, x)
            }
        }
    }

    fn u32s(&mut self, v: &[u32]) -> Option<()> {
        self.varint(v.len() as u64)?;
        v.iter().try_for_each(|&x| self.varint(x as u64))
    }

    fn config(&mut self, c: &Config) -> Option<()> {
        self.bytes(c.args.0)?;
        self.bytes(c.env.0)?;
        self.bytes(c.cwd.0)?;
        self.option(c.uid, |w, v| w.varint(v as u64))?;
        self.option(c.gid, |w, v| w.varint(v as u64))?;
        self.option(c.groups.as_deref(), |w, g| w.u32s(g))?;
        self.bool(c.chown_stdio)?;
        self.varint(c.umask as u64)?;
        self.option(c.caps, |w, k| {
            [k.bounding, k.effective, k.permitted, k.inheritable, k.ambient]
                .iter()
                .try_for_each(|&m| w.varint(m))
        })?;
        self.option(c.securebits, |w, b| w.varint(b as u64))?;
        self.bool(c.no_new_privs)?;
        self.varint(c.rlimits.len() as u64)?;
        for r in &c.rlimits {
            self.varint(r.resource as u64)?;
            self.varint(r.soft)?;
            self.varint(r.hard)?;
        }
        self.option(c.oom_score_adj, |w, v| w.i32(v))?;
        self.u32s(&c.preserve_fds)?;
        self.option(c.seccomp, |w, s| {
            w.varint(s.flags as u64)?;
            w.bytes(s.program.0)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded config would exceed [`MAX_CONFIG_LEN`].
    TooLarge,
}
