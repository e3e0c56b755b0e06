//! Seccomp profiles → the classic BPF program dmz installs, for a target architecture.
//!
//! Input: OCI `linux.seccomp`, or a Docker (moby) profile. Output: the program runc 1.1.5
//! would install for the same profile on the target: Docker's conditions evaluated for the
//! target's arch, kernel and the process's bounding set ([`profile::render`]), the rules built
//! with libseccomp as runc builds them ([`filter::build`]), and runc's -ENOSYS stub in front
//! ([`enosys::stub`]). The choice of libseccomp and every deviation from runc are in
//! docs/seccomp.md.

pub mod arch;
pub mod bpf;
mod enosys;
mod filter;
mod profile;
mod syscalls;

pub use arch::{Arch, KernelVersion, Target};
use filter::{Action, Rule};
use libseccomp::{ScmpArch, ScmpSyscall};

/// Names of the architectures a compiled program (dmz's `struct sock_filter[]` bytes) was
/// built for, from its `seccomp_data.arch` tests.
pub fn program_arches(prog: &[u8]) -> Vec<String> {
    bpf::decode(prog)
        .map_or_else(Vec::new, |p| bpf::arch_tests(&p).into_iter().map(Arch::audit_name).collect())
}

/// Where something is in the input, for messages: `config.json: linux.seccomp.syscalls[3]`,
/// or `profile.json: syscalls[3]` for a profile in a file of its own.
#[derive(Clone, Debug)]
pub struct Loc {
    file: String,
    path: String,
}

impl Loc {
    /// `path` is the profile's JSON path in `file`, empty for the whole file.
    pub fn new(file: &str, path: &str) -> Loc {
        Loc { file: file.into(), path: path.into() }
    }

    /// The field or element `sub` ("syscalls[3]", "names[0]") below this one.
    pub fn sub(&self, sub: &str) -> Loc {
        let path = if self.path.is_empty() { sub.to_string() } else { format!("{}.{sub}", self.path) };
        Loc { file: self.file.clone(), path }
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.as_str() {
            "" => f.write_str(&self.file),
            path => write!(f, "{}: {path}", self.file),
        }
    }
}

/// A compiled filter: `seccomp(SECCOMP_SET_MODE_FILTER, flags, program)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub flags: u32,
    /// `struct sock_filter[]` in the target's byte order.
    pub program: Vec<u8>,
}

/// `flags` names the OCI spec defines, with their `SECCOMP_FILTER_FLAG_*` values
/// (include/uapi/linux/seccomp.h).
const FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", 1),
    ("SECCOMP_FILTER_FLAG_LOG", 2),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4),
    ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32),
];

/// Compiles the seccomp profile `value` found at `path` in `file` (e.g. `config.json`,
/// `linux.seccomp`; an empty path for a profile file) for `target`. `bounding` is the
/// process's bounding set, which Docker profiles' capability conditions test. Returns None
/// when the profile disables seccomp (null, or no default action and no syscalls, as runc
/// reads it). `warn` gets one line per ignored name or questionable filter.
pub fn compile(
    file: &str,
    path: &str,
    value: &serde_json::Value,
    bounding: &[String],
    target: &Target,
    warn: &mut dyn FnMut(String),
) -> Result<Option<Filter>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let at = Loc::new(file, path);
    let p = profile::parse(&at, value)?;
    let Some(r) = profile::render(&at, &p, bounding, target)? else { return Ok(None) };
    let errno = errno_ret(&at.sub("defaultErrnoRet"), p.default_errno_ret)?;
    let default =
        Action::parse(&p.default_action, errno).map_err(|m| format!("{}: {m}", at.sub("defaultAction")))?;
    let flags = flags(&at, &p)?;
    let arches = architectures(&r)?;
    let rules = rules(&at, &r)?;
    // runc's stub goes in front when the default refuses (not for ALLOW, LOG, TRACE).
    let mut program = match default {
        Action::Allow | Action::Log | Action::Trace(_) => Vec::new(),
        _ => {
            let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            let stub_arches: Vec<ScmpArch> = arches.iter().map(|a| a.0).collect();
            enosys::stub(&stub_arches, &names).map_err(|m| format!("{at}: -ENOSYS stub: {m}"))?
        }
    };
    program.extend(filter::build(target.arch, default, &arches, &rules, warn)?);
    if program.len() > bpf::MAX_INSNS {
        return Err(format!(
            "{at}: the filter is {} BPF instructions for {}, above the kernel's limit of {} \
             (BPF_MAXINSNS); it is not truncated",
            program.len(),
            target.arch.name(),
            bpf::MAX_INSNS
        ));
    }
    bpf::validate(&program).map_err(|m| format!("{at}: the compiled filter is invalid: {m}"))?;
    check_dmz_can_finish(&at, &program, target.arch, warn)?;
    Ok(Some(Filter { flags, program: bpf::encode(&program) }))
}

/// `flags` → the `SECCOMP_FILTER_FLAG_*` bits for seccomp(2).
fn flags(at: &Loc, p: &profile::Profile) -> Result<u32, String> {
    let mut flags = 0;
    for (i, f) in p.flags.iter().flatten().enumerate() {
        let here = at.sub(&format!("flags[{i}]"));
        flags |= match FLAGS.iter().find(|x| x.0 == f) {
            Some(("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", _)) => {
                return Err(format!("{here}: {f} applies to SCMP_ACT_NOTIFY only, which is not supported"))
            }
            Some(x) => x.1,
            None => {
                let names = FLAGS.map(|x| x.0);
                return Err(format!("{here}: {}", crate::names::unknown("flag", f, &names)));
            }
        };
    }
    Ok(flags)
}

/// The rendered `architectures` as libseccomp architectures.
fn architectures(r: &profile::Rendered) -> Result<Vec<(ScmpArch, Loc)>, String> {
    // For suggestions only: libseccomp knows more (mips, ppc, s390, parisc).
    const KNOWN: [&str; 6] = [
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_RISCV64",
    ];
    r.architectures
        .iter()
        .map(|(name, at)| match name.parse::<ScmpArch>() {
            Ok(a) => Ok((a, at.clone())),
            Err(_) => Err(format!("{at}: {}", crate::names::unknown("architecture", name, &KNOWN))),
        })
        .collect()
}

/// The rendered rules, one per name, as runc's specconv makes them.
fn rules(at: &Loc, r: &profile::Rendered) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for rule in &r.rules {
        let s = rule.syscall;
        let rule_at = at.sub(&format!("syscalls[{}]", rule.index));
        let errno = errno_ret(&rule_at.sub("errnoRet"), s.errno_ret)?;
        let action =
            Action::parse(&s.action, errno).map_err(|m| format!("{}: {m}", rule_at.sub("action")))?;
        let mut args = Vec::new();
        for (k, a) in s.args.iter().flatten().enumerate() {
            let c = filter::compare(a.index, &a.op, a.value, a.value_two)
                .map_err(|m| format!("{}: {m}", rule_at.sub(&format!("args[{k}]"))))?;
            args.push((a.index, c));
        }
        for (name, name_at) in &rule.names {
            if name.is_empty() {
                return Err(format!("{name_at}: empty syscall name"));
            }
            rules.push(Rule {
                name: name.clone(),
                name_at: name_at.clone(),
                rule_at: rule_at.clone(),
                action,
                args: args.clone(),
            });
        }
    }
    Ok(rules)
}

/// An `errnoRet` fits the 16 data bits of a filter's return value (runc would cut it to 16
/// bits; errno 65536 would become 0, success).
fn errno_ret(at: &Loc, e: Option<u32>) -> Result<Option<u16>, String> {
    e.map(|e| {
        u16::try_from(e).map_err(|_| format!("{at}: {e} does not fit the filter's 16-bit return value"))
    })
    .transpose()
}

/// dmz installs the filter and then execs the target; if that exec fails it writes one line to
/// stderr and calls exit_group. So the filter must allow execve, and exit_group must not
/// return (an errno there would leave dmz running after its last step). A refused write only
/// loses the message: warned about, not refused. Arguments are what dmz passes where known,
/// zero otherwise (a filter that tests execve's pointers cannot be judged here).
fn check_dmz_can_finish(
    at: &Loc,
    prog: &[bpf::Insn],
    arch: Arch,
    warn: &mut dyn FnMut(String),
) -> Result<(), String> {
    let verdict = |name: &str, args: [u64; 6]| {
        let nr = ScmpSyscall::from_name_by_arch(name, arch.scmp()).expect("a syscall of every target");
        let data = bpf::Data { nr: i32::from(nr), arch: arch.audit(), ip: 0, args };
        bpf::run(prog, &data)
    };
    let allowed = |ret: u32| matches!(ret & bpf::RET_ACTION_FULL, bpf::RET_ALLOW | bpf::RET_LOG);
    let execve = verdict("execve", [0; 6]);
    if !allowed(execve) {
        return Err(format!(
            "{at}: the filter refuses execve on {} ({}): dmz could not start the program",
            arch.name(),
            bpf::verdict_name(execve)
        ));
    }
    let exit = verdict("exit_group", [125, 0, 0, 0, 0, 0]);
    if matches!(exit & bpf::RET_ACTION_FULL, bpf::RET_ERRNO | bpf::RET_TRACE) {
        return Err(format!(
            "{at}: the filter makes exit_group return ({}) on {}: dmz could not exit after a failed exec",
            bpf::verdict_name(exit),
            arch.name()
        ));
    }
    let write = verdict("write", [2, 0, 0, 0, 0, 0]);
    if !allowed(write) {
        warn(format!(
            "{at}: the filter refuses write to stderr on {} ({}): a failed exec will not be reported",
            arch.name(),
            bpf::verdict_name(write)
        ));
    }
    Ok(())
}
