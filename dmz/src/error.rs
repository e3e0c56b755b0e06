//! Errors are data: which step failed, the errno, and one number; 8 bytes, `Copy`. Only the
//! top ([`crate::run`]) turns one into a message and an exit code; no `core::fmt` anywhere
//! (it costs ~4 KB).
//!
//! Message: `dmz: unable to <step>: <ERRNO> (<detail>)`.
//!
//! The texts are most of what the message code weighs, so they are stored Huffman-coded
//! (see [`text`]): about 4.5 bits a character instead of 8. They are written out in full
//! below and packed at compile time.

use linux_raw_sys::errno;

/// A step of loading the config or of the transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    Usage,
    OpenConfig,
    ReadConfig,
    /// The config is malformed or invalid; `Error::bad` says how.
    LoadConfig,
    SetRlimit,
    SetOomScoreAdj,
    InstallSeccomp,
    Chdir,
    DropBoundingSet,
    SetSecurebits,
    SetKeepCaps,
    ChownStdio,
    SetGroups,
    SetResGid,
    SetResUid,
    ClearKeepCaps,
    SetCaps,
    ClearAmbient,
    RaiseAmbient,
    SetNoNewPrivs,
    /// Reading back the credentials found one not as configured; `Error::bad` says which.
    Verify,
    KeepFd,
    CloseFds,
    Exec,
    /// Probing the kernel's last capability (validation, before any change).
    ReadBoundingSet,
}

/// What is wrong with a config (step [`Step::LoadConfig`]); `Error::num` adds a number where
/// the message has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Bad {
    None,
    Usage,
    TooLarge,
    TruncatedHeader,
    Magic,
    Version,
    TruncatedBody,
    TrailingBytes,
    Crc,
    Malformed,
    TrailingInBody,
    Args,
    ProgramName,
    Env,
    Cwd,
    Umask,
    RlimitResource,
    RlimitOrder,
    OomScoreAdj,
    PreserveFds,
    Securebits,
    SecurebitsKeepCaps,
    SeccompSize,
    CapBounding,
    CapEffective,
    CapPermitted,
    CapInheritable,
    CapAmbient,
    Id,
    // What step [`Step::Verify`] found not as configured (in the order of CAP_SETS for the
    // capability sets).
    VerifyUid,
    VerifyGid,
    VerifyGroups,
    VerifyBounding,
    VerifyEffective,
    VerifyPermitted,
    VerifyInheritable,
    VerifyAmbient,
    VerifyNoNewPrivs,
}

/// Where a text has [`Error::num`] (or the errno) in decimal.
const NUM: u8 = b'%';

/// Words that several texts share. Each is stored once, as text `i` (its place here), and
/// at compile time replaced by the byte `WORD + i` wherever it occurs in the texts below and
/// in the words after it (the first that matches is taken). Chosen by measuring: each saves
/// more bits in the texts than its own text costs.
const WORDS: &[&[u8]] = &[
    b"body",
    b"rlimit",
    b"truncated ",
    b"above ",
    b"args: empty",
    b" or too many",
    b"set ",
    b"oom_score_adj",
    b"trailing bytes ",
    b"securebits",
    b"capabilities.",
    b"resource %",
    b" config",
    b"keep-caps",
    b"unterminated",
    b": unknown to this kernel: capability %",
    b"capability %",
    b": unknown ",
    b"capabilit",
];
/// A byte from this on stands for a word; the texts themselves are ASCII.
const WORD: u8 = 0x80;

/// The texts, each NUL-terminated, in sections whose first entries are at [`STEP_NAMES`],
/// [`STEP_LABELS`], ... Tables of strings rather than `match`es: a match compiles to a jump
/// table plus a pointer and a length per arm, several times the size of the text itself.
/// Even the punctuation is a text: a call with an index is smaller than one with a pointer
/// and a length.
const FIXED: &[u8] = b"\
dmz: unable to \0\
errno %\0\
: \0\
\x20(\0\
)\0\
\n\0";
const PREFIX: usize = WORDS.len();
const ERRNO_NUM: usize = PREFIX + 1;
const COLON: usize = PREFIX + 2;
const OPEN: usize = PREFIX + 3;
const CLOSE: usize = PREFIX + 4;
const NEWLINE: usize = PREFIX + 5;

/// Per [`Step`], in declaration order: what "unable to ..." says.
const STEPS: &[u8] = b"\
parse arguments\0\
open config\0\
read config\0\
load config\0\
set rlimit\0\
set oom_score_adj\0\
install seccomp filter\0\
change directory\0\
drop bounding set\0\
set securebits\0\
set keep-caps\0\
change owner of stdio\0\
set groups\0\
set gid\0\
set uid\0\
clear keep-caps\0\
set capabilities\0\
clear ambient capabilities\0\
raise ambient capability\0\
set no_new_privs\0\
verify credentials\0\
keep fd\0\
close fds\0\
exec\0\
read bounding set\0";

/// Per [`Step`]: the detail when the step has a number; empty if the detail is the path or
/// program the step worked on instead.
const LABELS: &[u8] = b"\
\0\0\0\0\
resource %\0\
\0\0\0\
capability %\0\
\0\0\
fd %\0\
\0\
gid %\0\
uid %\0\
\0\0\0\
capability %\0\
\0\0\
fd %\0\
\0\0\
capability %\0";

/// Per [`Bad`], in declaration order: the detail.
const BADS: &[u8] = b"\
\0\
usage: dmz FILE | dmz --fd N\0\
over 131072 bytes\0\
truncated header\0\
not a dmz config\0\
format version %, expected 2\0\
truncated body\0\
trailing bytes after body\0\
CRC mismatch\0\
malformed body\0\
trailing bytes inside body\0\
args: empty, unterminated or too many\0\
args: empty program name\0\
env: unterminated or too many\0\
cwd: interior NUL or unterminated\0\
umask above 0777: %\0\
rlimits: unknown resource %\0\
rlimits: soft limit above hard limit for resource %\0\
oom_score_adj outside -1000..=1000\0\
preserve_fds: not ascending above 2 at fd %\0\
securebits: unknown bits %\0\
securebits: keep-caps locked off\0\
seccomp: program size\0\
capabilities.bounding: unknown to this kernel: capability %\0\
capabilities.effective: unknown to this kernel: capability %\0\
capabilities.permitted: unknown to this kernel: capability %\0\
capabilities.inheritable: unknown to this kernel: capability %\0\
capabilities.ambient: unknown to this kernel: capability %\0\
uid, gid or group above 2147483647: %\0\
uid is %\0\
gid is %\0\
groups differ\0\
capabilities.bounding: capability %\0\
capabilities.effective: capability %\0\
capabilities.permitted: capability %\0\
capabilities.inheritable: capability %\0\
capabilities.ambient: capability %\0\
no_new_privs unset\0";

// The texts above name the version this dmz reads and the largest config it takes.
const _: () = assert!(crate::config::VERSION == 2 && crate::config::MAX_CONFIG_LEN == 131072);

/// Names of errno 1..=40, which are the same on every architecture dmzkit supports
/// (asm-generic/errno-base.h and errno.h). In lower case, which packs with the other texts'
/// letters; [`text`] flips bit 5 of each byte to write them in upper case (hence E2BIG's
/// `\x12`, `2` with that bit clear). Last, so that "upper case" is "index at or past
/// [`ERRNOS`]"; no word is replaced in them.
const ERRNO_NAMES: &[u8] = b"eperm\0enoent\0esrch\0eintr\0eio\0enxio\0e\x12big\0enoexec\0ebadf\0echild\0\
eagain\0enomem\0eacces\0efault\0enotblk\0ebusy\0eexist\0exdev\0enodev\0enotdir\0eisdir\0einval\0enfile\0\
emfile\0enotty\0etxtbsy\0efbig\0enospc\0espipe\0erofs\0emlink\0epipe\0edom\0erange\0edeadlk\0enametoolong\0\
enolck\0enosys\0enotempty\0eloop\0";

/// The sections in which words are replaced.
const SECTIONS: &[&[u8]] = &[FIXED, STEPS, LABELS, BADS];
const STEP_NAMES: usize = PREFIX + entries(FIXED);
const STEP_LABELS: usize = STEP_NAMES + entries(STEPS);
const BAD_TEXTS: usize = STEP_LABELS + entries(LABELS);
const ERRNOS: usize = BAD_TEXTS + entries(BADS);
const ERRNO_COUNT: usize = entries(ERRNO_NAMES);

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
/// `num` in decimal for each [`NUM`] and each word of [`WORDS`] in full; errno names in upper
/// case.
///
/// The texts are one canonical Huffman-coded bit stream (codes MSB first, the stream LSB
/// first in each byte), decoded symbol by symbol from the start: a few thousand bits, once
/// per message. The decoder is the canonical one of zlib's puff.c: the codes of one length
/// are consecutive, in symbol order, and follow on from the shorter lengths' codes shifted
/// left (see [`codes`]).
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

// The packed form, computed at compile time from the texts above.

/// All texts in order, words replaced: only the compiler sees this.
const JOINED: ([u8; RAW_LEN], usize) = join();
const RAW_LEN: usize = raw_len();
const TEXTS: &[u8] = JOINED.0.split_at(JOINED.1).0;
const LENGTHS: [u8; 256] = code_lengths(TEXTS);
const MAX_LEN: usize = max(&LENGTHS);
/// How many symbols have each code length 1..=MAX_LEN.
static COUNTS: [u8; MAX_LEN] = counts(&LENGTHS);
/// The symbols by code length, then by value.
static SYMBOLS: [u8; symbol_count(&LENGTHS)] = symbols(&LENGTHS);
static PACKED: [u8; packed_bits(TEXTS, &LENGTHS).div_ceil(8)] = pack(TEXTS, &LENGTHS);

/// How many NUL-terminated entries `s` holds.
const fn entries(s: &[u8]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < s.len() {
        n += (s[i] == 0) as usize;
        i += 1;
    }
    n
}

/// Huffman code lengths of the bytes of `texts`: repeatedly merge the two lightest trees;
/// a byte's length is its leaf's depth. 0 for a byte that does not occur.
const fn code_lengths(texts: &[u8]) -> [u8; 256] {
    // Nodes 0..256 are the leaves, later ones the merged trees.
    let mut weight = [0usize; 512];
    let mut parent = [0usize; 512];
    let mut live = [false; 512];
    let mut i = 0;
    while i < texts.len() {
        weight[texts[i] as usize] += 1;
        live[texts[i] as usize] = true;
        i += 1;
    }
    let mut next = 256;
    loop {
        let (mut a, mut b) = (usize::MAX, usize::MAX);
        let mut i = 0;
        while i < next {
            if live[i] {
                if a == usize::MAX || weight[i] < weight[a] {
                    b = a;
                    a = i;
                } else if b == usize::MAX || weight[i] < weight[b] {
                    b = i;
                }
            }
            i += 1;
        }
        if b == usize::MAX {
            break;
        }
        weight[next] = weight[a] + weight[b];
        parent[a] = next;
        parent[b] = next;
        live[a] = false;
        live[b] = false;
        live[next] = true;
        next += 1;
    }
    let root = next - 1;
    let mut lengths = [0u8; 256];
    let mut s = 0;
    while s < 256 {
        if weight[s] > 0 {
            let mut node = s;
            while node != root {
                node = parent[node];
                lengths[s] += 1;
            }
        }
        s += 1;
    }
    lengths
}

const fn max(lengths: &[u8; 256]) -> usize {
    let (mut m, mut s) = (0, 0);
    while s < 256 {
        if lengths[s] as usize > m {
            m = lengths[s] as usize;
        }
        s += 1;
    }
    m
}

const fn counts<const N: usize>(lengths: &[u8; 256]) -> [u8; N] {
    let mut c = [0u8; N];
    let mut s = 0;
    while s < 256 {
        if lengths[s] > 0 {
            c[lengths[s] as usize - 1] += 1;
        }
        s += 1;
    }
    c
}

const fn symbol_count(lengths: &[u8; 256]) -> usize {
    let (mut n, mut s) = (0, 0);
    while s < 256 {
        n += (lengths[s] > 0) as usize;
        s += 1;
    }
    n
}

const fn symbols<const N: usize>(lengths: &[u8; 256]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut s = 0;
        while s < 256 {
            if lengths[s] as usize == len {
                out[i] = s as u8;
                i += 1;
            }
            s += 1;
        }
        len += 1;
    }
    out
}

/// The canonical code of each byte: codes of one length are consecutive, in byte order,
/// and follow on from the shorter lengths' codes shifted left.
const fn codes(lengths: &[u8; 256]) -> [usize; 256] {
    let mut codes = [0usize; 256];
    let mut next = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut s = 0;
        while s < 256 {
            if lengths[s] as usize == len {
                codes[s] = next;
                next += 1;
            }
            s += 1;
        }
        next <<= 1;
        len += 1;
    }
    codes
}

const fn packed_bits(texts: &[u8], lengths: &[u8; 256]) -> usize {
    let (mut bits, mut i) = (0, 0);
    while i < texts.len() {
        bits += lengths[texts[i] as usize] as usize;
        i += 1;
    }
    bits
}

const fn pack<const N: usize>(texts: &[u8], lengths: &[u8; 256]) -> [u8; N] {
    let codes = codes(lengths);
    let mut out = [0u8; N];
    let (mut bit, mut i) = (0, 0);
    while i < texts.len() {
        let s = texts[i] as usize;
        let mut k = lengths[s];
        while k > 0 {
            k -= 1;
            out[bit / 8] |= (((codes[s] >> k) & 1) as u8) << (bit % 8);
            bit += 1;
        }
        i += 1;
    }
    out
}

/// An upper bound of the joined texts' length: words only shorten them.
const fn raw_len() -> usize {
    let mut n = ERRNO_NAMES.len();
    let mut i = 0;
    while i < WORDS.len() {
        n += WORDS[i].len() + 1;
        i += 1;
    }
    i = 0;
    while i < SECTIONS.len() {
        n += SECTIONS[i].len();
        i += 1;
    }
    n
}

/// The words (each NUL-terminated), the sections and the errno names, in that order, words
/// replaced; and the length used.
const fn join() -> ([u8; RAW_LEN], usize) {
    let mut out = [0u8; RAW_LEN];
    let mut n = 0;
    let mut i = 0;
    while i < WORDS.len() {
        n = put(&mut out, n, WORDS[i], i + 1);
        out[n] = 0;
        n += 1;
        i += 1;
    }
    i = 0;
    while i < SECTIONS.len() {
        n = put(&mut out, n, SECTIONS[i], 0);
        i += 1;
    }
    n = put(&mut out, n, ERRNO_NAMES, WORDS.len());
    (out, n)
}

/// Copies `text` to `out[n..]`, replacing the words from `WORDS[first]` on; returns the end.
const fn put(out: &mut [u8; RAW_LEN], mut n: usize, text: &[u8], first: usize) -> usize {
    let mut i = 0;
    while i < text.len() {
        let mut w = first;
        while w < WORDS.len() && !at(text, i, WORDS[w]) {
            w += 1;
        }
        if w < WORDS.len() {
            out[n] = WORD + w as u8;
            i += WORDS[w].len();
        } else {
            assert!(text[i] < WORD && WORDS.len() <= 0x80, "a byte that stands for a word");
            out[n] = text[i];
            i += 1;
        }
        n += 1;
    }
    n
}

/// Whether `word` occurs in `text` at `i`.
const fn at(text: &[u8], i: usize, word: &[u8]) -> bool {
    if i + word.len() > text.len() {
        return false;
    }
    let mut k = 0;
    while k < word.len() {
        if text[i + k] != word[k] {
            return false;
        }
        k += 1;
    }
    true
}
