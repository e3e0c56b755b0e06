//! The compiled configs as serde sees them: the launcher writes every dmz config and init
//! config by encoding these types with the `postcard` crate (docs/design.md §5). Field order
//! is the format. dmz (dmz/src/config.rs) and init (init/src/config.rs) read it back with
//! small hand-written decoders, proven against postcard by launcher/tests/wire.rs.
//!
//! The header (magic, version, body length, CRC) is not postcard: [`blob`] puts it in front.

use serde::{Deserialize, Serialize};

/// A dmz config, owned: what the compilers build (oci.rs, flags.rs, init_config.rs, view.rs,
/// as `oci::Compiled`) and the checks read, and, encoded, the body dmz reads: the fields are in
/// dmz's `Config` order. [`Dmz::encode`] makes the blob.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Dmz {
    /// Written as one byte string: each argument followed by its NUL.
    #[serde(with = "nul_list")]
    pub args: Vec<String>,
    /// "KEY=VALUE" entries, written as `args` is.
    #[serde(with = "nul_list")]
    pub env: Vec<String>,
    /// Written with its NUL; `None` (written empty) keeps dmz's.
    #[serde(with = "nul_path")]
    pub cwd: Option<String>,
    /// `None`: unchanged (flags that do not name it).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: Option<Vec<u32>>,
    /// Give fds 0–2 to `uid` before the uid change, as runc does.
    pub chown_stdio: bool,
    pub umask: u32,
    pub caps: Option<Caps>,
    pub securebits: Option<u32>,
    pub no_new_privs: bool,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub preserve_fds: Vec<u32>,
    pub seccomp: Option<Seccomp>,
}

/// dmz's string list (`Config::args`, `Config::env`) as a `Vec<String>`: one byte string
/// holding each string followed by its NUL. postcard writes a `Vec<u8>` as a byte string.
mod nul_list {
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(list: &[String], s: S) -> Result<S::Ok, S::Error> {
        let mut out = Vec::new();
        dmz::config::push_strings(&mut out, list.iter().map(|x| x.as_bytes()))
            .map_err(|i| S::Error::custom(format_args!("[{i}]: contains NUL")))?;
        out.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        split(&Vec::<u8>::deserialize(d)?).ok_or_else(|| D::Error::custom("not NUL-terminated UTF-8 strings"))
    }

    /// The strings of `list`, if each is UTF-8 and ends with a NUL.
    pub fn split(list: &[u8]) -> Option<Vec<String>> {
        if !list.is_empty() && !list.ends_with(&[0]) {
            return None;
        }
        dmz::config::strings(list).map(|s| String::from_utf8(s.to_vec()).ok()).collect()
    }
}

/// An optional path as dmz's `Config::cwd`: the path followed by its NUL, or empty for none.
mod nul_path {
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(path: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match path {
            Some(p) if p.contains('\0') => Err(S::Error::custom("contains NUL")),
            Some(p) => [p.as_bytes(), b"\0"].concat().serialize(s),
            None => Vec::<u8>::new().serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        split(&Vec::<u8>::deserialize(d)?).ok_or_else(|| D::Error::custom("not a NUL-terminated UTF-8 path"))
    }

    /// `None` for an empty `path`, the path for one UTF-8 string ending with its only NUL.
    pub fn split(path: &[u8]) -> Option<Option<String>> {
        match super::nul_list::split(path)?.as_slice() {
            [] => Some(None),
            [p] => Some(Some(p.clone())),
            _ => None,
        }
    }
}

/// The five capability sets as bit masks, in dmz's `Caps` order.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Seccomp {
    pub flags: u32,
    /// Classic BPF instructions, 8 bytes each, in the target's byte order.
    pub program: Vec<u8>,
}

/// An init config body, in init's `Config` field order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Init {
    pub hostname: Vec<u8>,
    pub ctrl_alt_del: Action,
    pub on_error: Action,
    pub error_delay_s: u32,
    pub shutdown_grace_ms: u32,
    pub watchdog: Option<Watchdog>,
    pub mounts: Vec<Mount>,
    pub tasks: Vec<Unit>,
    pub services: Vec<Unit>,
}

/// init's `Action`: the variant index is the discriminant init reads.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reboot,
    PowerOff,
    Halt,
    Ignore,
}

/// init's `Restart`: the variant index is the discriminant init reads.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Never,
    OnFailure,
    Always,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    /// With its NUL.
    pub device: Vec<u8>,
    pub timeout_s: u32,
    pub interval_ms: u32,
}

/// `mount(source, target, fstype, flags, data)`; strings with their NUL, `data` may be empty.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: Vec<u8>,
    pub target: Vec<u8>,
    pub fstype: Vec<u8>,
    pub flags: u64,
    pub data: Vec<u8>,
}

/// A task or service.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub name: Vec<u8>,
    /// A complete dmz config blob, header included.
    pub dmz: Vec<u8>,
    pub restart: Restart,
    pub restart_delay_ms: u32,
    pub restart_delay_max_ms: u32,
    pub restart_limit: u32,
    /// One byte in postcard; init reads it as a varint, the same byte for 1..=64 (the only
    /// signals init takes).
    pub stop_signal: u8,
    pub stop_timeout_ms: u32,
    pub timeout_ms: u32,
    pub output: Output,
    /// With its NUL; empty: none.
    pub log_file: Vec<u8>,
    pub log_max_bytes: u32,
    /// Services: the cgroup values, as init's `Unit::cgroup` (empty: none).
    pub cgroup: Vec<u8>,
    /// 0 started, 1 notify, 3 and up: the readiness fd.
    pub ready: u32,
    pub ready_timeout_ms: u32,
    pub watchdog_ms: u32,
    /// Service names, each followed by a space.
    pub after: Vec<u8>,
    pub requires: Vec<u8>,
}

/// init's `Output`: the variant index is the discriminant init reads.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Console,
    Capture,
}

/// Header + postcard body of `value`, or `None` when the blob would exceed `max` bytes.
pub fn blob<T: Serialize>(magic: [u8; 4], version: u32, max: usize, value: &T) -> Option<Vec<u8>> {
    // Writing into a Vec fails only when serde reports an error: a string with a NUL inside,
    // which `Dmz::encode` refuses first.
    let mut out = postcard::to_extend(value, vec![0u8; dmz::config::HEADER_LEN]).ok()?;
    if out.len() > max {
        return None;
    }
    let (head, body) = out.split_at_mut(dmz::config::HEADER_LEN);
    dmz::config::write_header(head, magic, version, body);
    Some(out)
}

impl Dmz {
    /// The dmz config blob: header + postcard body. Refuses (naming the field) what dmz
    /// would not read: a list over dmz's maximum, a string with a NUL inside, a blob over
    /// 128 KiB.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        use dmz::config::{MAX_ARGS, MAX_CONFIG_LEN, MAX_ENV, MAX_GROUPS, MAX_PRESERVE_FDS, MAX_RLIMITS};
        let within = |what: &str, n: usize, max: usize| -> Result<(), String> {
            if n > max {
                return Err(format!("{what}: {n} entries, at most {max}"));
            }
            Ok(())
        };
        within("groups", self.groups.as_ref().map_or(0, Vec::len), MAX_GROUPS)?;
        within("rlimits", self.rlimits.len(), MAX_RLIMITS)?;
        within("preserve_fds", self.preserve_fds.len(), MAX_PRESERVE_FDS)?;
        for (what, list, max) in [("args", &self.args, MAX_ARGS), ("env", &self.env, MAX_ENV)] {
            within(what, list.len(), max)?;
            if let Some(i) = list.iter().position(|s| s.contains('\0')) {
                return Err(format!("{what}[{i}]: contains NUL"));
            }
        }
        if self.cwd.as_ref().is_some_and(|c| c.contains('\0')) {
            return Err("cwd: contains NUL".into());
        }
        self.blob().ok_or_else(|| format!("the compiled config is larger than {MAX_CONFIG_LEN} bytes"))
    }

    /// The blob without [`Dmz::encode`]'s checks (for a config dmz decoded), or `None` when it
    /// exceeds dmz's 128 KiB or a string holds a NUL.
    pub fn blob(&self) -> Option<Vec<u8>> {
        use dmz::config::{MAGIC, MAX_CONFIG_LEN, VERSION};
        blob(MAGIC, VERSION, MAX_CONFIG_LEN, self)
    }

    /// The values of a decoded dmz config; `None` when its args, env or cwd are not UTF-8
    /// strings each ending with a NUL (dmz takes any bytes there, the launcher writes only
    /// those).
    pub fn from_config(c: &dmz::Config) -> Option<Self> {
        Some(Dmz {
            args: nul_list::split(c.args.0)?,
            env: nul_list::split(c.env.0)?,
            cwd: nul_path::split(c.cwd.0)?,
            uid: c.uid,
            gid: c.gid,
            groups: c.groups.as_ref().map(|g| g.to_vec()),
            chown_stdio: c.chown_stdio,
            umask: c.umask,
            caps: c.caps.map(Caps::from),
            securebits: c.securebits,
            no_new_privs: c.no_new_privs,
            rlimits: c.rlimits.iter().copied().map(Rlimit::from).collect(),
            oom_score_adj: c.oom_score_adj,
            preserve_fds: c.preserve_fds.to_vec(),
            seccomp: c.seccomp.map(|s| Seccomp { flags: s.flags, program: s.program.0.to_vec() }),
        })
    }
}

impl Init {
    /// The init config blob, or `None` when it exceeds init's 4 MiB.
    pub fn blob(&self) -> Option<Vec<u8>> {
        use init::config::{MAGIC, MAX_CONFIG_LEN, VERSION};
        blob(MAGIC, VERSION, MAX_CONFIG_LEN, self)
    }

    /// The values of a decoded init config.
    pub fn from_config(c: &init::config::Config) -> Self {
        let unit = |u: init::config::Unit| Unit {
            name: u.name.to_vec(),
            dmz: u.dmz.to_vec(),
            restart: Restart::from(u.restart),
            restart_delay_ms: u.restart_delay_ms,
            restart_delay_max_ms: u.restart_delay_max_ms,
            restart_limit: u.restart_limit,
            stop_signal: u.stop_signal,
            stop_timeout_ms: u.stop_timeout_ms,
            timeout_ms: u.timeout_ms,
            output: Output::from(u.output),
            log_file: u.log_file.to_vec(),
            log_max_bytes: u.log_max_bytes,
            cgroup: u.cgroup.to_vec(),
            ready: u.ready,
            ready_timeout_ms: u.ready_timeout_ms,
            watchdog_ms: u.watchdog_ms,
            after: u.after.to_vec(),
            requires: u.requires.to_vec(),
        };
        Init {
            hostname: c.hostname.to_vec(),
            ctrl_alt_del: Action::from(c.ctrl_alt_del),
            on_error: Action::from(c.on_error),
            error_delay_s: c.error_delay_s,
            shutdown_grace_ms: c.shutdown_grace_ms,
            watchdog: c.watchdog.map(|w| Watchdog {
                device: w.device.to_vec(),
                timeout_s: w.timeout_s,
                interval_ms: w.interval_ms,
            }),
            mounts: c
                .mounts
                .iter()
                .map(|m| Mount {
                    source: m.source.to_vec(),
                    target: m.target.to_vec(),
                    fstype: m.fstype.to_vec(),
                    flags: m.flags,
                    data: m.data.to_vec(),
                })
                .collect(),
            tasks: c.tasks.iter().map(unit).collect(),
            services: c.services.iter().map(unit).collect(),
        }
    }
}

impl From<dmz::config::Caps> for Caps {
    fn from(k: dmz::config::Caps) -> Self {
        Caps {
            bounding: k.bounding,
            effective: k.effective,
            permitted: k.permitted,
            inheritable: k.inheritable,
            ambient: k.ambient,
        }
    }
}

impl From<dmz::config::Rlimit> for Rlimit {
    fn from(r: dmz::config::Rlimit) -> Self {
        Rlimit { resource: r.resource, soft: r.soft, hard: r.hard }
    }
}

impl From<init::config::Action> for Action {
    fn from(a: init::config::Action) -> Self {
        use init::config::Action as A;
        match a {
            A::Reboot => Action::Reboot,
            A::PowerOff => Action::PowerOff,
            A::Halt => Action::Halt,
            A::Ignore => Action::Ignore,
        }
    }
}

impl From<init::config::Output> for Output {
    fn from(o: init::config::Output) -> Self {
        match o {
            init::config::Output::Console => Output::Console,
            init::config::Output::Capture => Output::Capture,
        }
    }
}

impl From<init::config::Restart> for Restart {
    fn from(r: init::config::Restart) -> Self {
        use init::config::Restart as R;
        match r {
            R::Never => Restart::Never,
            R::OnFailure => Restart::OnFailure,
            R::Always => Restart::Always,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums' variant indexes are init's discriminants: postcard writes the index, init
    /// reads the discriminant.
    #[test]
    fn enum_tags_are_inits_discriminants() {
        use init::config::{Action as A, Restart as R};
        for a in [A::Reboot, A::PowerOff, A::Halt, A::Ignore] {
            assert_eq!(postcard::to_allocvec(&Action::from(a)).unwrap(), [a as u8], "{a:?}");
        }
        for r in [R::Never, R::OnFailure, R::Always] {
            assert_eq!(postcard::to_allocvec(&Restart::from(r)).unwrap(), [r as u8], "{r:?}");
        }
        use init::config::Output as O;
        for o in [O::Console, O::Capture] {
            assert_eq!(postcard::to_allocvec(&Output::from(o)).unwrap(), [o as u8], "{o:?}");
        }
    }

    /// The bytes of a config with a distinct value in every field, written out by hand from
    /// docs/design.md §5, and dmz's reader naming each value: the wire types' field order is
    /// dmz's.
    #[test]
    fn dmz_field_order_by_hand() {
        let m = Dmz {
            args: vec!["a".into()],
            env: vec!["E".into()],
            cwd: Some("/".into()),
            uid: Some(1),
            gid: Some(2),
            groups: Some(vec![3]),
            chown_stdio: true,
            umask: 0o22,
            caps: Some(Caps { bounding: 4, effective: 5, permitted: 6, inheritable: 7, ambient: 8 }),
            securebits: Some(9),
            no_new_privs: true,
            rlimits: vec![Rlimit { resource: 7, soft: 10, hard: 300 }],
            oom_score_adj: Some(-2),
            preserve_fds: vec![11],
            seccomp: Some(Seccomp { flags: 12, program: vec![13; 8] }),
        };
        let mut want = vec![2, b'a', 0, 2, b'E', 0, 2, b'/', 0, 1, 1, 1, 2, 1, 1, 3, 1, 0o22];
        want.extend([1, 4, 5, 6, 7, 8, 1, 9, 1, 1, 7, 10, 0xac, 0x02, 1, 3, 1, 11, 1, 12, 8]);
        want.extend([13; 8]);
        let b = m.encode().unwrap();
        assert_eq!(&b[16..], &want[..]);
        let c = dmz::Config::decode(&b).unwrap();
        let k = c.caps.unwrap();
        assert_eq!((c.args.0, c.env.0, c.cwd.0), (&b"a\0"[..], &b"E\0"[..], &b"/\0"[..]));
        assert_eq!((c.uid, c.gid, c.groups.as_deref()), (Some(1), Some(2), Some(&[3][..])));
        assert_eq!((c.chown_stdio, c.umask), (true, 0o22));
        assert_eq!((k.bounding, k.effective, k.permitted, k.inheritable, k.ambient), (4, 5, 6, 7, 8));
        assert_eq!((c.securebits, c.no_new_privs), (Some(9), true));
        assert_eq!((c.rlimits[0].resource, c.rlimits[0].soft, c.rlimits[0].hard), (7, 10, 300));
        assert_eq!((c.oom_score_adj, &c.preserve_fds[..]), (Some(-2), &[11][..]));
        assert_eq!(c.seccomp.map(|s| (s.flags, s.program.0)), Some((12, &[13u8; 8][..])));
        assert_eq!(Dmz::from_config(&c), Some(m));
    }

    /// args, env and cwd are read back only as UTF-8 strings each ending with a NUL, the
    /// only thing `Dmz` holds there; an empty string is one, an empty cwd is none.
    #[test]
    fn text_fields_hold_nul_terminated_strings_only() {
        // The body of the default config after args, env and cwd.
        let rest = &postcard::to_allocvec(&Dmz::default()).unwrap()[3..];
        let body = |args: &[u8], cwd: &[u8]| {
            let mut b = postcard::to_allocvec(&(args, &b""[..], cwd)).unwrap();
            b.extend(rest);
            postcard::from_bytes::<Dmz>(&b).map(|d| (d.args, d.cwd))
        };
        assert_eq!(body(b"a\0\0", b""), Ok((vec!["a".into(), "".into()], None)));
        assert_eq!(body(b"", b"/x\0"), Ok((vec![], Some("/x".into()))));
        for (args, cwd) in [(&b"a"[..], &b""[..]), (b"a\0b", b""), (b"\xff\0", b""), (b"", b"/x")] {
            assert!(body(args, cwd).is_err(), "{args:?} {cwd:?}");
        }
        assert!(body(b"", b"/\0/\0").is_err());
        assert!(body(b"", b"\xff\0").is_err());
        let nul = |d: Dmz| d.encode().unwrap_err();
        assert_eq!(
            nul(Dmz { env: vec!["A=1".into(), "B\0".into()], ..Dmz::default() }),
            "env[1]: contains NUL"
        );
        assert_eq!(nul(Dmz { cwd: Some("/\0".into()), ..Dmz::default() }), "cwd: contains NUL");
    }

    /// The same for init.
    #[test]
    fn init_field_order_by_hand() {
        let unit = Dmz { args: vec!["/x".into()], ..Dmz::default() }.encode().unwrap();
        let m = Init {
            hostname: b"h".to_vec(),
            ctrl_alt_del: Action::Ignore,
            on_error: Action::Halt,
            error_delay_s: 1,
            shutdown_grace_ms: 2,
            watchdog: Some(Watchdog { device: b"/w\0".to_vec(), timeout_s: 3, interval_ms: 4 }),
            mounts: vec![Mount {
                source: b"s\0".to_vec(),
                target: b"t\0".to_vec(),
                fstype: b"f\0".to_vec(),
                flags: 5,
                data: b"d\0".to_vec(),
            }],
            tasks: vec![],
            services: vec![Unit {
                name: b"n".to_vec(),
                dmz: unit.clone(),
                restart: Restart::Always,
                restart_delay_ms: 6,
                restart_delay_max_ms: 7,
                restart_limit: 8,
                stop_signal: 9,
                stop_timeout_ms: 10,
                timeout_ms: 11,
                output: Output::Capture,
                log_file: b"/l\0".to_vec(),
                log_max_bytes: 12,
                cgroup: b"1\0\0\0\0".to_vec(),
                ready: 13,
                ready_timeout_ms: 14,
                watchdog_ms: 15,
                after: b"a ".to_vec(),
                requires: b"b c ".to_vec(),
            }],
        };
        let mut want = vec![1, b'h', 3, 2, 1, 2, 1, 3, b'/', b'w', 0, 3, 4];
        want.extend([1, 2, b's', 0, 2, b't', 0, 2, b'f', 0, 5, 2, b'd', 0, 0, 1, 1, b'n']);
        want.push(unit.len() as u8);
        want.extend(&unit);
        want.extend([2, 6, 7, 8, 9, 10, 11, 1, 3, b'/', b'l', 0, 12, 5, b'1', 0, 0, 0, 0]);
        want.extend([13, 14, 15, 2, b'a', b' ', 4, b'b', b' ', b'c', b' ']);
        let b = m.blob().unwrap();
        assert_eq!(&b[16..], &want[..]);
        let c = init::config::Config::decode(&b).unwrap();
        use init::config::{Action as A, Restart as R};
        assert_eq!((c.hostname, c.ctrl_alt_del, c.on_error), (&b"h"[..], A::Ignore, A::Halt));
        assert_eq!((c.error_delay_s, c.shutdown_grace_ms), (1, 2));
        let w = c.watchdog.unwrap();
        assert_eq!((w.device, w.timeout_s, w.interval_ms), (&b"/w\0"[..], 3, 4));
        let mt = c.mounts.get(0).unwrap();
        assert_eq!(
            (mt.source, mt.target, mt.fstype, mt.flags, mt.data),
            (&b"s\0"[..], &b"t\0"[..], &b"f\0"[..], 5, &b"d\0"[..])
        );
        let s = c.services.get(0).unwrap();
        assert_eq!((s.name, s.dmz, s.restart), (&b"n"[..], &unit[..], R::Always));
        assert_eq!((s.restart_delay_ms, s.restart_delay_max_ms, s.restart_limit), (6, 7, 8));
        assert_eq!((s.stop_signal, s.stop_timeout_ms, s.timeout_ms), (9, 10, 11));
        assert_eq!(
            (s.output, s.log_file, s.log_max_bytes),
            (init::config::Output::Capture, &b"/l\0"[..], 12)
        );
        assert_eq!(s.cgroup, b"1\0\0\0\0");
        assert_eq!((s.ready, s.ready_timeout_ms, s.watchdog_ms), (13, 14, 15));
        assert_eq!((s.after, s.requires), (&b"a "[..], &b"b c "[..]));
        assert_eq!(Init::from_config(&c), m);
    }
}
