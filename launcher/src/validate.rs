//! What dmz refuses when it loads a config (dmz's `validate` and the encoder's limits),
//! checked on the launcher's final settings, whatever their source: config.json, flags, an
//! `inspect --json` file or a compiled `.pcfg`. So `run`, `compile` and `check` all refuse a
//! config dmz would refuse, in one line naming the field, instead of writing a file dmz
//! cannot load, reporting it as fine, or failing on it later.
//!
//! The machine-dependent checks (capabilities the running kernel knows) stay in `check` and
//! in dmz.

use crate::oci::{check_id, Compiled};
use dmz::config::{
    MAX_ARGS, MAX_BPF_INSNS, MAX_ENV, MAX_FD, MAX_GROUPS, MAX_PRESERVE_FDS, MAX_RLIMITS, MAX_UMASK,
    OOM_SCORE_ADJ, RLIM_NLIMITS,
};
use dmz::transition::SECBITS_ALL;

/// Every reason dmz would refuse `c` before its first step; Err names the field.
pub fn validate(c: &Compiled) -> Result<(), String> {
    let count = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(format!("{what}: {n} entries, at most {max}"))
        } else {
            Ok(())
        }
    };
    count("args", c.args.len(), MAX_ARGS)?;
    count("env", c.env.len(), MAX_ENV)?;
    count("user.additionalGids", c.groups.as_ref().map_or(0, Vec::len), MAX_GROUPS)?;
    count("rlimits", c.rlimits.len(), MAX_RLIMITS)?;
    count("preserveFds", c.preserve_fds.len(), MAX_PRESERVE_FDS)?;
    match c.args.first() {
        None => return Err("args: must not be empty (args[0] is the program)".into()),
        Some(p) if p.is_empty() => return Err("args[0]: empty program name".into()),
        Some(_) => {}
    }
    for (what, list) in [("args", &c.args), ("env", &c.env)] {
        if let Some(i) = list.iter().position(|s| s.contains('\0')) {
            return Err(format!("{what}[{i}]: contains NUL"));
        }
    }
    match c.cwd.as_deref() {
        Some("") => return Err("cwd: empty (leave it out to keep the caller's)".into()),
        Some(d) if d.contains('\0') => return Err("cwd: contains NUL".into()),
        _ => {}
    }
    // dmz refuses ids above 2147483647 (-1 to setresuid is "leave unchanged").
    for (what, id) in [("user.uid", c.uid), ("user.gid", c.gid)] {
        if let Some(id) = id {
            check_id(id).map_err(|m| format!("{what}: {m}"))?;
        }
    }
    for (i, &g) in c.groups.iter().flatten().enumerate() {
        check_id(g).map_err(|m| format!("user.additionalGids[{i}]: {m}"))?;
    }
    if c.umask > MAX_UMASK {
        return Err(format!("user.umask: {:#o} is above {MAX_UMASK:#o}", c.umask));
    }
    for (i, r) in c.rlimits.iter().enumerate() {
        if r.resource >= RLIM_NLIMITS {
            return Err(format!("rlimits[{i}]: resource {} is not one of 0..{RLIM_NLIMITS}", r.resource));
        }
        if c.rlimits[..i].iter().any(|x| x.resource == r.resource) {
            return Err(format!("rlimits[{i}]: resource {} is set twice", r.resource));
        }
        if r.soft > r.hard {
            return Err(format!("rlimits[{i}]: soft limit {} is above hard limit {}", r.soft, r.hard));
        }
    }
    if let Some(adj) = c.oom_score_adj {
        if !OOM_SCORE_ADJ.contains(&adj) {
            return Err(format!("oomScoreAdj: {adj} is outside {OOM_SCORE_ADJ:?}"));
        }
    }
    let mut prev = 2;
    for (i, &fd) in c.preserve_fds.iter().enumerate() {
        if fd <= prev || fd > MAX_FD {
            return Err(format!(
                "preserveFds[{i}]: {fd}: fds must be ascending, above 2 and at most {MAX_FD}"
            ));
        }
        prev = fd;
    }
    if let Some(bits) = c.securebits {
        if bits & !SECBITS_ALL != 0 {
            return Err(format!("securebits: {bits:#x} has bits beyond {SECBITS_ALL:#x}"));
        }
    }
    if let Some(s) = &c.seccomp {
        let n = s.program.len();
        if n == 0 || n % 8 != 0 || n / 8 > MAX_BPF_INSNS {
            return Err(format!(
                "seccomp: a program of {n} bytes; dmz takes 1 to {MAX_BPF_INSNS} instructions of 8 bytes"
            ));
        }
    }
    // The whole blob must fit dmz's buffer.
    c.encode().map(drop)
}

/// runc 1.1 looks a program name without '/' up in the PATH of `process.env` (Go's
/// `exec.LookPath`, after the init process's environment was replaced by `process.env`), and
/// without a PATH, or with an empty one, it finds nothing and fails before anything runs.
/// dmz, given such a config, would search its default PATH. For config.json sources the
/// launcher keeps runc's outcome: refused, before exec (docs/runc-differences.md).
pub fn bare_program_needs_path(c: &Compiled) -> Result<(), String> {
    let Some(prog) = c.args.first().filter(|p| !p.contains('/')) else { return Ok(()) };
    match c.env.iter().find_map(|e| e.strip_prefix("PATH=")) {
        Some(path) if !path.is_empty() => Ok(()),
        _ => Err(format!(
            "process.args[0]: {prog:?} is not a path and process.env has no PATH (runc finds nothing \
             then): give an absolute path or set PATH"
        )),
    }
}
