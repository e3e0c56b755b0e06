//! Command-line settings, named after setpriv(1) and systemd.exec(5) so users recognise them.
//! They apply on their own (`launcher run --user 1000 -- CMD`) or on top of `--oci` (flags
//! override the file).

use crate::names::{cap_number_loose, rlimit_number_loose, CAPS};
use crate::oci::{check_id, Compiled};
use crate::passwd;
use crate::wire::{Caps, Rlimit};

#[derive(clap::Args, Debug, Default, Clone)]
pub struct Flags {
    /// User to run as: UID or NAME, optionally :GID or :GROUP (names from /etc/passwd and
    /// /etc/group). Without --groups, supplementary groups are dropped (as runc does).
    /// Without --user, uid and gid stay as they are (as setpriv without --reuid/--regid).
    #[arg(long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Supplementary groups, comma-separated numbers or names ("" for none). Without it (and
    /// without --user) the groups stay as they are.
    #[arg(long, value_name = "LIST")]
    pub groups: Option<String>,
    /// Bounding set: caps with +/- to add/remove ("-all,+net_bind_service"), or a plain list.
    #[arg(long, value_name = "CAPS", allow_hyphen_values = true)]
    pub bounding_set: Option<String>,
    /// Effective and permitted sets (same syntax).
    #[arg(long, value_name = "CAPS", allow_hyphen_values = true)]
    pub caps: Option<String>,
    /// Inheritable set (same syntax).
    #[arg(long, value_name = "CAPS", allow_hyphen_values = true)]
    pub inh_caps: Option<String>,
    /// Ambient set (same syntax); each must also be permitted and inheritable.
    #[arg(long, value_name = "CAPS", allow_hyphen_values = true)]
    pub ambient_caps: Option<String>,
    /// Securebits, setpriv syntax: "+noroot,+keep_caps_locked,-no_setuid_fixup".
    #[arg(long, value_name = "BITS", allow_hyphen_values = true)]
    pub securebits: Option<String>,
    /// Set no_new_privs.
    #[arg(long, alias = "no-new-privs")]
    pub nnp: bool,
    /// Resource limit, repeatable: NAME=SOFT[:HARD] (nofile=1024:4096, core=0,
    /// RLIMIT_NPROC=unlimited).
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub rlimit: Vec<String>,
    /// File mode creation mask, octal.
    #[arg(long, value_name = "OCTAL")]
    pub umask: Option<String>,
    /// Working directory of the target.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Environment variable, repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Start from an empty environment (default: --oci's process.env, else this process's).
    #[arg(long)]
    pub clear_env: bool,
    /// OOM score adjustment, -1000..=1000.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Keep fds 3..3+N open in the target (like runc --preserve-fds).
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// Seccomp profile (OCI linux.seccomp object, or Docker's profile format); replaces
    /// config.json's linux.seccomp.
    #[arg(long, value_name = "PROFILE.json")]
    pub seccomp: Option<std::path::PathBuf>,
}

/// The calling process's own settings: the base when there is no --oci.
pub struct Current {
    pub umask: u32,
    pub env: Vec<String>,
}

impl Current {
    /// This process's umask and environment. A variable whose name or value is not UTF-8
    /// cannot be carried by a config (its strings are UTF-8): it is left out with a warning
    /// naming it, unless `quiet` (--clear-env drops every variable anyway).
    pub fn read(quiet: bool) -> Self {
        let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        rustix::process::umask(umask);
        let mut env = Vec::new();
        for (k, v) in std::env::vars_os() {
            match (k.to_str(), v.to_str()) {
                (Some(k), Some(v)) => env.push(format!("{k}={v}")),
                _ if quiet => {}
                _ => crate::say(&format!(
                    "warning: environment variable {} is not UTF-8: not passed to the target",
                    k.to_string_lossy().escape_debug()
                )),
            }
        }
        Current { umask: umask.as_raw_mode(), env }
    }

    /// The base config without --oci: setpriv's, which changes only what a flag names; ids,
    /// groups and capabilities unchanged, this process's umask and environment, stdio left
    /// as it is.
    pub fn base(&self) -> Compiled {
        Compiled { umask: self.umask, env: self.env.clone(), ..Compiled::default() }
    }
}

impl Flags {
    /// Applies the flags on top of `c`. Errors name the flag.
    pub fn apply(&self, c: &mut Compiled) -> Result<(), String> {
        if let Some(user) = &self.user {
            let (u, g) = match user.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (user.as_str(), None),
            };
            let (uid, primary) = passwd::user(u).map_err(|e| format!("--user: {e}"))?;
            check_id(uid).map_err(|m| format!("--user: uid {m}"))?;
            let gid = match g {
                Some(g) => passwd::group(g).map_err(|e| format!("--user: {e}"))?,
                None => primary.ok_or_else(|| format!("--user: uid {uid} has no passwd entry: give :GID"))?,
            };
            check_id(gid).map_err(|m| format!("--user: gid {m}"))?;
            (c.uid, c.gid, c.groups) = (Some(uid), Some(gid), Some(Vec::new()));
        }
        if let Some(list) = &self.groups {
            let groups = c.groups.insert(Vec::new());
            for g in list.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                let gid = passwd::group(g).map_err(|e| format!("--groups: {e}"))?;
                check_id(gid).map_err(|m| format!("--groups: gid {m}"))?;
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
        }
        let cap_flags = [&self.bounding_set, &self.caps, &self.inh_caps, &self.ambient_caps];
        if cap_flags.iter().any(|f| f.is_some()) {
            let caps = c.caps.get_or_insert_with(|| current_caps().unwrap_or_default());
            if let Some(v) = &self.bounding_set {
                caps.bounding = cap_list("--bounding-set", v, caps.bounding)?;
            }
            if let Some(v) = &self.caps {
                caps.permitted = cap_list("--caps", v, caps.permitted)?;
                caps.effective = caps.permitted;
            }
            if let Some(v) = &self.inh_caps {
                caps.inheritable = cap_list("--inh-caps", v, caps.inheritable)?;
            }
            if let Some(v) = &self.ambient_caps {
                caps.ambient = cap_list("--ambient-caps", v, caps.ambient)?;
            }
        }
        if let Some(v) = &self.securebits {
            c.securebits = Some(securebits(v, c.securebits.unwrap_or(0))?);
        }
        if self.nnp {
            c.no_new_privs = true;
        }
        for r in &self.rlimit {
            let lim = rlimit(r)?;
            c.rlimits.retain(|x| x.resource != lim.resource);
            c.rlimits.push(lim);
        }
        if let Some(m) = &self.umask {
            c.umask = u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|&m| m <= dmz::config::MAX_UMASK)
                .ok_or_else(|| format!("--umask: {m:?} is not an octal mode up to 0777"))?;
        }
        if let Some(d) = &self.cwd {
            if !d.starts_with('/') {
                return Err(format!("--cwd: {d:?} is not an absolute path"));
            }
            c.cwd = Some(d.clone());
        }
        if self.clear_env {
            c.env.clear();
        }
        for e in &self.env {
            crate::oci::set_env(&mut c.env, e).map_err(|m| format!("--env: {m}"))?;
        }
        if let Some(adj) = self.oom_score_adj {
            if !dmz::config::OOM_SCORE_ADJ.contains(&adj) {
                return Err(format!("--oom-score-adj: {adj} is outside {:?}", dmz::config::OOM_SCORE_ADJ));
            }
            c.oom_score_adj = Some(adj);
        }
        if let Some(n) = self.preserve_fds {
            for fd in 3..3u32.saturating_add(n).min(3 + dmz::config::MAX_PRESERVE_FDS as u32 + 1) {
                if !c.preserve_fds.contains(&fd) {
                    c.preserve_fds.push(fd);
                }
            }
            c.preserve_fds.sort_unstable();
        }
        Ok(())
    }
}

/// The capabilities 0..=`last` for which `has` answers yes, as a mask (for the bounding and
/// ambient sets, which the kernel only answers one capability at a time).
pub fn cap_mask(last: u32, has: fn(rustix::thread::CapabilitySet) -> rustix::io::Result<bool>) -> u64 {
    (0..=last.min(63))
        .filter(|&n| has(rustix::thread::CapabilitySet::from_bits_retain(1 << n)).unwrap_or(false))
        .fold(0u64, |m, n| m | 1 << n)
}

/// The running kernel's last capability.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// This process's capability sets (the base for +/- edits without --oci).
fn current_caps() -> Option<Caps> {
    let sets = rustix::thread::capabilities(None).ok()?;
    Some(Caps {
        bounding: cap_mask(last_cap(), rustix::thread::capability_is_in_bounding_set),
        effective: sets.effective.bits(),
        permitted: sets.permitted.bits(),
        inheritable: sets.inheritable.bits(),
        ambient: cap_mask(last_cap(), rustix::thread::capability_is_in_ambient_set),
    })
}

/// setpriv's capability list: "+a,-b,-all,+all" edits `base`; a list without signs
/// ("cap_a,cap_b") is the whole set. Names as in OCI or setpriv (case-insensitive, CAP_
/// optional).
pub fn cap_list(flag: &str, spec: &str, base: u64) -> Result<u64, String> {
    let all: u64 = (1u64 << CAPS.len()) - 1;
    let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let signed = items.iter().filter(|i| i.starts_with(['+', '-'])).count();
    if signed != 0 && signed != items.len() {
        return Err(format!("{flag}: mix of +/- and plain names in {spec:?}: use one style"));
    }
    let mut set = if signed == 0 { 0 } else { base };
    for item in items {
        let (add, name) = match item.strip_prefix('-') {
            Some(n) => (false, n),
            None => (true, item.strip_prefix('+').unwrap_or(item)),
        };
        let bits = if name.eq_ignore_ascii_case("all") {
            // "+all" adds every capability this launcher knows; "-all" removes every bit.
            if add {
                all
            } else {
                !0
            }
        } else {
            1 << cap_number_loose(name).map_err(|m| format!("{flag}: {m}"))?
        };
        set = if add { set | bits } else { set & !bits };
    }
    Ok(set)
}

/// setpriv's securebits names (capabilities(7) "The securebits flags").
const SECUREBITS: [(&str, u32); 8] = [
    ("noroot", 1 << 0),
    ("noroot_locked", 1 << 1),
    ("no_setuid_fixup", 1 << 2),
    ("no_setuid_fixup_locked", 1 << 3),
    ("keep_caps", 1 << 4),
    ("keep_caps_locked", 1 << 5),
    ("no_cap_ambient_raise", 1 << 6),
    ("no_cap_ambient_raise_locked", 1 << 7),
];

pub fn securebits(spec: &str, base: u32) -> Result<u32, String> {
    let mut bits = base;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (add, name) = match item.strip_prefix('-') {
            Some(n) => (false, n),
            None => (true, item.strip_prefix('+').unwrap_or(item)),
        };
        let bit = SECUREBITS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, b)| *b).ok_or_else(
            || {
                let names: Vec<&str> = SECUREBITS.iter().map(|(n, _)| *n).collect();
                format!("--securebits: unknown bit {name:?} (known: {})", names.join(", "))
            },
        )?;
        bits = if add { bits | bit } else { bits & !bit };
    }
    Ok(bits)
}

/// Names of the securebits set in `bits`.
pub fn securebit_names(bits: u32) -> Vec<&'static str> {
    SECUREBITS.iter().filter(|(_, b)| bits & b != 0).map(|(n, _)| *n).collect()
}

/// The inverse of [`securebit_names`].
pub fn securebits_from_names(names: &[String]) -> Result<u32, String> {
    securebits(&names.join(","), 0)
}

/// `NAME=SOFT[:HARD]`; "unlimited"/"infinity" is RLIM_INFINITY; HARD defaults to SOFT.
pub fn rlimit(spec: &str) -> Result<Rlimit, String> {
    let bad = |m: String| format!("--rlimit {spec:?}: {m}");
    let (name, limits) = spec.split_once('=').ok_or_else(|| bad("expected NAME=SOFT[:HARD]".into()))?;
    let resource = rlimit_number_loose(name).map_err(bad)?;
    let value = |v: &str| -> Result<u64, String> {
        match v {
            "unlimited" | "infinity" => Ok(u64::MAX),
            _ => v.parse().map_err(|_| bad(format!("{v:?} is not a number or \"unlimited\""))),
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => (value(limits)?, value(limits)?),
    };
    if soft > hard {
        return Err(bad("soft limit above hard limit".into()));
    }
    Ok(Rlimit { resource, soft, hard })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_lists() {
        assert_eq!(cap_list("--caps", "net_bind_service,CAP_KILL", !0), Ok(1 << 10 | 1 << 5));
        assert_eq!(cap_list("--caps", "-all,+net_bind_service", !0), Ok(1 << 10));
        assert_eq!(cap_list("--caps", "-kill", 1 << 5 | 1 << 10), Ok(1 << 10));
        assert_eq!(cap_list("--caps", "", 7), Ok(0));
        assert!(cap_list("--caps", "+kill,chown", 0).unwrap_err().contains("mix of"));
        assert_eq!(
            cap_list("--caps", "+net_bind_servic", 0),
            Err("--caps: unknown capability \"net_bind_servic\" (did you mean CAP_NET_BIND_SERVICE?)".into())
        );
    }

    #[test]
    fn securebits_and_rlimits() {
        assert_eq!(securebits("+noroot,+keep_caps_locked", 0), Ok(0x21));
        assert_eq!(securebits("-noroot", 0x21), Ok(0x20));
        assert!(securebits("+nroot", 0).unwrap_err().starts_with("--securebits: unknown bit \"nroot\""));
        assert_eq!(rlimit("nofile=10:20"), Ok(Rlimit { resource: 7, soft: 10, hard: 20 }));
        assert_eq!(rlimit("RLIMIT_CORE=0"), Ok(Rlimit { resource: 4, soft: 0, hard: 0 }));
        assert_eq!(rlimit("nproc=unlimited"), Ok(Rlimit { resource: 6, soft: u64::MAX, hard: u64::MAX }));
        assert!(rlimit("nofile=20:10").unwrap_err().contains("soft limit above hard limit"));
        assert!(rlimit("nofiles=1").unwrap_err().contains("did you mean RLIMIT_NOFILE?"));
    }
}
