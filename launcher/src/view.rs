//! The readable form of a compiled config: `launcher inspect` prints it (as text, or as JSON
//! with --json), and `launcher compile --from-json` turns that JSON back into the same blob.

use crate::flags::{securebit_names, securebits_from_names};
use crate::names::{cap_names, cap_number, rlimit_number, RLIMITS};
use crate::oci::Compiled;
use crate::wire::{Caps, Rlimit, Seccomp};
use dmz::config::{strings, Config};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct View {
    pub format_version: u32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: UserView,
    /// Whether fds 0–2 are given to the uid before the uid change (runc's rule, OCI sources).
    pub chown_stdio: bool,
    pub capabilities: Option<CapsView>,
    pub securebits: Option<Vec<String>>,
    pub no_new_privileges: bool,
    pub rlimits: Vec<RlimitView>,
    pub oom_score_adj: Option<i32>,
    pub preserve_fds: Vec<u32>,
    pub seccomp: Option<SeccompView>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserView {
    /// `null`: left as it is.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub additional_gids: Option<Vec<u32>>,
    /// Octal, e.g. "0022".
    pub umask: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapsView {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub inheritable: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RlimitView {
    #[serde(rename = "type")]
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeccompView {
    pub flags: u32,
    pub instructions: usize,
    /// The architectures the program checks for (from its `seccomp_data.arch` tests); must
    /// match the program when given.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// The BPF program, hex, in the target architecture's byte order.
    pub program: String,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes `blob` with dmz's own decoder; the error reads like dmz's message.
pub fn decode(blob: &[u8]) -> Result<View, String> {
    let c = Config::decode(blob).map_err(|e| {
        let mut line = dmz::error::Line::default();
        e.write_message(&mut line, b"");
        let msg = String::from_utf8_lossy(line.as_bytes()).trim_end().to_string();
        msg.strip_prefix("dmz: unable to ").unwrap_or(&msg).to_string()
    })?;
    let rlimit_name = |r: &dmz::config::Rlimit| {
        RLIMITS.get(r.resource as usize).map_or_else(|| r.resource.to_string(), |s| s.to_string())
    };
    Ok(View {
        format_version: dmz::config::VERSION,
        args: strings(c.args.0).map(text).collect(),
        env: strings(c.env.0).map(text).collect(),
        cwd: strings(c.cwd.0).next().map(text),
        user: UserView {
            uid: c.uid,
            gid: c.gid,
            additional_gids: c.groups.map(|g| g.to_vec()),
            umask: format!("{:04o}", c.umask),
        },
        chown_stdio: c.chown_stdio,
        capabilities: c.caps.map(|k| CapsView {
            bounding: cap_names(k.bounding),
            effective: cap_names(k.effective),
            permitted: cap_names(k.permitted),
            inheritable: cap_names(k.inheritable),
            ambient: cap_names(k.ambient),
        }),
        securebits: c.securebits.map(|b| securebit_names(b).into_iter().map(String::from).collect()),
        no_new_privileges: c.no_new_privs,
        rlimits: c
            .rlimits
            .iter()
            .map(|r| RlimitView { kind: rlimit_name(r), soft: r.soft, hard: r.hard })
            .collect(),
        oom_score_adj: c.oom_score_adj,
        preserve_fds: c.preserve_fds.to_vec(),
        seccomp: c.seccomp.map(|s| SeccompView {
            flags: s.flags,
            instructions: s.program.0.len() / 8,
            architectures: crate::seccomp::program_arches(s.program.0),
            program: s.program.0.iter().map(|b| format!("{b:02x}")).collect(),
        }),
    })
}

impl View {
    /// Back to what dmz applies (for `compile --from-json`).
    pub fn to_compiled(&self) -> Result<Compiled, String> {
        if self.format_version != dmz::config::VERSION {
            return Err(format!(
                "formatVersion: {} is not this launcher's format version {}",
                self.format_version,
                dmz::config::VERSION
            ));
        }
        let mask = |field: &str, names: &[String]| -> Result<u64, String> {
            names.iter().enumerate().try_fold(0u64, |m, (i, n)| {
                cap_number(n).map(|c| m | 1 << c).map_err(|e| format!("capabilities.{field}[{i}]: {e}"))
            })
        };
        let caps = match &self.capabilities {
            None => None,
            Some(k) => Some(Caps {
                bounding: mask("bounding", &k.bounding)?,
                effective: mask("effective", &k.effective)?,
                permitted: mask("permitted", &k.permitted)?,
                inheritable: mask("inheritable", &k.inheritable)?,
                ambient: mask("ambient", &k.ambient)?,
            }),
        };
        let rlimits = self
            .rlimits
            .iter()
            .enumerate()
            .map(|(i, r)| {
                rlimit_number(&r.kind)
                    .map(|resource| Rlimit { resource, soft: r.soft, hard: r.hard })
                    .map_err(|e| format!("rlimits[{i}].type: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = |field: &str, id: Option<u32>| {
            id.map(crate::oci::check_id).transpose().map_err(|m| format!("user.{field}: {m}"))
        };
        let (uid, gid) = (id("uid", self.user.uid)?, id("gid", self.user.gid)?);
        for (i, &g) in self.user.additional_gids.iter().flatten().enumerate() {
            id(&format!("additionalGids[{i}]"), Some(g))?;
        }
        let umask = u32::from_str_radix(&self.user.umask, 8)
            .map_err(|_| format!("user.umask: {:?} is not octal", self.user.umask))?;
        let seccomp = match &self.seccomp {
            None => None,
            Some(s) => {
                let hex = s.program.as_bytes();
                if hex.len() % 2 != 0 {
                    return Err("seccomp.program: odd number of hex digits".into());
                }
                let prog = hex
                    .chunks(2)
                    .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap_or("zz"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| "seccomp.program: not hex".to_string())?;
                if prog.len() != s.instructions * 8 {
                    return Err(format!(
                        "seccomp.instructions: {} does not match the program",
                        s.instructions
                    ));
                }
                let arches = crate::seccomp::program_arches(&prog);
                if !s.architectures.is_empty() && s.architectures != arches {
                    return Err(format!(
                        "seccomp.architectures: {:?} does not match the program ({arches:?})",
                        s.architectures
                    ));
                }
                Some(Seccomp { flags: s.flags, program: prog })
            }
        };
        Ok(Compiled {
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            uid,
            gid,
            groups: self.user.additional_gids.clone(),
            chown_stdio: self.chown_stdio,
            umask,
            caps,
            securebits: self
                .securebits
                .as_ref()
                .map(|b| securebits_from_names(b).map_err(|e| e.replacen("--securebits", "securebits", 1)))
                .transpose()?,
            no_new_privs: self.no_new_privileges,
            rlimits,
            oom_score_adj: self.oom_score_adj,
            preserve_fds: self.preserve_fds.clone(),
            seccomp,
        })
    }

    /// The human-readable listing `launcher inspect` prints by default.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let mut line = |k: &str, v: String| t.push_str(&format!("{k:<18}{v}\n"));
        let or_unchanged = |v: Option<String>| v.unwrap_or_else(|| "(unchanged)".into());
        line("format version", self.format_version.to_string());
        line("args", format!("{:?}", self.args));
        line("env", format!("{:?}", self.env));
        line("cwd", or_unchanged(self.cwd.clone()));
        line("uid", or_unchanged(self.user.uid.map(|u| u.to_string())));
        line("gid", or_unchanged(self.user.gid.map(|g| g.to_string())));
        line("groups", or_unchanged(self.user.additional_gids.as_ref().map(|g| format!("{g:?}"))));
        line("chown stdio", if self.chown_stdio { "yes" } else { "no" }.into());
        line("umask", self.user.umask.clone());
        match &self.capabilities {
            None => line("capabilities", "(unchanged)".into()),
            Some(k) => {
                for (name, set) in [
                    ("bounding", &k.bounding),
                    ("effective", &k.effective),
                    ("permitted", &k.permitted),
                    ("inheritable", &k.inheritable),
                    ("ambient", &k.ambient),
                ] {
                    line(
                        &format!("caps.{name}"),
                        if set.is_empty() { "(none)".into() } else { set.join(" ") },
                    );
                }
            }
        }
        line("securebits", or_unchanged(self.securebits.as_ref().map(|b| b.join(" "))));
        line("no_new_privs", if self.no_new_privileges { "yes" } else { "no" }.into());
        for r in &self.rlimits {
            let v = |n: u64| if n == u64::MAX { "unlimited".to_string() } else { n.to_string() };
            line("rlimit", format!("{} soft {} hard {}", r.kind, v(r.soft), v(r.hard)));
        }
        line("oom_score_adj", or_unchanged(self.oom_score_adj.map(|v| v.to_string())));
        line("preserve fds", format!("{:?}", self.preserve_fds));
        line(
            "seccomp",
            self.seccomp.as_ref().map_or("(none)".into(), |s| {
                format!(
                    "{} instructions, flags {:#x}, for {}",
                    s.instructions,
                    s.flags,
                    s.architectures.join(", ")
                )
            }),
        );
        t
    }
}
