//! Errors are data: which step failed, the errno, and one number; 8 bytes, `Copy`. Only the
//! top ([`crate::run`]) turns one into a message and an exit code; no `core::fmt` anywhere
//! (it costs ~4 KB).
//!
//! Message: `dmz: unable to <step>: <ERRNO> (<detail>)`.
//!
//! The texts are most of what the message code weighs, so they are stored Huffman-coded
//! (see [`text`]): under 4 bits a character instead of 8. They are written out in full
//! in src/texts.rs, each beside its variant of [`Step`] or [`Bad`], and packed by build.rs.

use linux_raw_sys::errno;

/// src/texts.rs read as the enums `Step` and `Bad`, each variant beside its texts (which
/// build.rs packs); the other parts of that file are for build.rs only.
macro_rules! texts {
    (
        $(#[$_fm:meta])* fixed { $($_fixed:tt)* }
        $(#[$sm:meta])* pub enum Step {
            $( $(#[$svm:meta])* $step:ident = $_name:literal $(($_label:literal))?, )*
        }
        $(#[$bm:meta])* pub enum Bad { $( $(#[$bvm:meta])* $bad:ident = $_text:literal, )* }
        $(#[$_em:meta])* errnos { $($_errno:ident)* }
    ) => {
        $(#[$sm])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Step { $( $(#[$svm])* $step, )* }

        $(#[$bm])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Bad { $( $(#[$bvm])* $bad, )* }
    };
}
include!("texts.rs");

/// Where a text has [`Error::num`] (or the errno) in decimal.
const NUM: u8 = b'%';

// The texts packed (build.rs): the index of each section's first text in the one list of
// texts (`PREFIX` ... `NEWLINE`, `STEP_NAMES`, `STEP_LABELS`, `BAD_TEXTS`, `ERRNOS`), `WORD`,
// and the Huffman tables `COUNTS`, `SYMBOLS` and `PACKED` that [`text`] decodes.
include!(concat!(env!("OUT_DIR"), "/texts.rs"));

// The texts name the version this dmz reads and the largest config it takes.
const _: () = assert!(crate::config::VERSION == 2 && crate::config::MAX_CONFIG_LEN == 131072);

/// A failed step. 8 bytes: cheap to build at every call site and to pass up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub step: Step,
    pub bad: Bad,
    pub errno: u16,
    /// The step's number (capability, resource, uid, ...), when its message has one.
    pub num: u32,
}

// The errnos dmz names in its own errors and decisions, as `u16` (every errno fits).
pub const EPERM: u16 = errno::EPERM as u16;
pub const ENOENT: u16 = errno::ENOENT as u16;
pub const E2BIG: u16 = errno::E2BIG as u16;
pub const EBADF: u16 = errno::EBADF as u16;
pub const EACCES: u16 = errno::EACCES as u16;
pub const ENOTDIR: u16 = errno::ENOTDIR as u16;
pub const EINVAL: u16 = errno::EINVAL as u16;
pub const EFBIG: u16 = errno::EFBIG as u16;
pub const EROFS: u16 = errno::EROFS as u16;
pub const ENAMETOOLONG: u16 = errno::ENAMETOOLONG as u16;

/// The exit status when dmz (or init's child) fails before exec (docs/design.md §4).
pub use linker::FAILED;

impl Error {
    /// Out of line: built at a dozen call sites, where inlined it costs ~20 bytes each.
    #[inline(never)]
    pub const fn new(step: Step, errno: u16, num: u32) -> Self {
        Error { step, bad: Bad::None, errno, num }
    }

    /// A config that fails decoding or validation: EINVAL, or EFBIG when too large.
    #[inline(never)]
    pub const fn invalid(bad: Bad, num: u32) -> Self {
        let errno = if matches!(bad, Bad::TooLarge) { EFBIG } else { EINVAL };
        let step = if matches!(bad, Bad::Usage) { Step::Usage } else { Step::LoadConfig };
        Error { step, bad, errno, num }
    }

    /// A credential that reads back otherwise than configured ([`Step::Verify`]): EPERM, as
    /// the kernel would have answered the step that did not happen.
    #[inline(never)]
    pub const fn mismatch(bad: Bad, num: u32) -> Self {
        Error { step: Step::Verify, bad, errno: EPERM, num }
    }

    /// The exit status of docs/design.md §4: 127 not found, 126 not executable, 125 otherwise.
    pub fn exit_code(&self) -> i32 {
        match (self.step, self.errno) {
            (Step::Exec, ENOENT) | (Step::Exec, ENOTDIR) => 127,
            (Step::Exec, _) => 126,
            _ => FAILED,
        }
    }

    /// Writes `dmz: unable to <step>: <ERRNO> (<detail>)\n`. The detail is the config
    /// problem, else the step's number, else `name`, the path or program the step worked on
    /// (chdir, exec, open); without any, there is no `(...)`.
    pub fn write_message(&self, out: &mut Line, name: &[u8]) {
        text(out, PREFIX, 0);
        text(out, STEP_NAMES + self.step as usize, 0);
        text(out, COLON, 0);
        push_errno(out, self.errno);
        let start = out.len;
        text(out, OPEN, 0);
        let detail = match self.bad {
            Bad::None => STEP_LABELS + self.step as usize,
            bad => BAD_TEXTS + bad as usize,
        };
        text(out, detail, self.num);
        if out.len == start + 2 {
            out.push_name(name);
        }
        if out.len == start + 2 {
            out.len = start;
        } else {
            text(out, CLOSE, 0);
        }
        text(out, NEWLINE, 0);
    }
}

/// The symbolic name of `errno`, or `errno <n>` outside the table.
pub fn push_errno(out: &mut Line, errno: u16) {
    let n = (errno as usize).wrapping_sub(1);
    text(out, if n < ERRNO_COUNT { ERRNOS + n } else { ERRNO_NUM }, errno as u32);
}

/// A fixed buffer for one message line; what does not fit is cut.
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
    /// Appends `s` up to its first NUL, if any: the config's strings (a path, a program)
    /// come NUL-terminated.
    pub fn push(&mut self, s: &[u8]) {
        for &b in s {
            if b == 0 {
                return;
            }
            self.byte(b);
        }
    }

    /// Appends a config string (a path, a program) up to its NUL as text of one line: a
    /// control character below space (a newline in a file name) shows as '?', and it stops two bytes
    /// short of the end, so the message's ")\n" always fits.
    pub fn push_name(&mut self, s: &[u8]) {
        for &b in s {
            if b == 0 || self.len >= self.buf.len() - 2 {
                return;
            }
            self.byte(if b < 0x20 { b'?' } else { b });
        }
    }

    /// Out of line: push, num and the text decoder each call it.
    #[inline(never)]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// `n` in decimal. u32, not u64: 64-bit division is a library call on 32-bit targets.
    /// Recursive, the leading digits first: at most 10 deep, and smaller than a digit buffer.
    pub fn num(&mut self, n: u32) {
        // n / 10 as a multiplication, exact for every u32: at opt-level z a division by a
        // constant stays a division, a 512-byte library call where the CPU has no divide
        // instruction (armv7).
        let q = ((n as u64 * 0xCCCC_CCCD) >> 35) as u32;
        if q > 0 {
            self.num(q);
        }
        self.byte(b'0' + (n - q * 10) as u8);
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default() // len ≤ 512 (push): no panic site
    }
}

/// Appends text `n` (of the words, the sections and the errno names read as one list), with
/// `num` in decimal for each [`NUM`] and each word (a byte from `WORD` on: a string several
/// texts share, which build.rs stored once) in full; errno names in upper case.
///
/// The texts are one canonical Huffman-coded bit stream (codes MSB first, the stream LSB
/// first in each byte), decoded symbol by symbol from the start: a few thousand bits, once
/// per message. The decoder is the canonical one of zlib's puff.c: the codes of one length
/// are consecutive, in symbol order, and follow on from the shorter lengths' codes shifted
/// left (build.rs's `pack`).
fn text(out: &mut Line, n: usize, num: u32) {
    let case = if n >= ERRNOS { 0x20 } else { 0 };
    let mut skip = n;
    let mut bit = 0u32;
    loop {
        // `code` is the bits read so far minus the first code of their length.
        let (mut code, mut index) = (0, 0);
        let mut sym = None;
        for &count in &COUNTS {
            let Some(byte) = PACKED.get(bit as usize / 8) else { return };
            code = code << 1 | (byte >> (bit % 8)) as u32 & 1;
            bit += 1;
            let count = count as u32;
            if code < count {
                sym = SYMBOLS.get((index + code) as usize);
                break;
            }
            index += count;
            code -= count;
        }
        match sym {
            None => return,
            Some(0) if skip == 0 => return,
            Some(0) => skip -= 1,
            Some(_) if skip > 0 => {}
            Some(&NUM) => out.num(num),
            Some(&b) if b >= WORD => text(out, (b - WORD) as usize, num),
            Some(&b) => out.byte(b ^ case),
        }
    }
}
