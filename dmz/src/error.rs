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
    pub fn name(self) -> &'static str {
        match self {
            Step::Usage => "parse arguments",
            Step::OpenConfig => "open config",
            Step::ReadConfig => "read config",
            Step::LoadConfig => "load config",
            Step::SetRlimit => "set rlimit",
            Step::SetOomScoreAdj => "set oom_score_adj",
            Step::InstallSeccomp => "install seccomp filter",
            Step::Chdir => "change directory",
            Step::DropBoundingSet => "drop bounding set",
            Step::SetSecurebits => "set securebits",
            Step::SetKeepCaps => "set keep-caps",
            Step::SetGroups => "set groups",
            Step::SetResGid => "set gid",
            Step::SetResUid => "set uid",
            Step::ClearKeepCaps => "clear keep-caps",
            Step::SetCaps => "set capabilities",
            Step::ClearAmbient => "clear ambient capabilities",
            Step::RaiseAmbient => "raise ambient capability",
            Step::SetNoNewPrivs => "set no_new_privs",
            Step::KeepFd => "keep fd",
            Step::CloseFds => "close fds",
            Step::Exec => "exec",
        }
    }

    /// The label of the step's number in the detail, if it has one.
    fn label(self) -> Option<&'static str> {
        match self {
            Step::SetRlimit => Some("resource "),
            Step::DropBoundingSet | Step::RaiseAmbient => Some("capability "),
            Step::SetResGid => Some("gid "),
            Step::SetResUid => Some("uid "),
            Step::KeepFd => Some("fd "),
            _ => None,
        }
    }
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
    fn text(self) -> &'static str {
        match self {
            Bad::None => "",
            Bad::Usage => "usage: dmz FILE | dmz --fd N",
            Bad::TooLarge => "larger than 131072 bytes",
            Bad::TruncatedHeader => "truncated header",
            Bad::Magic => "bad magic: not a dmz config",
            Bad::Version => "format version ",
            Bad::TruncatedBody => "truncated body",
            Bad::TrailingBytes => "trailing bytes after body",
            Bad::Crc => "CRC mismatch",
            Bad::Malformed => "malformed body",
            Bad::TrailingInBody => "trailing bytes inside body",
            Bad::Args => "args: empty, unterminated or too many",
            Bad::ProgramName => "args: empty program name",
            Bad::Env => "env: unterminated or too many",
            Bad::Cwd => "cwd: interior NUL or unterminated",
            Bad::Umask => "umask above 0777: ",
            Bad::RlimitResource => "rlimits: unknown resource ",
            Bad::RlimitOrder => "rlimits: soft limit above hard limit for resource ",
            Bad::OomScoreAdj => "oom_score_adj outside -1000..=1000",
            Bad::PreserveFds => "preserve_fds: not ascending above 2 at fd ",
            Bad::Securebits => "securebits: unknown bits ",
            Bad::SecurebitsKeepCaps => "securebits: keep-caps locked off",
            Bad::SeccompSize => "seccomp: program size",
            Bad::CapBounding => "capabilities.bounding: unknown to this kernel: capability ",
            Bad::CapEffective => "capabilities.effective: unknown to this kernel: capability ",
            Bad::CapPermitted => "capabilities.permitted: unknown to this kernel: capability ",
            Bad::CapInheritable => "capabilities.inheritable: unknown to this kernel: capability ",
            Bad::CapAmbient => "capabilities.ambient: unknown to this kernel: capability ",
        }
    }
}

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
    pub const fn new(step: Step, errno: u16, num: u32) -> Self {
        Error { step, bad: Bad::None, errno, num }
    }

    /// A config that fails decoding or validation: EINVAL, or EFBIG when too large.
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
        out.push(self.step.name().as_bytes());
        out.push(b": ");
        push_errno(out, self.errno);
        let has_detail =
            self.step == Step::LoadConfig || self.step == Step::Usage || self.step.label().is_some();
        if !has_detail && name.is_empty() {
            out.push(b"\n");
            return;
        }
        out.push(b" (");
        if self.step == Step::LoadConfig || self.step == Step::Usage {
            out.push(self.bad.text().as_bytes());
            match self.bad {
                Bad::Version => {
                    out.num(self.num as u64);
                    out.push(b", expected ");
                    out.num(crate::config::VERSION as u64);
                }
                Bad::Umask
                | Bad::RlimitResource
                | Bad::RlimitOrder
                | Bad::PreserveFds
                | Bad::Securebits
                | Bad::CapBounding
                | Bad::CapEffective
                | Bad::CapPermitted
                | Bad::CapInheritable
                | Bad::CapAmbient => out.num(self.num as u64),
                _ => {}
            }
        } else if let Some(label) = self.step.label() {
            out.push(label.as_bytes());
            out.num(self.num as u64);
        } else {
            out.push(name);
        }
        out.push(b")\n");
    }
}

/// Names of errno 1..=40, which are the same on every architecture dmzkit supports
/// (asm-generic/errno-base.h and errno.h). Space-separated to keep the table small.
const ERRNO_NAMES: &[u8] = b"EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD \
EAGAIN ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE \
EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG \
ENOLCK ENOSYS ENOTEMPTY ELOOP ";

/// The symbolic name of `errno`, or `errno <n>` outside the table.
pub fn push_errno(out: &mut Line, errno: u16) {
    let mut index = 1;
    let mut start = 0;
    for (i, &b) in ERRNO_NAMES.iter().enumerate() {
        if b == b' ' {
            if index == errno {
                out.push(&ERRNO_NAMES[start..i]);
                return;
            }
            index += 1;
            start = i + 1;
        }
    }
    out.push(b"errno ");
    out.num(errno as u64);
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

    pub fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
