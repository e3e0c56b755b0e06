//! The filter proper, built with libseccomp the way runc 1.1.5 builds it: specconv's
//! `SetupSeccomp` (one rule per name) and libcontainer/seccomp's `InitSeccomp`/`matchCall`
//! (which rules are skipped, how argument conditions combine), then `seccomp_export_bpf`.

use super::arch::Arch;
use super::bpf::{self, Insn};
use super::syscalls::{lookup, Lookup};
use super::Loc;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use std::io::Read;

/// What a rule or the default does (OCI `SCMP_ACT_*`). NOTIFY is refused earlier: it needs a
/// seccomp agent to hand the listener fd to, and dmz execs the target right away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
}

/// `SCMP_ACT_*` names the OCI spec defines.
pub const ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// `SCMP_CMP_*` names the OCI spec defines.
pub const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// EPERM: runc's return value for ERRNO and TRACE without `errnoRet`.
const EPERM: u16 = 1;

impl Action {
    /// `name` with its `errnoRet` as runc reads them: KILL is KILL_THREAD; ERRNO and TRACE
    /// return `errnoRet`, EPERM without one; other actions ignore it. Err is the message
    /// (without the JSON path).
    pub fn parse(name: &str, errno_ret: Option<u16>) -> Result<Action, String> {
        Ok(match name {
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_ERRNO" => Action::Errno(errno_ret.unwrap_or(EPERM)),
            "SCMP_ACT_TRACE" => Action::Trace(errno_ret.unwrap_or(EPERM)),
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => {
                return Err("SCMP_ACT_NOTIFY is not supported: it needs a seccomp agent to receive \
                            the listener fd, and dmz execs the target directly"
                    .into())
            }
            "" => return Err("missing".into()),
            _ => return Err(crate::names::unknown("action", name, &ACTIONS)),
        })
    }

    fn scmp(self) -> ScmpAction {
        match self {
            Action::KillThread => ScmpAction::KillThread,
            Action::KillProcess => ScmpAction::KillProcess,
            Action::Trap => ScmpAction::Trap,
            Action::Errno(e) => ScmpAction::Errno(e.into()),
            Action::Trace(e) => ScmpAction::Trace(e),
            Action::Allow => ScmpAction::Allow,
            Action::Log => ScmpAction::Log,
        }
    }
}

/// One argument condition (`args[k]` of a rule).
pub fn compare(index: u32, op: &str, value: u64, value_two: u64) -> Result<ScmpArgCompare, String> {
    // A syscall has at most six arguments (runc would index out of bounds).
    if index > 5 {
        return Err(format!("index {index} is above 5 (a syscall has six arguments, 0 to 5)"));
    }
    let op = match op {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // `value` is the mask, `valueTwo` what the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), value_two))
        }
        _ => return Err(crate::names::unknown("operator", op, &OPS)),
    };
    Ok(ScmpArgCompare::new(index, op, value))
}

/// A rule for one syscall name, with its JSON paths for messages.
pub struct Rule {
    pub name: String,
    /// Where the name is, e.g. `config.json: linux.seccomp.syscalls[3].names[0]`.
    pub name_at: Loc,
    /// Where the rule is, e.g. `config.json: linux.seccomp.syscalls[3]`.
    pub rule_at: Loc,
    pub action: Action,
    /// The conditions with their argument index.
    pub args: Vec<(u32, ScmpArgCompare)>,
}

/// libseccomp's program for `target`, also covering `arches` (the profile's `architectures`).
/// `warn` gets one line per name that is not a syscall (skipped, as runc does).
pub fn build(
    target: Arch,
    default: Action,
    arches: &[(ScmpArch, Loc)],
    rules: &[Rule],
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Insn>, String> {
    let lib = |e: libseccomp::error::SeccompError| format!("libseccomp: {e}");
    let mut ctx = ScmpFilterContext::new(default.scmp()).map_err(lib)?;
    // seccomp_init made a filter for the architecture libseccomp was built for; swap in the
    // target (first, so the order of architectures is what runc on the target would have).
    if ScmpArch::native() != target.scmp() {
        ctx.add_arch(target.scmp()).map_err(lib)?;
        ctx.remove_arch(ScmpArch::Native).map_err(lib)?;
    }
    for (a, at) in arches {
        if !ctx.is_arch_present(*a).map_err(lib)? {
            ctx.add_arch(*a).map_err(|e| {
                format!("{at}: libseccomp cannot add {a:?} to a {} filter: {e}", target.name())
            })?;
        }
    }
    for r in rules {
        // libseccomp refuses a rule that does what the default does; runc skips it.
        if r.action == default {
            continue;
        }
        let nr = match lookup(&r.name) {
            Lookup::Known(nr) => nr,
            Lookup::Newer => continue,
            Lookup::Unknown(hint) => {
                let hint = hint.map(|h| format!(" (did you mean {h}?)")).unwrap_or_default();
                warn(format!(
                    "{}: unknown syscall {:?} for {}{hint}; ignored, as runc does",
                    r.name_at,
                    r.name,
                    target.name()
                ));
                continue;
            }
        };
        let added = |e: libseccomp::error::SeccompError| {
            format!("{}: libseccomp refused the rule for {}: {e}", r.rule_at, r.name)
        };
        let conds: Vec<ScmpArgCompare> = r.args.iter().map(|a| a.1).collect();
        // runc: conditions on distinct arguments must all hold (one rule); if an argument has
        // more than one condition, each condition becomes a rule of its own (any may hold).
        let repeated = r.args.iter().enumerate().any(|(i, a)| r.args[..i].iter().any(|b| b.0 == a.0));
        if conds.is_empty() {
            ctx.add_rule(r.action.scmp(), nr).map_err(added)?;
        } else if repeated {
            for c in conds {
                ctx.add_rule_conditional(r.action.scmp(), nr, &[c]).map_err(added)?;
            }
        } else {
            ctx.add_rule_conditional(r.action.scmp(), nr, &conds).map_err(added)?;
        }
    }
    export(&ctx)
}

/// `seccomp_export_bpf` into a pipe, read back by a thread (the program may exceed a pipe's
/// buffer).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<Insn>, String> {
    let (mut reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let collect = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map(|_| bytes)
    });
    let exported = ctx.export_bpf(&writer);
    drop(writer);
    let bytes = collect.join().expect("reader thread").map_err(|e| format!("reading the BPF export: {e}"))?;
    exported.map_err(|e| format!("libseccomp: exporting the filter: {e}"))?;
    bpf::decode(&bytes).ok_or_else(|| "libseccomp exported a partial instruction".to_string())
}
