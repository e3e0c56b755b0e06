//! Syscall names: which ones libseccomp knows, and "did you mean" for the rest.

use libseccomp::{ScmpArch, ScmpSyscall};

/// Linux syscalls added since 5.1 (generic numbers 424 and up) and recent arch-specific
/// ones. A profile may name them although the system's libseccomp is too old to know them;
/// like runc, the launcher then skips the name without a warning (docs/seccomp.md). Any
/// other name libseccomp does not know is most likely a typo and gets a warning.
const NEWER_SYSCALLS: &[&str] = &[
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "clone3",
    "close_range",
    "openat2",
    "pidfd_getfd",
    "faccessat2",
    "process_madvise",
    "epoll_pwait2",
    "mount_setattr",
    "quotactl_fd",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_mrelease",
    "futex_waitv",
    "set_mempolicy_home_node",
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "open_tree_attr",
    "file_getattr",
    "file_setattr",
    "uretprobe",
    "uprobe",
    "riscv_hwprobe",
];

/// What libseccomp makes of a syscall name.
pub enum Lookup {
    /// Its number on the architecture libseccomp was built for (a negative "pseudo" number if
    /// it does not exist there); libseccomp translates it for each architecture of a filter
    /// and leaves the rule out where the syscall does not exist.
    Known(ScmpSyscall),
    /// A real syscall newer than this libseccomp.
    Newer,
    /// Not a syscall name libseccomp or the launcher knows; the nearest known name, if close.
    Unknown(Option<String>),
}

pub fn lookup(name: &str) -> Lookup {
    if let Ok(nr) = ScmpSyscall::from_name(name) {
        return Lookup::Known(nr);
    }
    if NEWER_SYSCALLS.contains(&name) {
        return Lookup::Newer;
    }
    Lookup::Unknown(suggest(name))
}

/// The known name closest to `name` (edit distance ≤ 2), e.g. "opne" → "open".
fn suggest(name: &str) -> Option<String> {
    known_names()
        .into_iter()
        .map(|n| (strsim::damerau_levenshtein(&n, name), n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// Every name libseccomp can resolve on the architectures dmzkit targets (and x32), plus the
/// newer ones above.
fn known_names() -> Vec<String> {
    // Number ranges: the ordinary tables, x32's (bit 30 set) and ARM's private ones.
    const TABLES: [(ScmpArch, i32); 7] = [
        (ScmpArch::X8664, 0),
        (ScmpArch::X32, 0x4000_0000),
        (ScmpArch::X86, 0),
        (ScmpArch::Arm, 0),
        (ScmpArch::Arm, 0x000f_0000),
        (ScmpArch::Aarch64, 0),
        (ScmpArch::Riscv64, 0),
    ];
    let mut names: Vec<String> = NEWER_SYSCALLS.iter().map(|s| s.to_string()).collect();
    for (arch, base) in TABLES {
        for nr in base..base + 1024 {
            if let Ok(n) = ScmpSyscall::from(nr).get_name_by_arch(arch) {
                names.push(n);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert!(matches!(lookup("read"), Lookup::Known(_)));
        // Not an x86_64 syscall, but libseccomp knows it (for other architectures).
        assert!(matches!(lookup("arm_fadvise64_64"), Lookup::Known(_)));
        assert!(matches!(lookup("opne"), Lookup::Unknown(Some(n)) if n == "open"));
        assert!(matches!(lookup("no_such_syscall_at_all"), Lookup::Unknown(None)));
        // Newer than libseccomp 2.5.4 (a newer libseccomp knows it: Known then).
        assert!(matches!(lookup("mseal"), Lookup::Newer | Lookup::Known(_)));
    }

    #[test]
    fn known_names_cover_every_target() {
        let names = known_names();
        for n in ["open", "openat", "set_tls", "arch_prctl", "riscv_flush_icache", "socketcall", "mseal"] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
    }
}
