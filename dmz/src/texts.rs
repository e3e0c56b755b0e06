// Every text dmz's messages are made of, written once: each step and each config problem
// beside its variant. `include!`d twice, each time with its own `texts!` macro: by
// src/error.rs, which declares the enums `Step` and `Bad` from it, and by build.rs, which
// packs the texts (docs/design.md §4). A `%` is where the message's number goes.
//
// Message: `dmz: unable to <step>: <ERRNO> (<detail>)`.

texts! {
    /// The parts of every message, around the texts below.
    fixed {
        prefix = "dmz: unable to ",
        /// An errno past the names below.
        errno_num = "errno %",
        colon = ": ",
        open = " (",
        close = ")",
        newline = "\n",
    }

    /// A step of loading the config or of the transition: what "unable to ..." says, and in
    /// brackets the step's number when it has one (else the detail is the path or program
    /// the step worked on).
    pub enum Step {
        Usage = "parse arguments",
        OpenConfig = "open config",
        ReadConfig = "read config",
        /// The config is malformed or invalid; `Error::bad` says how.
        LoadConfig = "load config",
        SetRlimit = "set rlimit" ("resource %"),
        SetOomScoreAdj = "set oom_score_adj",
        InstallSeccomp = "install seccomp filter",
        Chdir = "change directory",
        DropBoundingSet = "drop bounding set" ("capability %"),
        SetSecurebits = "set securebits",
        SetKeepCaps = "set keep-caps",
        ChownStdio = "change owner of stdio" ("fd %"),
        SetGroups = "set groups",
        SetResGid = "set gid" ("gid %"),
        SetResUid = "set uid" ("uid %"),
        ClearKeepCaps = "clear keep-caps",
        SetCaps = "set capabilities",
        ClearAmbient = "clear ambient capabilities",
        RaiseAmbient = "raise ambient capability" ("capability %"),
        SetNoNewPrivs = "set no_new_privs",
        /// Reading back the credentials found one not as configured; `Error::bad` says which.
        Verify = "verify credentials",
        KeepFd = "keep fd" ("fd %"),
        CloseFds = "close fds",
        Exec = "exec",
        /// Probing the kernel's last capability (validation, before any change).
        ReadBoundingSet = "read bounding set" ("capability %"),
    }

    /// What is wrong with a config (step [`Step::LoadConfig`]), the detail in brackets;
    /// `Error::num` adds a number where the text has one.
    pub enum Bad {
        None = "",
        Usage = "usage: dmz FILE | dmz --fd N",
        TooLarge = "over 131072 bytes",
        TruncatedHeader = "truncated header",
        Magic = "not a dmz config",
        Version = "format version %, expected 2",
        TruncatedBody = "truncated body",
        TrailingBytes = "trailing bytes after body",
        Crc = "CRC mismatch",
        Malformed = "malformed body",
        TrailingInBody = "trailing bytes inside body",
        Args = "args: empty, unterminated or too many",
        ProgramName = "args: empty program name",
        Env = "env: unterminated or too many",
        Cwd = "cwd: interior NUL or unterminated",
        Umask = "umask above 0777: %",
        RlimitResource = "rlimits: unknown resource %",
        RlimitOrder = "rlimits: soft limit above hard limit for resource %",
        OomScoreAdj = "oom_score_adj outside -1000..=1000",
        PreserveFds = "preserve_fds: not ascending above 2 at fd %",
        Securebits = "securebits: unknown bits %",
        SecurebitsKeepCaps = "securebits: keep-caps locked off",
        SeccompSize = "seccomp: program size",
        CapBounding = "capabilities.bounding: unknown to this kernel: capability %",
        CapEffective = "capabilities.effective: unknown to this kernel: capability %",
        CapPermitted = "capabilities.permitted: unknown to this kernel: capability %",
        CapInheritable = "capabilities.inheritable: unknown to this kernel: capability %",
        CapAmbient = "capabilities.ambient: unknown to this kernel: capability %",
        Id = "uid, gid or group above 2147483647: %",
        // What step `Verify` found not as configured (in the order of CAP_SETS for the
        // capability sets).
        VerifyUid = "uid is %",
        VerifyGid = "gid is %",
        VerifyGroups = "groups differ",
        VerifyBounding = "capabilities.bounding: capability %",
        VerifyEffective = "capabilities.effective: capability %",
        VerifyPermitted = "capabilities.permitted: capability %",
        VerifyInheritable = "capabilities.inheritable: capability %",
        VerifyAmbient = "capabilities.ambient: capability %",
        VerifyNoNewPrivs = "no_new_privs unset",
    }

    /// The names of errno 1..=40, which are the same on every architecture dmzkit supports
    /// (asm-generic/errno-base.h and errno.h); build.rs checks each against linux-raw-sys.
    errnos {
        EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES
        EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY
        ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK
        ENOSYS ENOTEMPTY ELOOP
    }
}
