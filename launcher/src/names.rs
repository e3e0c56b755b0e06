//! Capability and rlimit names as OCI configs spell them, and "did you mean" suggestions.

/// Capability names by number (include/uapi/linux/capability.h), up to CAP_CHECKPOINT_RESTORE.
pub const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Rlimit names by resource number (asm-generic/resource.h; the same on every architecture
/// dmzkit supports).
pub const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// The capability number of `name`, spelled exactly as OCI configs do ("CAP_NET_RAW"), or an
/// error message with a suggestion.
pub fn cap_number(name: &str) -> Result<u32, String> {
    lookup(&CAPS, name).ok_or_else(|| unknown("capability", name, &CAPS))
}

/// The resource number of `name` ("RLIMIT_NOFILE"), or an error message with a suggestion.
pub fn rlimit_number(name: &str) -> Result<u32, String> {
    lookup(&RLIMITS, name).ok_or_else(|| unknown("rlimit", name, &RLIMITS))
}

/// Like [`cap_number`], but as setpriv and systemd accept them: case-insensitive, `CAP_`
/// optional ("net_bind_service").
pub fn cap_number_loose(name: &str) -> Result<u32, String> {
    lookup(&CAPS, &with_prefix(name, "CAP_")).ok_or_else(|| unknown("capability", name, &CAPS))
}

/// Like [`rlimit_number`], but case-insensitive with `RLIMIT_` optional ("nofile").
pub fn rlimit_number_loose(name: &str) -> Result<u32, String> {
    lookup(&RLIMITS, &with_prefix(name, "RLIMIT_")).ok_or_else(|| unknown("rlimit", name, &RLIMITS))
}

fn with_prefix(name: &str, prefix: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    }
}

fn lookup(table: &[&str], name: &str) -> Option<u32> {
    table.iter().position(|&n| n == name).map(|i| i as u32)
}

/// `unknown KIND "NAME"`, with the nearest name of `table` as a suggestion if one is close
/// (case-insensitive; a prefix such as `CAP_` may be left out).
pub fn unknown(kind: &str, name: &str, table: &[&str]) -> String {
    let upper = name.to_ascii_uppercase();
    let best = table
        .iter()
        .map(|&c| {
            let full = c.to_ascii_uppercase();
            let short = full.split_once('_').map_or(full.as_str(), |(_, rest)| rest);
            (strsim::levenshtein(&full, &upper).min(strsim::levenshtein(short, &upper)), c)
        })
        .min();
    match best {
        Some((d, c)) if d <= 3 => format!("unknown {kind} {name:?} (did you mean {c}?)"),
        _ => format!("unknown {kind} {name:?}"),
    }
}

/// Names of the bits set in `mask`, for display.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| CAPS.get(b).map_or_else(|| format!("CAP_{b}"), |s| s.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel_header() {
        assert_eq!(cap_number("CAP_NET_BIND_SERVICE"), Ok(10));
        assert_eq!(cap_number("CAP_SYS_ADMIN"), Ok(21));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Ok(40));
        assert!(cap_number("net_raw").is_err(), "OCI spells capabilities exactly");
        assert_eq!(rlimit_number("RLIMIT_NOFILE"), Ok(7));
        assert_eq!(rlimit_number("RLIMIT_RTTIME"), Ok(15));
    }

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(
            cap_number("CAP_NET_BIND_SERVIC"),
            Err("unknown capability \"CAP_NET_BIND_SERVIC\" (did you mean CAP_NET_BIND_SERVICE?)".into())
        );
        assert_eq!(
            cap_number("CAP_WHATEVER_THIS_IS"),
            Err("unknown capability \"CAP_WHATEVER_THIS_IS\"".into())
        );
        assert_eq!(
            rlimit_number("RLIMIT_NOFILES"),
            Err("unknown rlimit \"RLIMIT_NOFILES\" (did you mean RLIMIT_NOFILE?)".into())
        );
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(cap_names(1 << 10 | 1 << 21), vec!["CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"]);
        for (i, n) in CAPS.iter().enumerate() {
            assert_eq!(cap_number(n), Ok(i as u32));
        }
    }
}
