//! Reading a seccomp profile: OCI `linux.seccomp`, or Docker's (moby) profile format, which
//! adds `archMap`, per-rule `includes`/`excludes` (caps, arches, minKernel), `name` and
//! `comment` to the OCI form.
//!
//! [`render`] evaluates the Docker extensions for a target the way Docker's `setupSeccomp`
//! (moby/profiles `seccomp/seccomp_linux.go`) does before it hands an OCI profile to runc; on a
//! profile without them it changes nothing, so one path serves both formats.

use super::arch::{KernelVersion, Target};
use super::Loc;
use serde::Deserialize;

/// The union of the OCI `linux.seccomp` object and Docker's profile format. Unknown fields are
/// errors: a misspelt `defaultAction` must not quietly leave a service unfiltered. Fields
/// without effect here are declared all the same, so that they are not unknown.
#[allow(dead_code)] // listener_path, listener_metadata: for SCMP_ACT_NOTIFY, which is refused.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub default_action: String,
    pub default_errno_ret: Option<u32>,
    pub architectures: Option<Vec<String>>,
    pub flags: Option<Vec<String>>,
    pub listener_path: Option<String>,
    pub listener_metadata: Option<String>,
    pub syscalls: Option<Vec<Syscall>>,
    /// Docker: the architectures to filter, chosen by the architecture the profile is used on.
    pub arch_map: Option<Vec<ArchMap>>,
}

#[allow(dead_code)] // comment
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Syscall {
    pub names: Option<Vec<String>>,
    #[serde(default)]
    pub action: String,
    pub errno_ret: Option<u32>,
    pub args: Option<Vec<Arg>>,
    /// Docker: the single-name form older profiles use.
    pub name: Option<String>,
    /// Docker: free text.
    pub comment: Option<String>,
    /// Docker: the rule applies only if all of these hold.
    pub includes: Option<Condition>,
    /// Docker: the rule is dropped if any of these holds.
    pub excludes: Option<Condition>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    pub caps: Option<Vec<String>>,
    pub arches: Option<Vec<String>>,
    pub min_kernel: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMap {
    pub architecture: String,
    pub sub_architectures: Option<Vec<String>>,
}

/// A rule of the rendered (OCI) profile, with where it came from for messages.
#[derive(Debug, Clone)]
pub struct Rule<'p> {
    /// Index in the input's `syscalls`.
    pub index: usize,
    /// Its names, each with where it is in the input.
    pub names: Vec<(String, Loc)>,
    pub syscall: &'p Syscall,
}

/// The profile Docker would hand to runc for this target, as references into the input.
#[derive(Debug)]
pub struct Rendered<'p> {
    /// `SCMP_ARCH_*` names, each with where it is in the input.
    pub architectures: Vec<(String, Loc)>,
    pub rules: Vec<Rule<'p>>,
}

/// Parses a profile from its JSON value; errors name where, below `at`.
pub fn parse(at: &Loc, value: &serde_json::Value) -> Result<Profile, String> {
    serde_path_to_error::deserialize::<_, Profile>(value).map_err(|e| {
        let path = e.path().to_string();
        let here = if path == "." { at.clone() } else { at.sub(&path) };
        crate::oci::one_line(format!("{here}: {}", e.into_inner()))
    })
}

/// Docker's evaluation of a profile for `target`, whose process has the bounding set
/// `bounding` (Docker checks capability conditions against `process.capabilities.bounding`).
/// Returns None when the profile disables seccomp (no default action and no syscalls).
///
/// - `archMap`: the entry whose `architecture` is the target's gives `architectures` (it and
///   its `subArchitectures`); none matching leaves `architectures` empty (only the target).
///   `architectures` and `archMap` together are an error.
/// - `excludes`: the rule is dropped if the target arch is listed, if any listed capability is
///   in the bounding set, or if the kernel is at least `minKernel`.
/// - `includes`: the rule is kept only if the target arch is listed (when arches are given),
///   every listed capability is in the bounding set, and the kernel is at least `minKernel`.
/// - `name` is the same as a one-element `names`; both together are an error.
pub fn render<'p>(
    at: &Loc,
    p: &'p Profile,
    bounding: &[String],
    target: &Target,
) -> Result<Option<Rendered<'p>>, String> {
    let syscalls = p.syscalls.as_deref().unwrap_or_default();
    if p.default_action.is_empty() && syscalls.is_empty() {
        return Ok(None);
    }
    let mut architectures: Vec<(String, Loc)> = (p.architectures.iter().flatten().enumerate())
        .map(|(i, a)| (a.clone(), at.sub(&format!("architectures[{i}]"))))
        .collect();
    if let Some(map) = &p.arch_map {
        if !architectures.is_empty() {
            return Err(format!("{at}: both architectures and archMap are given; use one of them"));
        }
        if let Some((j, m)) = map.iter().enumerate().find(|(_, m)| m.architecture == target.arch.oci()) {
            let here = at.sub(&format!("archMap[{j}]"));
            architectures.push((m.architecture.clone(), here.sub("architecture")));
            for (k, a) in m.sub_architectures.iter().flatten().enumerate() {
                architectures.push((a.clone(), here.sub(&format!("subArchitectures[{k}]"))));
            }
        }
    }
    let arch = target.arch.docker();
    let has_cap = |c: &String| bounding.contains(c);
    let mut rules = Vec::new();
    for (index, s) in syscalls.iter().enumerate() {
        let here = at.sub(&format!("syscalls[{index}]"));
        let names = match (s.name.as_deref().filter(|n| !n.is_empty()), &s.names) {
            (Some(_), Some(n)) if !n.is_empty() => {
                return Err(format!("{here}: both name and names are given; use one of them"))
            }
            (Some(name), _) => vec![(name.to_string(), here.sub("name"))],
            (None, names) => names
                .iter()
                .flatten()
                .enumerate()
                .map(|(j, n)| (n.clone(), here.sub(&format!("names[{j}]"))))
                .collect(),
        };
        if let Some(x) = &s.excludes {
            let newer = at_least(&here.sub("excludes.minKernel"), &x.min_kernel, target.kernel)?;
            if x.arches.iter().flatten().any(|a| a == arch)
                || x.caps.iter().flatten().any(has_cap)
                || newer == Some(true)
            {
                continue;
            }
        }
        if let Some(i) = &s.includes {
            let newer = at_least(&here.sub("includes.minKernel"), &i.min_kernel, target.kernel)?;
            let arches = i.arches.as_deref().unwrap_or_default();
            if (!arches.is_empty() && !arches.iter().any(|a| a == arch))
                || !i.caps.iter().flatten().all(has_cap)
                || newer == Some(false)
            {
                continue;
            }
        }
        rules.push(Rule { index, names, syscall: s });
    }
    Ok(Some(Rendered { architectures, rules }))
}

/// Whether `kernel` is at least the `minKernel` given ("X.Y"; empty means no condition).
fn at_least(at: &Loc, min: &Option<String>, kernel: KernelVersion) -> Result<Option<bool>, String> {
    let Some(min) = min.as_deref().filter(|m| !m.is_empty()) else { return Ok(None) };
    // Docker accepts exactly "<kernel>.<major>", each a number below 256, not "0.0".
    let v = match min.split_once('.') {
        Some((k, m)) if !m.contains('.') => k.parse::<u8>().ok().zip(m.parse::<u8>().ok()),
        _ => None,
    };
    match v {
        Some((k, m)) if (k, m) != (0, 0) => Ok(Some(kernel >= KernelVersion(k.into(), m.into()))),
        _ => Err(format!(
            "{at}: invalid kernel version {min:?}, expected \"<kernel>.<major>\" such as \"4.8\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::arch::Arch;
    use super::*;
    use serde_json::json;

    /// A profile file of its own, "p".
    fn p_at() -> Loc {
        Loc::new("p", "")
    }

    fn target(arch: Arch, k: u64, m: u64) -> Target {
        Target { arch, kernel: KernelVersion(k, m) }
    }

    fn rendered_names(v: serde_json::Value, caps: &[&str], t: Target) -> (Vec<String>, Vec<String>) {
        let p = parse(&p_at(), &v).unwrap();
        let caps: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
        let r = render(&p_at(), &p, &caps, &t).unwrap().unwrap();
        (
            r.architectures.into_iter().map(|a| a.0).collect(),
            r.rules.iter().flat_map(|r| r.names.iter().map(|n| n.0.clone())).collect(),
        )
    }

    #[test]
    fn docker_conditions() {
        let v = json!({"defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_CHOWN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
            {"name": "old", "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}}
        ]});
        let (arches, names) = rendered_names(v.clone(), &[], target(Arch::X86_64, 4, 4));
        assert_eq!(arches, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        assert_eq!(names, ["read", "arch_prctl", "clone", "old"]);
        let (arches, names) = rendered_names(v.clone(), &["CAP_SYS_ADMIN"], target(Arch::Aarch64, 6, 1));
        assert!(arches.is_empty(), "no archMap entry for aarch64 here");
        assert_eq!(names, ["read", "ptrace"]);
        let (arches, names) = rendered_names(v, &["CAP_SYS_ADMIN", "CAP_CHOWN"], target(Arch::Riscv64, 4, 8));
        assert_eq!(arches, ["SCMP_ARCH_RISCV64"]);
        assert_eq!(names, ["read", "ptrace", "mount", "old"]);
    }

    #[test]
    fn plain_oci_is_unchanged() {
        let v = json!({"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]});
        let (arches, names) = rendered_names(v, &[], target(Arch::Arm, 6, 1));
        assert_eq!(arches, ["SCMP_ARCH_X86"]);
        assert_eq!(names, ["read", "write"]);
    }

    #[test]
    fn disabled_and_malformed_profiles() {
        let t = target(Arch::X86_64, 6, 1);
        let p = parse(&p_at(), &json!({})).unwrap();
        assert!(render(&p_at(), &p, &[], &t).unwrap().is_none());
        let e = parse(
            &Loc::new("config.json", "linux.seccomp"),
            &json!({"defaultAction": "SCMP_ACT_ALLOW", "syscals": []}),
        )
        .unwrap_err();
        assert!(e.starts_with("config.json: linux.seccomp.syscals: unknown field `syscals`"), "{e}");
        let e = parse(
            &Loc::new("x", "linux.seccomp"),
            &json!({"syscalls": [{"names": ["a"], "args": [{"index": "0"}]}]}),
        )
        .unwrap_err();
        assert!(e.starts_with("x: linux.seccomp.syscalls[0].args[0].index: invalid type"), "{e}");
        let both =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": []});
        let p = parse(&p_at(), &both).unwrap();
        assert_eq!(
            render(&p_at(), &p, &[], &t).unwrap_err(),
            "p: both architectures and archMap are given; use one of them"
        );
        let p =
            parse(&p_at(), &json!({"syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}))
                .unwrap();
        assert_eq!(
            render(&p_at(), &p, &[], &t).unwrap_err(),
            "p: syscalls[0]: both name and names are given; use one of them"
        );
        for bad in ["4", "4.8.1", "0.0", "a.b", "256.1"] {
            let p = parse(&p_at(), &json!({"syscalls": [{"names": ["a"], "includes": {"minKernel": bad}}]}))
                .unwrap();
            let e = render(&p_at(), &p, &[], &t).unwrap_err();
            assert!(e.starts_with("p: syscalls[0].includes.minKernel: invalid kernel version"), "{bad}: {e}");
        }
    }
}
