//! The service configurations every image runs through dmz, and what each service must
//! observe. Expectations are derived from the same values the config is written from, so
//! the comparison is "what the config says" against "what the kernel gave the process".

use serde_json::{json, Value};

pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_CHOWN: u32 = 0;
pub const CAP_KILL: u32 = 5;
pub const CAP_SYS_MODULE: u32 = 16;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SETFCAP: u32 = 31;
pub const CAP_SYSLOG: u32 = 34;

/// Privileged ports the services bind, one each: services run at the same time under init,
/// and two binds of one port race (EADDRINUSE). The seed scenario's is 80.
pub const SEED_PORT: u16 = 80;
const CONTROL_PORT: u16 = 81;
const ROOT_PORT: u16 = 82;
const AMBIENT_PORT: u16 = 83;
const SECCOMP_PORT: u16 = 84;

fn bind(port: u16) -> String {
    format!("bind{port}")
}

/// The value the probe reports for a successful bind.
fn bound(port: u16) -> String {
    format!("ok 0.0.0.0:{port}")
}

/// Where the setup task puts the probe copy that carries `cap_net_bind_service=ep`.
pub const CAPS_COPY: &str = "/run/caps/probe";

/// One service run through dmz.
pub struct Service {
    /// Tag in the probe's output, name of the test, and base name of its `.pcfg`.
    pub tag: &'static str,
    /// What the class is about, for the report.
    pub about: &'static str,
    /// The OCI `process` object compiled by `launcher compile --oci`.
    pub process: Value,
    /// (key, value) pairs the probe must report (`DMZKIT-OBS <tag> <key> <value>`).
    pub expect: Vec<(&'static str, String)>,
    /// `linux.seccomp` of the config, compiled by the launcher for the target arch.
    pub seccomp: Option<Value>,
}

impl Service {
    /// A whole OCI config.json around the process object.
    pub fn config_json(&self) -> String {
        let mut cfg = json!({ "ociVersion": "1.0.2", "process": self.process });
        if let Some(sc) = &self.seccomp {
            cfg["linux"] = json!({ "seccomp": sc });
        }
        serde_json::to_string_pretty(&cfg).expect("json")
    }
}

/// The seccomp class: uid 1000, no_new_privs, a profile that allows everything but bind(2),
/// which fails with EOPNOTSUPP. Needs a launcher that compiles `linux.seccomp` for the target
/// arch (`compile --arch`).
pub fn seccomp_service() -> Service {
    let mut p = process(&["/bin/probe", "observe", "seccomp", &bind(SECCOMP_PORT)], 1000, 1000);
    p["noNewPrivileges"] = json!(true);
    Service {
        tag: "seccomp",
        about: "uid 1000 + NNP + seccomp profile: bind(2) fails with EOPNOTSUPP, the rest allowed",
        process: p,
        expect: vec![
            ("Uid", ids(1000)),
            ("NoNewPrivs", "1".into()),
            ("Seccomp", "2".into()),
            ("Seccomp_filters", "1".into()),
            ("bind", "EOPNOTSUPP".into()),
        ],
        seccomp: Some(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["bind"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95 }],
        })),
    }
}

/// Every class: [`services`] and [`seccomp_service`].
pub fn classes() -> Vec<Service> {
    let mut v = services();
    v.push(seccomp_service());
    v
}

/// The capabilities the services and tasks name.
const CAP_NAMES: [(u32, &str); 7] = [
    (CAP_CHOWN, "CAP_CHOWN"),
    (CAP_KILL, "CAP_KILL"),
    (CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"),
    (CAP_SYS_MODULE, "CAP_SYS_MODULE"),
    (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
    (CAP_SETFCAP, "CAP_SETFCAP"),
    (CAP_SYSLOG, "CAP_SYSLOG"),
];

pub fn cap_names(caps: &[u32]) -> Vec<&'static str> {
    caps.iter()
        .map(|c| CAP_NAMES.iter().find(|(n, _)| n == c).map(|(_, s)| *s).expect("add the name to CAP_NAMES"))
        .collect()
}

/// /proc/self/status prints capability sets as 16 hex digits.
fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

fn ids(id: u32) -> String {
    format!("{id} {id} {id} {id}")
}

fn process(args: &[&str], uid: u32, gid: u32) -> Value {
    json!({
        "user": { "uid": uid, "gid": gid },
        "args": args,
        "env": ["PATH=/bin", "HOME=/"],
        "cwd": "/",
    })
}

/// The service classes of issue 5, in the order they run.
pub fn services() -> Vec<Service> {
    let nbs = [CAP_NET_BIND_SERVICE];
    let mut v = Vec::new();

    // The seed scenario (docs/design.md §2): uid 1000, no_new_privs, bounding = effective = permitted
    // = {NET_BIND_SERVICE}, no ambient, target with file caps. dmz does the last execve, so
    // the file caps apply: CapPrm/CapEff 0x400 and bind(:80) works.
    let mut p = process(&[CAPS_COPY, "observe", "seed", &bind(SEED_PORT)], 1000, 1000);
    p["noNewPrivileges"] = json!(true);
    p["capabilities"] = json!({
        "bounding": cap_names(&nbs), "effective": cap_names(&nbs), "permitted": cap_names(&nbs),
    });
    v.push(Service {
        tag: "seed",
        about: "uid 1000 + NNP + file caps through dmz: binds :80",
        process: p.clone(),
        expect: vec![
            ("Uid", ids(1000)),
            ("Gid", ids(1000)),
            ("NoNewPrivs", "1".into()),
            ("CapBnd", mask(&nbs)),
            ("CapPrm", mask(&nbs)),
            ("CapEff", mask(&nbs)),
            ("CapInh", mask(&[])),
            ("CapAmb", mask(&[])),
            ("bind", bound(SEED_PORT)),
        ],
        seccomp: None,
    });

    // Control for the seed scenario: the same config on a binary without file caps. The
    // kernel gives a non-root exec P' = ambient = {}: no capability, bind(:80) refused. This
    // is what shows the file capability (not something else) grants the port above.
    p["args"] = json!(["/bin/probe", "observe", "seed-control", bind(CONTROL_PORT)]);
    v.push(Service {
        tag: "seed-control",
        about: "same config, binary without file caps: no caps, bind refused",
        process: p,
        expect: vec![
            ("Uid", ids(1000)),
            ("NoNewPrivs", "1".into()),
            ("CapPrm", mask(&[])),
            ("CapEff", mask(&[])),
            ("bind", "EACCES".into()),
        ],
        seccomp: None,
    });

    // Root with a reduced bounding set: a root exec gets P' = E' = bounding.
    let root_caps = [CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE];
    let mut p = process(&["/bin/probe", "observe", "root", &bind(ROOT_PORT)], 0, 0);
    p["capabilities"] = json!({
        "bounding": cap_names(&root_caps), "effective": cap_names(&root_caps),
        "permitted": cap_names(&root_caps),
    });
    v.push(Service {
        tag: "root",
        about: "root with bounding {CHOWN, KILL, NET_BIND_SERVICE}",
        process: p,
        expect: vec![
            ("Uid", ids(0)),
            ("NoNewPrivs", "0".into()),
            ("CapBnd", mask(&root_caps)),
            ("CapPrm", mask(&root_caps)),
            ("CapEff", mask(&root_caps)),
            ("bind", bound(ROOT_PORT)),
        ],
        seccomp: None,
    });

    // Ambient: uid 1000, NET_BIND_SERVICE in every set including ambient, NNP on; a plain
    // binary keeps it across exec (P' = E' = ambient).
    let mut p = process(&["/bin/probe", "observe", "ambient", &bind(AMBIENT_PORT)], 1000, 1000);
    p["noNewPrivileges"] = json!(true);
    p["capabilities"] = json!({
        "bounding": cap_names(&nbs), "effective": cap_names(&nbs), "permitted": cap_names(&nbs),
        "inheritable": cap_names(&nbs), "ambient": cap_names(&nbs),
    });
    v.push(Service {
        tag: "ambient",
        about: "uid 1000 + ambient NET_BIND_SERVICE on a plain binary",
        process: p,
        expect: vec![
            ("Uid", ids(1000)),
            ("CapAmb", mask(&nbs)),
            ("CapInh", mask(&nbs)),
            ("CapPrm", mask(&nbs)),
            ("CapEff", mask(&nbs)),
            ("bind", bound(AMBIENT_PORT)),
        ],
        seccomp: None,
    });

    // Groups and umask: uid/gid 1001/1002, supplementary groups (the kernel keeps them sorted).
    let groups = [30u32, 10, 20];
    let mut p = process(&["/bin/probe", "observe", "groups"], 1001, 1002);
    p["user"]["additionalGids"] = json!(groups);
    p["user"]["umask"] = json!(0o027);
    let mut sorted = groups;
    sorted.sort();
    v.push(Service {
        tag: "groups",
        about: "uid 1001, gid 1002, groups {10,20,30}, umask 027, no caps",
        process: p,
        expect: vec![
            ("Uid", ids(1001)),
            ("Gid", ids(1002)),
            ("Groups", sorted.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")),
            ("Umask", "0027".into()),
            ("CapPrm", mask(&[])),
            ("CapEff", mask(&[])),
        ],
        seccomp: None,
    });

    // rlimits: lowered and raised limits applied before the uid change.
    let mut p = process(&["/bin/probe", "observe", "rlimits"], 1000, 1000);
    p["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 64, "hard": 128 },
        { "type": "RLIMIT_CORE", "soft": 1024, "hard": 2048 },
        { "type": "RLIMIT_NPROC", "soft": 300, "hard": 400 },
    ]);
    v.push(Service {
        tag: "rlimits",
        about: "RLIMIT_NOFILE 64/128, RLIMIT_CORE 1024/2048, RLIMIT_NPROC 300/400",
        process: p,
        expect: vec![
            ("Uid", ids(1000)),
            ("rlimit-nofile", "64 128".into()),
            ("rlimit-core", "1024 2048".into()),
            ("rlimit-nproc", "300 400".into()),
        ],
        seccomp: None,
    });
    v
}
