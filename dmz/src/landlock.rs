//! Landlock (docs/design.md §3, steps 4b and 12b): which file trees the target may touch, which
//! TCP ports it may bind or connect to, and which scopes (abstract unix sockets, signals) are
//! closed to it. The schema (the last field of [`crate::Config`]) and the transition's steps.
//!
//! Three syscalls and one open per path, no library: `landlock_create_ruleset` (also the ABI
//! probe), `landlock_add_rule`, `landlock_restrict_self`. References: landlock(7),
//! Documentation/userspace-api/landlock.rst.

use crate::config::{Bytes, Config};
use crate::error::{Bad, Error, Step};
use crate::transition::{Kernel, Prepared};
use heapless::Vec;

/// Maximum number of path-beneath rules.
pub const MAX_PATH_RULES: usize = 64;
/// Maximum number of net-port rules.
pub const MAX_PORT_RULES: usize = 64;

/// Indexes into [`Landlock::handled`] (and [`Prepared::landlock`]).
pub const FS: usize = 0;
pub const NET: usize = 1;
pub const SCOPED: usize = 2;

/// A Landlock ruleset. Wire order: `best_effort`, `handled`, `paths`, `path_access`, `ports`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Landlock<'a> {
    /// Drop the rights the running kernel's ABI lacks (`true`), or refuse to run (`false`,
    /// "strict": exit 125 naming the first missing right).
    pub best_effort: bool,
    /// `handled_access_fs`, `handled_access_net` and `scoped` of `struct
    /// landlock_ruleset_attr`: what the ruleset restricts. A handled right is denied except
    /// where a rule allows it.
    pub handled: [u64; 3],
    /// The path-beneath rules' paths: absolute, each followed by a NUL ("/usr\0/srv\0").
    pub paths: Bytes<'a>,
    /// The LANDLOCK_ACCESS_FS_* rights allowed beneath each path, in `paths`' order. (u32:
    /// the highest fs right is bit 15; and the decoder shares the u32 list code with groups.)
    pub path_access: Vec<u32, MAX_PATH_RULES>,
    /// The net-port rules, each `access << 16 | port`: LANDLOCK_ACCESS_NET_* rights on a TCP
    /// port.
    pub ports: Vec<u32, MAX_PORT_RULES>,
}

/// The rights each Landlock ABI added, in ABI order (entry i: ABI i + 1), as (class, mask);
/// from the kernel's Documentation/userspace-api/landlock.rst. (u8 and u16: a 4-byte entry
/// instead of 16.)
const SINCE: [(u8, u16); 6] = [
    (FS as u8, 0x1fff),  // 1 (5.13): execute .. make_sym
    (FS as u8, 1 << 13), // 2 (5.19): refer
    (FS as u8, 1 << 14), // 3 (6.2): truncate
    (NET as u8, 0x3),    // 4 (6.7): bind_tcp, connect_tcp
    (FS as u8, 1 << 15), // 5 (6.10): ioctl_dev
    (SCOPED as u8, 0x3), // 6 (6.12): abstract unix socket, signal
];

/// What strict mode reports for each entry of [`SINCE`] the running kernel lacks.
const MISSING: [Bad; 6] = [
    Bad::LandlockAbi1,
    Bad::LandlockAbi2,
    Bad::LandlockAbi3,
    Bad::LandlockAbi4,
    Bad::LandlockAbi5,
    Bad::LandlockAbi6,
];

/// Part of step 1: checks the rules and probes the kernel's Landlock ABI, before any state
/// changes. Fills `p.landlock` with the handled rights this kernel will enforce: all of them,
/// or in best-effort mode those its ABI has (none at all without Landlock). In strict mode a
/// right the ABI lacks is refused, naming it and the running ABI.
pub fn validate<K: Kernel>(k: &mut K, c: &Config, p: &mut Prepared) -> Result<(), Error> {
    let Some(l) = &c.landlock else { return Ok(()) };
    // Absolute paths, a NUL-terminated list, one access mask each. (A rule's rights outside the
    // handled ones need no check: they are not restricted anyway, and dmz drops them.)
    let (mut n, mut start, mut bad) = (0, true, false);
    for &b in l.paths.0 {
        bad |= start && b != b'/';
        start = b == 0;
        n += start as u32;
    }
    if bad || !start || n as usize != l.path_access.len() {
        return Err(Error::invalid(Bad::LandlockPath, 0));
    }
    let abi = k.landlock_abi();
    for (i, (&(class, mask), &missing)) in SINCE.iter().zip(&MISSING).enumerate() {
        let class = class as usize;
        let (Some(have), Some(&handled)) = (p.landlock.get_mut(class), l.handled.get(class)) else {
            continue;
        };
        let want = handled & mask as u64;
        if (i as u32) < abi {
            *have |= want;
        } else if want != 0 && !l.best_effort {
            return Err(Error::invalid(missing, abi));
        }
    }
    Ok(())
}

/// No ruleset was created (no Landlock config, or nothing this kernel can enforce).
pub const NO_RULESET: u32 = u32::MAX;

/// Step 4a: `landlock_create_ruleset(&attr, sizeof attr, 0)`, then for each path rule
/// `openat(path, O_PATH | O_CLOEXEC)`, `landlock_add_rule(LANDLOCK_RULE_PATH_BENEATH)` and
/// `close`, and for each port rule `landlock_add_rule(LANDLOCK_RULE_NET_PORT)`. Sets `ruleset`.
///
/// Runs as the caller, before the uid change: an O_PATH open needs only search permission on
/// the path's directories, and the rules say what the target may do there, not whether it can
/// walk there (DAC still decides that at each access; a rule never grants beyond it). Each
/// path fd is closed right after its rule, so none is held when the fds step runs. A rule
/// whose rights this kernel does not handle (best-effort) is skipped: `landlock_add_rule`
/// refuses an empty access mask (ENOMSG). A missing path fails in both modes (docs/design.md
/// §3). References: landlock_create_ruleset(2), landlock_add_rule(2), open(2) "O_PATH".
pub fn create_landlock_ruleset<K: Kernel>(
    k: &mut K,
    c: &Config,
    p: &Prepared,
    ruleset: &mut u32,
) -> Result<(), Error> {
    let Some(l) = &c.landlock else { return Ok(()) };
    let h = &p.landlock;
    if h[FS] | h[NET] | h[SCOPED] == 0 {
        return Ok(()); // best-effort on a kernel that can enforce none of it
    }
    let fd = k.landlock_create_ruleset(h).map_err(|e| Error::new(Step::LandlockRuleset, e, 0))?;
    *ruleset = fd;
    // Each path is passed from its first byte to the end of the list: the kernel reads it up
    // to its NUL.
    let mut path = l.paths.0;
    for (i, &access) in l.path_access.iter().enumerate() {
        let access = access as u64 & h[FS];
        if access != 0 {
            let p = k.open_path(path).map_err(|e| Error::new(Step::LandlockPathRule, e, i as u32))?;
            let added = k.landlock_add_path_rule(fd, p, access);
            k.close(p);
            added.map_err(|e| Error::new(Step::LandlockPathRule, e, i as u32))?;
        }
        path = next(path);
    }
    for &rule in l.ports.iter() {
        let (access, port) = (rule as u64 >> 16 & h[NET], rule as u64 & 0xffff);
        if access != 0 {
            k.landlock_add_port_rule(fd, port, access)
                .map_err(|e| Error::new(Step::LandlockPortRule, e, port as u32))?;
        }
    }
    Ok(())
}

/// Step 4b or 12b: `landlock_restrict_self(ruleset, 0)`, then `close(ruleset)`. The kernel
/// requires no_new_privs or CAP_SYS_ADMIN in the current user namespace; so with no_new_privs
/// this runs right after it (12b), and without it before the uid change, while dmz still holds
/// CAP_SYS_ADMIN (4b). Either way before any seccomp filter dmz installs, so the filter need
/// not allow the Landlock syscalls, and before the fds step, so the ruleset fd is gone by then.
/// Nothing dmz does after it is a file access Landlock controls except the execve of the
/// target (LANDLOCK_ACCESS_FS_EXECUTE). References: landlock_restrict_self(2).
pub fn landlock_restrict_self<K: Kernel>(k: &mut K, ruleset: u32) -> Result<(), Error> {
    if ruleset == NO_RULESET {
        return Ok(());
    }
    k.landlock_restrict_self(ruleset).map_err(|e| Error::new(Step::LandlockRestrict, e, 0))?;
    k.close(ruleset);
    Ok(())
}

/// The path of rule `i` (for the message of a failed path rule), up to the end of the list:
/// a message ends the name at its NUL.
pub fn rule_path<'a>(c: &Config<'a>, i: u32) -> &'a [u8] {
    let mut path = c.landlock.as_ref().map_or(&[][..], |l| l.paths.0);
    for _ in 0..i {
        path = next(path);
    }
    path
}

/// What follows the first NUL of `list`.
fn next(list: &[u8]) -> &[u8] {
    let n = list.iter().position(|&b| b == 0).map_or(list.len(), |n| n + 1);
    list.get(n..).unwrap_or_default()
}
