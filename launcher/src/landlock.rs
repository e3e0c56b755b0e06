//! Landlock rules (docs/landlock.md): from setpriv-style and landrun-style flags, from the
//! `org.dmzkit.landlock` annotation of a config.json, from a unit's `landlock` table in init's
//! TOML, and back from a compiled config (`inspect`). dmz applies them (dmz/src/landlock.rs).

use serde::{Deserialize, Serialize};

/// The config.json annotation that carries a Landlock ruleset (the OCI spec has no field).
pub const ANNOTATION: &str = "org.dmzkit.landlock";

/// Every right dmz knows, by class, in bit order, with the ABI that added it
/// (include/uapi/linux/landlock.h, Documentation/userspace-api/landlock.rst).
pub const FS_RIGHTS: [(&str, u32); 16] = [
    ("execute", 1),
    ("write_file", 1),
    ("read_file", 1),
    ("read_dir", 1),
    ("remove_dir", 1),
    ("remove_file", 1),
    ("make_char", 1),
    ("make_dir", 1),
    ("make_reg", 1),
    ("make_sock", 1),
    ("make_fifo", 1),
    ("make_block", 1),
    ("make_sym", 1),
    ("refer", 2),
    ("truncate", 3),
    ("ioctl_dev", 5),
];
pub const NET_RIGHTS: [(&str, u32); 2] = [("bind_tcp", 4), ("connect_tcp", 4)];
pub const SCOPES: [(&str, u32); 2] = [("abstract_unix_socket", 6), ("signal", 6)];

/// The three classes: name, rights, in [`Ruleset::handled`]'s order.
const CLASSES: [(&str, &[(&str, u32)]); 3] = [("fs", &FS_RIGHTS), ("net", &NET_RIGHTS), ("scope", &SCOPES)];

/// Rights that apply to a file (not only to a directory): the kernel refuses a path-beneath
/// rule on a non-directory with any other right (landlock_add_rule(2) EINVAL).
pub const FILE_RIGHTS: u64 = 1 | 1 << 1 | 1 << 2 | 1 << 14 | 1 << 15;
const ALL_FS: u64 = (1 << FS_RIGHTS.len()) - 1;
const READ: u64 = 1 << 2 | 1 << 3;
const EXECUTE: u64 = 1;
/// landrun's --rw: everything but execute.
const READ_WRITE: u64 = ALL_FS & !EXECUTE;

/// A compiled ruleset: what dmz's config holds, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub best_effort: bool,
    /// Handled fs rights, net rights, scopes.
    pub handled: [u64; 3],
    pub paths: Vec<(String, u64)>,
    pub ports: Vec<(u16, u64)>,
}

/// The written form (annotation JSON, TOML table, `inspect --json`). Shorthands as landrun
/// names them expand into rules; `fs`, `net` and `scope` name the handled rights (default:
/// every fs right when there is a path rule, both TCP rights when there is a port rule).
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub best_effort: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ro: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rox: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rw: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rwx: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bind_tcp: Vec<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect_tcp: Vec<u16>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    pub path: String,
    pub access: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    pub port: u16,
    pub access: Vec<String>,
}

/// The bit of right `name` (setpriv's hyphens or the kernel's underscores, any case) in
/// `class`.
fn right(class: usize, name: &str) -> Result<u64, String> {
    let (cname, rights) = CLASSES[class];
    let n = name.trim().to_ascii_lowercase().replace('-', "_");
    rights.iter().position(|(r, _)| *r == n).map(|i| 1 << i).ok_or_else(|| {
        let known: Vec<&str> = rights.iter().map(|(r, _)| *r).collect();
        format!("unknown {cname} right {name:?} (known: {})", known.join(", "))
    })
}

fn rights(class: usize, names: &[String]) -> Result<u64, String> {
    names.iter().try_fold(0, |m, n| Ok(m | right(class, n)?))
}

/// The names of the rights in `mask` of `class`.
pub fn names(class: usize, mask: u64) -> Vec<String> {
    let rights = CLASSES[class].1;
    let mut v: Vec<String> = rights
        .iter()
        .enumerate()
        .filter(|(i, _)| mask >> i & 1 != 0)
        .map(|(_, (n, _))| n.to_string())
        .collect();
    let unknown = mask & !((1u64 << rights.len()) - 1);
    if unknown != 0 {
        v.push(format!("{unknown:#x}"));
    }
    v
}

fn absolute(at: &str, path: &str) -> Result<String, String> {
    if !path.starts_with('/') || path.contains('\0') {
        return Err(format!("{at}: {path:?} is not an absolute path"));
    }
    Ok(path.to_string())
}

/// A shorthand's rights on `path`: on an existing non-directory, only the rights that apply to
/// files (the kernel refuses the others there).
fn shorthand(path: &str, access: u64) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => access & FILE_RIGHTS,
        _ => access,
    }
}

impl Spec {
    /// Adds this spec to `r` (`at` names the input in messages).
    pub fn apply(&self, at: &str, r: &mut Ruleset) -> Result<(), String> {
        r.best_effort |= self.best_effort;
        let has_paths = !(self.paths.is_empty()
            && self.ro.is_empty()
            && self.rox.is_empty()
            && self.rw.is_empty()
            && self.rwx.is_empty());
        let has_ports = !(self.ports.is_empty() && self.bind_tcp.is_empty() && self.connect_tcp.is_empty());
        match &self.fs {
            Some(v) => r.handled[0] |= rights(0, v).map_err(|e| format!("{at}.fs: {e}"))?,
            None if has_paths => r.handled[0] |= ALL_FS,
            None => {}
        }
        match &self.net {
            Some(v) => r.handled[1] |= rights(1, v).map_err(|e| format!("{at}.net: {e}"))?,
            None if has_ports => r.handled[1] |= 3,
            None => {}
        }
        r.handled[2] |= rights(2, &self.scope).map_err(|e| format!("{at}.scope: {e}"))?;
        for (i, p) in self.paths.iter().enumerate() {
            let at = format!("{at}.paths[{i}]");
            let access = rights(0, &p.access).map_err(|e| format!("{at}.access: {e}"))?;
            r.paths.push((absolute(&at, &p.path)?, access));
        }
        for (key, list, access) in [
            ("ro", &self.ro, READ),
            ("rox", &self.rox, READ | EXECUTE),
            ("rw", &self.rw, READ_WRITE),
            ("rwx", &self.rwx, ALL_FS),
        ] {
            for (i, p) in list.iter().enumerate() {
                let path = absolute(&format!("{at}.{key}[{i}]"), p)?;
                let access = shorthand(&path, access);
                r.paths.push((path, access));
            }
        }
        for (i, p) in self.ports.iter().enumerate() {
            let access = rights(1, &p.access).map_err(|e| format!("{at}.ports[{i}].access: {e}"))?;
            r.ports.push((p.port, access));
        }
        r.ports.extend(self.bind_tcp.iter().map(|&p| (p, 1)));
        r.ports.extend(self.connect_tcp.iter().map(|&p| (p, 2)));
        r.check(at)
    }
}

impl Ruleset {
    /// Refuses what dmz or the kernel would refuse: a rule allowing a right the ruleset does not
    /// handle (landlock_add_rule(2) EINVAL), a rule with no rights (ENOMSG), too many rules, a
    /// ruleset that handles nothing (landlock_create_ruleset(2) ENOMSG).
    pub fn check(&self, at: &str) -> Result<(), String> {
        if self.handled == [0; 3] {
            return Err(format!("{at}: handles no right (name fs, net or scope rights, or give rules)"));
        }
        for (path, access) in &self.paths {
            let extra = access & !self.handled[0];
            if extra != 0 {
                return Err(format!("{at}: rule for {path}: not handled: {}", names(0, extra).join(", ")));
            }
            if *access == 0 {
                return Err(format!("{at}: rule for {path}: no rights"));
            }
        }
        for (port, access) in &self.ports {
            let extra = access & !self.handled[1];
            if extra != 0 {
                return Err(format!(
                    "{at}: rule for port {port}: not handled: {}",
                    names(1, extra).join(", ")
                ));
            }
            if *access == 0 {
                return Err(format!("{at}: rule for port {port}: no rights"));
            }
        }
        use dmz::landlock::{MAX_PATH_RULES, MAX_PORT_RULES};
        if self.paths.len() > MAX_PATH_RULES || self.ports.len() > MAX_PORT_RULES {
            return Err(format!("{at}: at most {MAX_PATH_RULES} path rules and {MAX_PORT_RULES} port rules"));
        }
        Ok(())
    }

    /// The explicit written form (no shorthands): what `inspect --json` shows and
    /// `compile --from-json` reads back into the same ruleset.
    pub fn to_spec(&self) -> Spec {
        Spec {
            best_effort: self.best_effort,
            fs: Some(names(0, self.handled[0])),
            net: Some(names(1, self.handled[1])),
            scope: names(2, self.handled[2]),
            paths: self
                .paths
                .iter()
                .map(|(p, a)| PathSpec { path: p.clone(), access: names(0, *a) })
                .collect(),
            ports: self.ports.iter().map(|(p, a)| PortSpec { port: *p, access: names(1, *a) }).collect(),
            ..Spec::default()
        }
    }

    /// From dmz's decoded form.
    pub fn from_config(l: &dmz::landlock::Landlock) -> Self {
        let paths = dmz::config::strings(l.paths.0).map(|p| String::from_utf8_lossy(p).into_owned());
        Ruleset {
            best_effort: l.best_effort,
            handled: l.handled,
            paths: paths.zip(l.path_access.iter().map(|&a| a as u64)).collect(),
            ports: l.ports.iter().map(|&r| (r as u16, (r >> 16) as u64)).collect(),
        }
    }

    /// The NUL-terminated path list of dmz's config.
    pub fn path_list(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, _) in &self.paths {
            out.extend(p.bytes().chain([0]));
        }
        out
    }

    /// One line for `inspect` and `check`.
    pub fn summary(&self) -> String {
        let mut parts = vec![if self.best_effort { "best-effort" } else { "strict" }.to_string()];
        for (class, (name, _)) in CLASSES.iter().enumerate() {
            if self.handled[class] != 0 {
                parts.push(format!("{name} [{}]", names(class, self.handled[class]).join(" ")));
            }
        }
        for (p, a) in &self.paths {
            parts.push(format!("{p}: {}", names(0, *a).join(" ")));
        }
        for (p, a) in &self.ports {
            parts.push(format!("port {p}: {}", names(1, *a).join(" ")));
        }
        parts.join("; ")
    }

    /// The handled rights this kernel's ABI lacks (by name), as dmz judges them.
    pub fn missing(&self, abi: u32) -> Vec<String> {
        let mut out = Vec::new();
        for (class, (_, rights)) in CLASSES.iter().enumerate() {
            for (i, (name, since)) in rights.iter().enumerate() {
                if self.handled[class] >> i & 1 != 0 && *since > abi {
                    out.push(format!("{name} (ABI {since})"));
                }
            }
        }
        out
    }
}

/// The running kernel's Landlock ABI: landlock_create_ruleset(NULL, 0,
/// LANDLOCK_CREATE_RULESET_VERSION); 0 without Landlock (or when a seccomp filter of the
/// caller refuses the call).
pub fn abi() -> u32 {
    use linux_raw_sys::general::__NR_landlock_create_ruleset;
    use linux_raw_sys::landlock::LANDLOCK_CREATE_RULESET_VERSION;
    // SAFETY: the version query reads no memory (NULL attr, size 0).
    let v = unsafe {
        libc::syscall(
            __NR_landlock_create_ruleset as libc::c_long,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0) as u32
}

/// What `launcher check` says about the ruleset of `c` on this machine: the kernel's ABI and
/// the rights it lacks (dropped in best-effort mode, refused in strict mode), missing paths,
/// rules the kernel would refuse, the privilege restrict_self needs, and whether the program
/// (`program`, resolved as dmz will) may be executed.
pub fn findings(
    c: &crate::oci::Compiled,
    has_sys_admin: bool,
    program: Option<&std::path::Path>,
) -> Vec<crate::check::Finding> {
    use crate::check::Finding::{Fail, Ok, Warn};
    let Some(r) = &c.landlock else { return Vec::new() };
    let mut out = vec![Ok(format!("landlock: will apply: {}", r.summary()))];
    let abi = abi();
    let missing = r.missing(abi);
    let mode = if r.best_effort {
        "best-effort drops them"
    } else {
        "strict mode refuses to run (dmz would exit 125)"
    };
    out.push(match (abi, missing.is_empty()) {
        (0, _) if r.best_effort => {
            Warn("landlock: this kernel has no Landlock (ABI 0): best-effort applies nothing".into())
        }
        (0, _) => Fail(
            "landlock: this kernel has no Landlock (ABI 0): strict mode refuses to run (dmz would exit 125)"
                .into(),
        ),
        (_, true) => Ok(format!("landlock: kernel ABI {abi} enforces every handled right")),
        (_, false) if r.best_effort => {
            Warn(format!("landlock: kernel ABI {abi} lacks {}: {mode}", missing.join(", ")))
        }
        (_, false) => Fail(format!("landlock: kernel ABI {abi} lacks {}: {mode}", missing.join(", "))),
    });
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if abi == 0 && status.lines().any(|l| l.split_whitespace().eq(["Seccomp:", "2"])) {
        out.push(Warn(
            "landlock: this process runs under a seccomp filter, which may refuse the landlock syscalls"
                .into(),
        ));
    }
    for (path, access) in &r.paths {
        match std::fs::metadata(path) {
            Err(e) => out.push(Fail(format!("landlock: {path}: {e} (dmz would exit 125)"))),
            std::result::Result::Ok(m) if !m.is_dir() && access & !FILE_RIGHTS & r.handled[0] != 0 => out.push(Fail(format!(
                "landlock: {path} is not a directory: the kernel refuses {} on it (EINVAL, dmz would exit 125)",
                names(0, access & !FILE_RIGHTS).join(", ")
            ))),
            _ => {}
        }
    }
    if !c.no_new_privs && !has_sys_admin {
        out.push(Fail(
            "landlock without no_new_privs needs CAP_SYS_ADMIN (dmz enforces it before the uid change), which this caller lacks"
                .into(),
        ));
    }
    if r.handled[0] & EXECUTE != 0 && abi > 0 {
        if let Some(prog) = program {
            // Landlock judges the file the path resolves to: compare resolved paths.
            let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            let prog = real(prog);
            let allowed = r
                .paths
                .iter()
                .any(|(p, a)| a & EXECUTE != 0 && prog.starts_with(real(std::path::Path::new(p))));
            if !allowed {
                out.push(Fail(format!(
                    "landlock: execute is handled but {} is beneath no rule allowing it: exec would fail (EACCES, exit 126)",
                    prog.display()
                )));
            }
        }
    }
    out
}

/// setpriv's and landrun's flags (`launcher run --ro /usr --rw /var/log/www --bind-tcp 80`).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Flags {
    /// Landlock: handle these rights (setpriv): fs, fs:RIGHT,..., net[:RIGHTS], scope[:SCOPES].
    /// Handled rights are denied except where a rule allows them. Repeatable.
    #[arg(long, value_name = "CLASS[:RIGHTS]")]
    pub landlock_access: Vec<String>,
    /// Landlock rule (setpriv): path-beneath:RIGHTS:PATH or net-port:RIGHTS:PORT. Repeatable.
    #[arg(long, value_name = "KIND:RIGHTS:WHAT")]
    pub landlock_rule: Vec<String>,
    /// Landlock (landrun): read PATH and what is beneath it. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub ro: Vec<String>,
    /// Landlock: read and execute beneath PATH.
    #[arg(long, value_name = "PATH")]
    pub rox: Vec<String>,
    /// Landlock: read, write, create and remove beneath PATH (not execute).
    #[arg(long, value_name = "PATH")]
    pub rw: Vec<String>,
    /// Landlock: everything beneath PATH, execute included.
    #[arg(long, value_name = "PATH")]
    pub rwx: Vec<String>,
    /// Landlock: may bind this TCP port (all other binds and connects refused, Linux ≥ 6.7).
    #[arg(long, value_name = "PORT")]
    pub bind_tcp: Vec<u16>,
    /// Landlock: may connect to this TCP port.
    #[arg(long, value_name = "PORT")]
    pub connect_tcp: Vec<u16>,
    /// Landlock: drop the rights this kernel lacks instead of refusing to run.
    #[arg(long)]
    pub best_effort: bool,
}

impl Flags {
    /// Adds the flags' rules to `r` (a ruleset is created if there is none).
    pub fn apply(&self, r: &mut Option<Ruleset>) -> Result<(), String> {
        let mut spec = Spec {
            best_effort: self.best_effort,
            ro: self.ro.clone(),
            rox: self.rox.clone(),
            rw: self.rw.clone(),
            rwx: self.rwx.clone(),
            bind_tcp: self.bind_tcp.clone(),
            connect_tcp: self.connect_tcp.clone(),
            ..Spec::default()
        };
        let mut explicit = [0u64; 3];
        for a in &self.landlock_access {
            let (class, list) = a.split_once(':').map_or((a.as_str(), None), |(c, l)| (c, Some(l)));
            let k = CLASSES
                .iter()
                .position(|(n, _)| *n == class)
                .ok_or_else(|| format!("--landlock-access {a:?}: expected fs, net or scope[:RIGHTS]"))?;
            explicit[k] |= match list {
                None => (1 << CLASSES[k].1.len()) - 1,
                Some(l) => l
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .try_fold(0, |m, n| Ok::<u64, String>(m | right(k, n)?))
                    .map_err(|e| format!("--landlock-access {a:?}: {e}"))?,
            };
        }
        for rule in &self.landlock_rule {
            let bad = |m: String| format!("--landlock-rule {rule:?}: {m}");
            let mut parts = rule.splitn(3, ':');
            let (kind, list, what) = match (parts.next(), parts.next(), parts.next()) {
                (Some(k), Some(l), Some(w)) => (k, l, w),
                _ => return Err(bad("expected path-beneath:RIGHTS:PATH or net-port:RIGHTS:PORT".into())),
            };
            let access: Vec<String> = list.split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            match kind {
                "path-beneath" => spec.paths.push(PathSpec { path: what.to_string(), access }),
                "net-port" => spec.ports.push(PortSpec {
                    port: what.parse().map_err(|_| bad(format!("{what:?} is not a port number")))?,
                    access,
                }),
                _ => return Err(bad(format!("unknown rule type {kind:?}"))),
            }
        }
        let any = spec != Spec { best_effort: self.best_effort, ..Spec::default() } || explicit != [0; 3];
        if !any {
            if self.best_effort {
                if let Some(r) = r {
                    r.best_effort = true;
                    return Ok(());
                }
                return Err("--best-effort: no Landlock rules given".into());
            }
            return Ok(());
        }
        // Explicit --landlock-access replaces the defaults of the classes it names.
        if explicit[0] != 0 {
            spec.fs = Some(names(0, explicit[0]));
        }
        if explicit[1] != 0 {
            spec.net = Some(names(1, explicit[1]));
        }
        spec.scope = names(2, explicit[2]);
        let r = r.get_or_insert_with(Ruleset::default);
        spec.apply("landlock flags", r)
    }
}

/// The annotation of a config.json, if present: its value is a JSON document (a string, as
/// the OCI spec requires annotation values to be).
pub fn from_annotations(file: &str, root: &serde_json::Value) -> Result<Option<Ruleset>, String> {
    let Some(v) = root.get("annotations").and_then(|a| a.get(ANNOTATION)) else { return Ok(None) };
    let at = format!("{file}: annotations[\"{ANNOTATION}\"]");
    let text = v.as_str().ok_or_else(|| format!("{at}: expected a string holding JSON"))?;
    let de = &mut serde_json::Deserializer::from_str(text);
    let spec: Spec =
        serde_path_to_error::deserialize(de).map_err(|e| format!("{at}: {}: {}", e.path(), e.inner()))?;
    let mut r = Ruleset::default();
    spec.apply(&at, &mut r)?;
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: impl FnOnce(&mut Flags)) -> Result<Option<Ruleset>, String> {
        let mut fl = Flags::default();
        f(&mut fl);
        let mut r = None;
        fl.apply(&mut r).map(|()| r)
    }

    #[test]
    fn landrun_shorthands() {
        let r = flags(|f| {
            f.ro = vec!["/usr".into()];
            f.rw = vec!["/nonexistent/log".into()];
            f.bind_tcp = vec![80];
        })
        .unwrap()
        .unwrap();
        assert!(!r.best_effort);
        assert_eq!(r.handled, [0xffff, 3, 0]);
        assert_eq!(r.paths, vec![("/usr".into(), READ), ("/nonexistent/log".into(), 0xfffe)]);
        assert_eq!(r.ports, vec![(80, 1)]);
        // On a file, a shorthand keeps only the rights that apply to files.
        let r = flags(|f| f.ro = vec!["/etc/hostname".into()]).unwrap().unwrap();
        assert_eq!(r.paths, vec![("/etc/hostname".into(), 1 << 2)]);
    }

    #[test]
    fn setpriv_flags() {
        let r = flags(|f| {
            f.landlock_access = vec!["fs:read-file,read-dir,execute".into(), "net:bind-tcp".into()];
            f.landlock_rule =
                vec!["path-beneath:read-file,read-dir:/usr".into(), "net-port:bind_tcp:8080".into()];
            f.best_effort = true;
        })
        .unwrap()
        .unwrap();
        assert!(r.best_effort);
        assert_eq!(r.handled, [1 | READ, 1, 0]);
        assert_eq!(r.paths, vec![("/usr".into(), READ)]);
        assert_eq!(r.ports, vec![(8080, 1)]);
        let r = flags(|f| f.landlock_access = vec!["fs".into(), "scope".into()]).unwrap().unwrap();
        assert_eq!(r.handled, [0xffff, 0, 3]);
        let err = |f: fn(&mut Flags)| flags(f).unwrap_err();
        assert_eq!(
            err(|f| f.landlock_access = vec!["fs:read-fil".into()]),
            "--landlock-access \"fs:read-fil\": unknown fs right \"read-fil\" (known: execute, write_file, read_file, read_dir, remove_dir, remove_file, make_char, make_dir, make_reg, make_sock, make_fifo, make_block, make_sym, refer, truncate, ioctl_dev)"
        );
        assert_eq!(
            err(|f| {
                f.landlock_access = vec!["fs:read-file".into()];
                f.landlock_rule = vec!["path-beneath:read-file,write-file:/srv".into()];
            }),
            "landlock flags: rule for /srv: not handled: write_file"
        );
        assert_eq!(
            err(|f| f.landlock_rule = vec!["path-beneath:read-file:srv".into()]),
            "landlock flags.paths[0]: \"srv\" is not an absolute path"
        );
        assert_eq!(
            err(|f| f.landlock_rule = vec!["net-port:bind-tcp:http".into()]),
            "--landlock-rule \"net-port:bind-tcp:http\": \"http\" is not a port number"
        );
        assert_eq!(err(|f| f.best_effort = true), "--best-effort: no Landlock rules given");
        assert_eq!(flags(|_| {}), Ok(None));
    }

    #[test]
    fn annotation() {
        let doc = serde_json::json!({"annotations": {ANNOTATION: r#"{"ro": ["/usr"], "bind_tcp": [80], "best_effort": true}"#}});
        let r = from_annotations("config.json", &doc).unwrap().unwrap();
        assert!(r.best_effort);
        assert_eq!(r.ports, vec![(80, 1)]);
        let doc = serde_json::json!({"annotations": {ANNOTATION: r#"{"rO": ["/usr"]}"#}});
        let e = from_annotations("config.json", &doc).unwrap_err();
        assert!(
            e.starts_with("config.json: annotations[\"org.dmzkit.landlock\"]: rO: unknown field `rO`"),
            "{e}"
        );
        let doc = serde_json::json!({"annotations": {ANNOTATION: {"ro": ["/usr"]}}});
        assert_eq!(
            from_annotations("c.json", &doc).unwrap_err(),
            "c.json: annotations[\"org.dmzkit.landlock\"]: expected a string holding JSON"
        );
        assert_eq!(from_annotations("c.json", &serde_json::json!({})), Ok(None));
    }

    #[test]
    fn explicit_form_round_trips() {
        let r = flags(|f| {
            f.rox = vec!["/usr".into()];
            f.connect_tcp = vec![443];
            f.landlock_access = vec!["scope:signal".into()];
        })
        .unwrap()
        .unwrap();
        let mut back = Ruleset::default();
        r.to_spec().apply("x", &mut back).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            r.missing(3),
            vec!["ioctl_dev (ABI 5)", "bind_tcp (ABI 4)", "connect_tcp (ABI 4)", "signal (ABI 6)"]
        );
    }
}
