//! Errors are data: which step failed, the errno, and one number; 8 bytes, `Copy`. Only the
//! top ([`crate::run`]) turns one into a message and an exit code; no `core::fmt` anywhere
//! (it costs ~4 KB).
//!
//! Message: `dmz: unable to <step>: <ERRNO> (<detail>)`.

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
    SetGroups,
    SetResGid,
    SetResUid,
    ClearKeepCaps,
    SetCaps,
    ClearAmbient,
    RaiseAmbient,
    SetNoNewPrivs,
    KeepFd,
    CloseFds,
    Exec,
}

impl Step {
    /// What "unable to ..." says.
    pub fn name(self) -> &'static [u8] {
        entry(STEPS, 2 * self as usize)
    }

    /// The label of the step's number in the detail; empty if the detail is the path or
    /// program the step worked on instead.
    fn label(self) -> &'static [u8] {
        entry(STEPS, 2 * self as usize + 1)
    }
}

/// Per [`Step`], in declaration order: its name, then the label of its number (or nothing).
/// A table of NUL-terminated strings rather than a `match`: a match compiles to a jump table
/// plus a pointer and a length per arm, several times the size of the text itself.
const STEPS: &[u8] = b"\
parse arguments\0\0\
open config\0\0\
read config\0\0\
load config\0\0\
set rlimit\0resource \0\
set oom_score_adj\0\0\
install seccomp filter\0\0\
change directory\0\0\
drop bounding set\0capability \0\
set securebits\0\0\
set keep-caps\0\0\
set groups\0\0\
set gid\0gid \0\
set uid\0uid \0\
clear keep-caps\0\0\
set capabilities\0\0\
clear ambient capabilities\0\0\
raise ambient capability\0capability \0\
set no_new_privs\0\0\
keep fd\0fd \0\
close fds\0\0\
exec\0\0";

/// Entry `n` of `table`, a list of NUL-terminated strings; empty past the end.
fn entry(table: &'static [u8], n: usize) -> &'static [u8] {
    let mut rest = table;
    for _ in 0..n {
        let Some(len) = rest.iter().position(|&b| b == 0) else { return b"" };
        rest = rest.get(len + 1..).unwrap_or_default();
    }
    let len = rest.iter().position(|&b| b == 0).unwrap_or(0);
    rest.get(..len).unwrap_or_default()
}

/// What is wrong with a config (step [`Step::LoadConfig`]); `Error::num` adds a number where
/// the message ends in one.
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
}

impl Bad {
    /// The detail text. One that ends in a space is followed by [`Error::num`]; the
    /// capability sets' texts are only the set's name (see [`Error::write_message`]).
    pub fn text(self) -> &'static [u8] {
        entry(BAD_TEXTS, self as usize)
    }
}

/// Per [`Bad`], in declaration order (a table, like [`STEPS`]).
const BAD_TEXTS: &[u8] = b"\
\0\
usage: dmz FILE | dmz --fd N\0\
larger than 131072 bytes\0\
truncated header\0\
bad magic: not a dmz config\0\
format version \0\
truncated body\0\
trailing bytes after body\0\
CRC mismatch\0\
malformed body\0\
trailing bytes inside body\0\
args: empty, unterminated or too many\0\
args: empty program name\0\
env: unterminated or too many\0\
cwd: interior NUL or unterminated\0\
umask above 0777: \0\
rlimits: unknown resource \0\
rlimits: soft limit above hard limit for resource \0\
oom_score_adj outside -1000..=1000\0\
preserve_fds: not ascending above 2 at fd \0\
securebits: unknown bits \0\
securebits: keep-caps locked off\0\
seccomp: program size\0\
bounding\0\
effective\0\
permitted\0\
inheritable\0\
ambient\0";

/// A failed step. 8 bytes: cheap to build at every call site and to pass up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub step: Step,
    pub bad: Bad,
    pub errno: u16,
    /// The step's number (capability, resource, uid, ...), when its message has one.
    pub num: u32,
}

pub const EPERM: u16 = 1;
pub const ENOENT: u16 = 2;
pub const E2BIG: u16 = 7;
pub const EBADF: u16 = 9;
pub const EACCES: u16 = 13;
pub const ENOTDIR: u16 = 20;
pub const EINVAL: u16 = 22;
pub const EFBIG: u16 = 27;
pub const ENAMETOOLONG: u16 = 36;

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

    /// The exit status of DESIGN §4: 127 not found, 126 not executable, 125 otherwise.
    pub fn exit_code(&self) -> i32 {
        match (self.step, self.errno) {
            (Step::Exec, ENOENT) | (Step::Exec, ENOTDIR) => 127,
            (Step::Exec, _) => 126,
            _ => 125,
        }
    }

    /// Writes `dmz: unable to <step>: <ERRNO> (<detail>)\n`. `name` is the path or program
    /// the step worked on (chdir, exec, open), if any.
    pub fn write_message(&self, out: &mut Line, name: &[u8]) {
        out.push(b"dmz: unable to ");
        out.push(self.step.name());
        out.push(b": ");
        push_errno(out, self.errno);
        let has_detail =
            self.step == Step::LoadConfig || self.step == Step::Usage || !self.step.label().is_empty();
        if !has_detail && name.is_empty() {
            out.push(b"\n");
            return;
        }
        out.push(b" (");
        let label = self.step.label();
        if self.step == Step::LoadConfig || self.step == Step::Usage {
            let cap_set = self.bad as u8 >= Bad::CapBounding as u8;
            if cap_set {
                out.push(b"capabilities.");
            }
            out.push(self.bad.text());
            if cap_set {
                out.push(b": unknown to this kernel: capability ");
            }
            if cap_set || self.bad.text().ends_with(b" ") {
                out.num(self.num);
            }
            if self.bad == Bad::Version {
                out.push(b", expected ");
                out.num(crate::config::VERSION as u32);
            }
        } else if label.is_empty() {
            out.push(name);
        } else {
            out.push(label);
            out.num(self.num);
        }
        out.push(b")\n");
    }
}

/// Names of errno 1..=40, which are the same on every architecture dmzkit supports
/// (asm-generic/errno-base.h and errno.h). A table, like [`STEPS`].
const ERRNO_NAMES: &[u8] = b"EPERM\0ENOENT\0ESRCH\0EINTR\0EIO\0ENXIO\0E2BIG\0ENOEXEC\0EBADF\0ECHILD\0\
EAGAIN\0ENOMEM\0EACCES\0EFAULT\0ENOTBLK\0EBUSY\0EEXIST\0EXDEV\0ENODEV\0ENOTDIR\0EISDIR\0EINVAL\0ENFILE\0\
EMFILE\0ENOTTY\0ETXTBSY\0EFBIG\0ENOSPC\0ESPIPE\0EROFS\0EMLINK\0EPIPE\0EDOM\0ERANGE\0EDEADLK\0ENAMETOOLONG\0\
ENOLCK\0ENOSYS\0ENOTEMPTY\0ELOOP\0";

/// The symbolic name of `errno`, or `errno <n>` outside the table.
pub fn push_errno(out: &mut Line, errno: u16) {
    let name = entry(ERRNO_NAMES, (errno as usize).wrapping_sub(1));
    if name.is_empty() {
        out.push(b"errno ");
        out.num(errno as u32);
    } else {
        out.push(name);
    }
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
    pub fn push(&mut self, s: &[u8]) {
        for &b in s {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    /// `n` in decimal. u32, not u64: 64-bit division is a library call on 32-bit targets.
    pub fn num(&mut self, mut n: u32) {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            // n / 10 as a multiplication, exact for every u32: at opt-level z a division by a
            // constant stays a division, a 512-byte library call where the CPU has no divide
            // instruction (armv7).
            let q = ((n as u64 * 0xCCCC_CCCD) >> 35) as u32;
            *slot = b'0' + (n - q * 10) as u8;
            start -= 1;
            n = q;
            if n == 0 {
                break;
            }
        }
        self.push(digits.get(start..).unwrap_or_default());
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default() // len ≤ 512 (push): no panic site
    }
}
