//! Combinations the kernel would refuse, caught before anything runs. dmz itself fails closed
//! on them; the launcher makes sure what reaches dmz is consistent:
//! - an ambient capability not both permitted and inheritable: the kernel refuses to raise it;
//!   runc warns and skips it (its own `runc spec` default has ambient caps and no inheritable
//!   set), so run/compile do the same with one warning line, or refuse under --strict;
//! - anything else here makes the kernel refuse a step outright (runc then fails to start the
//!   process), so run/compile refuse it with the reason.

use crate::names::cap_names;
use crate::oci::Compiled;
use dmz::transition::{SECBIT_KEEP_CAPS, SECBIT_KEEP_CAPS_LOCKED};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    /// Adjusted as runc does, with a warning (an error under --strict).
    Adjusted,
    /// The kernel would refuse it.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub what: String,
}

/// Every problem of `c` that does not depend on the machine it runs on.
pub fn problems(c: &Compiled) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut refuse = |what: String| out.push(Problem { severity: Severity::Refused, what });
    if let Some(k) = &c.caps {
        let extra = k.effective & !k.permitted;
        if extra != 0 {
            refuse(format!(
                "capabilities.effective: not in permitted, capset(2) refuses: {}",
                cap_names(extra).join(", ")
            ));
        }
        let extra = k.inheritable & !k.bounding;
        if extra != 0 {
            refuse(format!(
                "capabilities.inheritable: not in bounding, capset(2) refuses: {}",
                cap_names(extra).join(", ")
            ));
        }
    }
    if let Some(b) = c.securebits {
        if b & SECBIT_KEEP_CAPS_LOCKED != 0 && b & SECBIT_KEEP_CAPS == 0 {
            refuse("securebits: keep_caps_locked without keep_caps: the uid change needs keep-caps".into());
        }
    }
    if let Some(k) = &c.caps {
        let skipped = k.ambient & !(k.permitted & k.inheritable);
        if skipped != 0 {
            out.push(Problem {
                severity: Severity::Adjusted,
                what: format!(
                    "capabilities.ambient: not raised (not in both permitted and inheritable, as runc): {}",
                    cap_names(skipped).join(", ")
                ),
            });
        }
    }
    out
}

/// Applies runc's adjustments to `c` and reports them through `warn`; refuses what the kernel
/// would refuse, and under `strict` any adjustment too. `source` names the input in messages.
pub fn reconcile(
    source: &str,
    c: &mut Compiled,
    strict: bool,
    warn: &mut dyn FnMut(String),
) -> Result<(), String> {
    for p in problems(c) {
        match p.severity {
            Severity::Refused => return Err(format!("{source}: {}", p.what)),
            Severity::Adjusted if strict => return Err(format!("{source}: {} (refused: --strict)", p.what)),
            Severity::Adjusted => warn(format!("{source}: {}", p.what)),
        }
    }
    if let Some(k) = &mut c.caps {
        k.ambient &= k.permitted & k.inheritable;
    }
    Ok(())
}
