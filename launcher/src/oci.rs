//! OCI runtime-spec `config.json` → the dmz config.
//!
//! Only the `process` object is applied (dmz runs the process in the caller's root and
//! namespaces); every other section present is named once as not applied. Unknown fields
//! inside `process` are errors, not silently ignored: a misspelt `noNewPrivileges` must not
//! quietly run a service with more privilege than intended.

use crate::names::{cap_number, rlimit_number};
use crate::wire;
use dmz::config::{MAX_ID, MAX_UMASK, OOM_SCORE_ADJ};
use serde::Deserialize;
use serde_json::Value;

// Fields dmz does not apply are still declared, so deny_unknown_fields recognises them; they
// are reported as not applied from the raw JSON.
#[allow(dead_code)]
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Process {
    pub terminal: Option<bool>,
    pub console_size: Option<Value>,
    #[serde(default)]
    pub user: User,
    pub args: Option<Vec<String>>,
    pub command_line: Option<String>,
    pub env: Option<Vec<String>>,
    pub cwd: Option<String>,
    pub capabilities: Option<Capabilities>,
    pub rlimits: Option<Vec<Rlimit>>,
    pub no_new_privileges: Option<bool>,
    pub apparmor_profile: Option<String>,
    pub oom_score_adj: Option<i32>,
    pub selinux_label: Option<String>,
    pub scheduler: Option<Value>,
    pub io_priority: Option<Value>,
    #[serde(rename = "execCPUAffinity")]
    pub exec_cpu_affinity: Option<Value>,
}

#[allow(dead_code)] // username: Windows only in the OCI spec.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Option<Vec<u32>>,
    pub username: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub bounding: Option<Vec<String>>,
    pub effective: Option<Vec<String>>,
    pub inheritable: Option<Vec<String>>,
    pub permitted: Option<Vec<String>>,
    pub ambient: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

/// A parsed config.json: its `process` and the names of what dmz does not apply.
pub struct Spec {
    pub process: Process,
    pub not_applied: Vec<String>,
    /// `linux.seccomp`, if present.
    pub seccomp: Option<Value>,
}

/// Top-level sections that describe the container, not the process.
const CONTAINER_SECTIONS: &[&str] = &[
    "root",
    "mounts",
    "hostname",
    "domainname",
    "hooks",
    "annotations",
    "linux",
    "solaris",
    "windows",
    "vm",
    "zos",
];

/// Fields of `process` that dmz does not apply.
const PROCESS_NOT_APPLIED: &[&str] = &[
    "terminal",
    "consoleSize",
    "commandLine",
    "apparmorProfile",
    "selinuxLabel",
    "scheduler",
    "ioPriority",
    "execCPUAffinity",
];

/// `msg` with its control characters escaped (`\n` for a newline): a key or value of the
/// input quoted in a message cannot split it over lines.
pub fn one_line(msg: String) -> String {
    if !msg.chars().any(char::is_control) {
        return msg;
    }
    msg.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Parses `text` (named `file` in messages). Errors name the file and the JSON path.
pub fn parse(file: &str, text: &str) -> Result<Spec, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("{file}: invalid JSON: {e}"))?;
    let Value::Object(map) = &root else {
        return Err(format!("{file}: expected a JSON object at the top level"));
    };
    let process = match map.get("process") {
        None => return Err(format!("{file}: process: missing")),
        Some(p) => serde_path_to_error::deserialize::<_, Process>(p.clone()).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "process".to_string() } else { format!("process.{path}") };
            one_line(format!("{file}: {path}: {}", e.into_inner()))
        })?,
    };
    let mut not_applied = Vec::new();
    for (key, value) in map {
        if key == "linux" {
            if let Value::Object(linux) = value {
                not_applied.extend(linux.keys().filter(|k| *k != "seccomp").map(|k| format!("linux.{k}")));
            }
        } else if CONTAINER_SECTIONS.contains(&key.as_str()) {
            not_applied.push(key.clone());
        }
    }
    if let Value::Object(p) = &map["process"] {
        not_applied.extend(
            p.keys().filter(|k| PROCESS_NOT_APPLIED.contains(&k.as_str())).map(|k| format!("process.{k}")),
        );
    }
    let seccomp = map.get("linux").and_then(|l| l.get("seccomp")).cloned();
    Ok(Spec { process, not_applied, seccomp })
}

/// Everything the dmz config holds, owned: the serde type whose encoding is the file
/// ([`wire::Dmz::encode`] makes the blob).
pub type Compiled = wire::Dmz;

/// Sets `KEY=VALUE` in `env` the way runc does (os.Setenv): a repeated name keeps its first
/// position and takes the last value. runc refuses an entry without '=' or with an empty name.
pub fn set_env(env: &mut Vec<String>, entry: &str) -> Result<(), String> {
    let key = match entry.split_once('=') {
        None => return Err(format!("{entry:?} is not KEY=VALUE")),
        Some(("", _)) => return Err(format!("{entry:?} has an empty name")),
        Some(_) if entry.contains('\0') => return Err("contains NUL".into()),
        Some((k, _)) => k,
    };
    match env.iter_mut().find(|x| x.split_once('=').is_some_and(|(k, _)| k == key)) {
        Some(slot) => *slot = entry.to_string(),
        None => env.push(entry.to_string()),
    }
    Ok(())
}

/// `id` if it is at most [`MAX_ID`]; the error is the rest of a message naming the field.
pub fn check_id(id: u32) -> Result<u32, String> {
    if id > MAX_ID {
        return Err(format!("{id} is above {MAX_ID}, the largest id runc accepts"));
    }
    Ok(id)
}

/// runc's umask when the config has none (libcontainer: `unix.Umask(0o022)`).
pub const DEFAULT_UMASK: u32 = 0o022;

/// Turns the `process` object into what dmz applies. `file` names the input in messages.
/// Combinations the kernel would refuse are judged afterwards, on the final settings
/// (`consistency`).
pub fn compile(file: &str, p: &Process) -> Result<Compiled, String> {
    let at = |path: &str, msg: String| format!("{file}: process.{path}: {msg}");
    let args = p.args.clone().unwrap_or_default();
    if args.is_empty() {
        return Err(at("args", "must not be empty".into()));
    }
    for (i, a) in args.iter().enumerate() {
        if a.contains('\0') {
            return Err(at(&format!("args[{i}]"), "contains NUL".into()));
        }
    }
    if args[0].is_empty() {
        return Err(at("args[0]", "empty program name".into()));
    }
    let mut env: Vec<String> = Vec::new();
    for (i, e) in p.env.iter().flatten().enumerate() {
        set_env(&mut env, e).map_err(|m| at(&format!("env[{i}]"), m))?;
    }
    let cwd = match &p.cwd {
        None => return Err(at("cwd", "missing (the OCI spec requires an absolute path)".into())),
        Some(c) if !c.starts_with('/') => return Err(at("cwd", format!("{c:?} is not an absolute path"))),
        Some(c) if c.contains('\0') => return Err(at("cwd", "contains NUL".into())),
        Some(c) => Some(c.clone()),
    };
    check_id(p.user.uid).map_err(|m| at("user.uid", m))?;
    check_id(p.user.gid).map_err(|m| at("user.gid", m))?;
    // runc drops repeated additional gids (the kernel would keep them).
    let mut groups: Vec<u32> = Vec::new();
    for (i, &g) in p.user.additional_gids.iter().flatten().enumerate() {
        check_id(g).map_err(|m| at(&format!("user.additionalGids[{i}]"), m))?;
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    if groups.len() > dmz::config::MAX_GROUPS {
        return Err(at(
            "user.additionalGids",
            format!("{} groups, at most {}", groups.len(), dmz::config::MAX_GROUPS),
        ));
    }
    let umask = p.user.umask.unwrap_or(DEFAULT_UMASK);
    if umask > MAX_UMASK {
        return Err(at("user.umask", format!("{umask:#o} is above {MAX_UMASK:#o}")));
    }
    // Without a `capabilities` object runc gives the process empty sets, bounding included.
    let caps = Some(compile_caps(file, p.capabilities.as_ref().unwrap_or(&Capabilities::default()))?);
    let mut rlimits: Vec<wire::Rlimit> = Vec::new();
    for (i, r) in p.rlimits.iter().flatten().enumerate() {
        let path = format!("rlimits[{i}]");
        let resource = rlimit_number(&r.kind).map_err(|m| at(&format!("{path}.type"), m))?;
        if rlimits.iter().any(|x| x.resource == resource) {
            return Err(at(&format!("{path}.type"), format!("duplicate rlimit {:?}", r.kind)));
        }
        if r.soft > r.hard {
            return Err(at(&path, format!("soft limit {} is above hard limit {}", r.soft, r.hard)));
        }
        rlimits.push(wire::Rlimit { resource, soft: r.soft, hard: r.hard });
    }
    if let Some(adj) = p.oom_score_adj {
        if !OOM_SCORE_ADJ.contains(&adj) {
            return Err(at("oomScoreAdj", format!("{adj} is outside {OOM_SCORE_ADJ:?}")));
        }
    }
    Ok(Compiled {
        args,
        env,
        cwd,
        uid: Some(p.user.uid),
        gid: Some(p.user.gid),
        groups: Some(groups),
        chown_stdio: true,
        umask,
        caps,
        securebits: None,
        no_new_privs: p.no_new_privileges.unwrap_or(false),
        rlimits,
        oom_score_adj: p.oom_score_adj,
        preserve_fds: Vec::new(),
        seccomp: None,
    })
}

fn compile_caps(file: &str, c: &Capabilities) -> Result<wire::Caps, String> {
    let mask = |name: &str, list: &Option<Vec<String>>| -> Result<u64, String> {
        let mut m = 0u64;
        for (i, cap) in list.iter().flatten().enumerate() {
            let n =
                cap_number(cap).map_err(|msg| format!("{file}: process.capabilities.{name}[{i}]: {msg}"))?;
            m |= 1 << n;
        }
        Ok(m)
    };
    let caps = wire::Caps {
        bounding: mask("bounding", &c.bounding)?,
        effective: mask("effective", &c.effective)?,
        permitted: mask("permitted", &c.permitted)?,
        inheritable: mask("inheritable", &c.inheritable)?,
        ambient: mask("ambient", &c.ambient)?,
    };
    Ok(caps)
}

/// runc sets HOME from the user's passwd entry when the config's env has none or an empty one
/// ("/" if the user has no entry). dmz runs on the caller's root, so that is the host's
/// /etc/passwd.
pub fn add_home(c: &mut Compiled) {
    if c.env.iter().any(|e| e.starts_with("HOME=") && e.len() > "HOME=".len()) {
        return;
    }
    c.env.retain(|e| e != "HOME=");
    let uid = c.uid.unwrap_or_else(|| rustix::process::getuid().as_raw());
    c.env.push(format!("HOME={}", crate::passwd::home(uid).unwrap_or_else(|| "/".into())));
}
