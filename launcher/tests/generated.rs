//! Generated differential: random valid OCI `process` objects, each run through runc 1.1.5
//! (the oracle) and through `launcher run --oci` → dmz. Where runc runs the probe, the probe's
//! observations (ids, groups, the five capability sets, NoNewPrivs, Seccomp, rlimits, umask,
//! cwd, environment, args, open fds, bind to port 80) must be identical line for line; where
//! runc refuses the config, launcher → dmz must refuse it too, before the probe runs.
//!
//! `DIFF_SEED` (default below) and `DIFF_N` (default 100) choose the configs; a failure
//! prints the seed, the case number and the whole `process` object, so the case can be
//! pinned as its own test in differential.rs.
//!
//! Needs root, runc, gcc, setcap and unshare, like differential.rs.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use launcher::names;
use serde_json::{json, Value};
use support::*;

const DEFAULT_SEED: u64 = 0x646d_7a6b_6974;
const DEFAULT_N: usize = 100;
/// Configs run at once (each one runs runc, then the launcher).
const WORKERS: usize = 4;

/// splitmix64: a small, well-known generator; the same seed gives the same configs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn last_cap() -> usize {
    let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").expect("read cap_last_cap");
    let n: usize = text.trim().parse().expect("cap_last_cap is a number");
    n.min(names::CAPS.len() - 1)
}

/// A random subset of the capabilities the kernel knows, as a bit mask.
fn cap_subset(r: &mut Rng, last: usize, percent: u64) -> u64 {
    (0..=last).filter(|_| r.chance(percent)).fold(0, |m, c| m | 1 << c)
}

fn cap_names(mask: u64) -> Value {
    Value::Array((0..64).filter(|c| mask & (1 << c) != 0).map(|c| json!(names::CAPS[c])).collect())
}

/// An id as services use them: root, small system ids, 1000, nobody, the largest valid one,
/// any other valid one; and now and then one above 2^31-1, which both must refuse (4294967295
/// is -1 to setresuid: "leave unchanged").
fn id(r: &mut Rng) -> u64 {
    match r.below(50) {
        0..=7 => 0,
        8..=15 => 1,
        16..=23 => 1000,
        24..=31 => 65534,
        32..=39 => (1 << 31) - 2,
        40..=48 => r.below((1 << 31) - 1),
        _ => *r.pick(&[1 << 31, u32::MAX as u64 - 1, u32::MAX as u64]),
    }
}

/// Resources whose limits runc's own (Go) init survives at any value chosen here, with values
/// that leave the probe room to run. NPROC counts every task of root on the machine, so its
/// values stay far above what parallel tests use. Each is (OCI name, row of
/// /proc/self/limits, values).
const RLIMITS: [(&str, &str, &[u64]); 9] = [
    ("RLIMIT_CORE", "Max core file size", &[0, 4096, 1 << 20, u64::MAX]),
    ("RLIMIT_NOFILE", "Max open files", &[64, 256, 1024, 4096]),
    ("RLIMIT_NICE", "Max nice priority", &[0, 10, 20, 40]),
    ("RLIMIT_RTPRIO", "Max realtime priority", &[0, 1, 50, 99]),
    ("RLIMIT_MSGQUEUE", "Max msgqueue size", &[0, 8192, 819200, 1 << 24]),
    ("RLIMIT_SIGPENDING", "Max pending signals", &[100, 1000, 20000, 200000]),
    ("RLIMIT_MEMLOCK", "Max locked memory", &[0, 65536, 8 << 20, u64::MAX]),
    ("RLIMIT_LOCKS", "Max file locks", &[16, 1024, u64::MAX]),
    ("RLIMIT_NPROC", "Max processes", &[30000, 40000, u64::MAX]),
];

/// The hard limit this test process has for the /proc/self/limits row `row`. Raising a hard
/// limit needs CAP_SYS_RESOURCE, which a sandbox may withhold even from root; the generated
/// limits stay at or below it, so both paths are judged on what the target observes.
fn hard_limit(row: &str) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read /proc/self/limits");
    let line = limits.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no {row} row"));
    let hard = line[row.len()..].split_whitespace().nth(1).expect("hard limit column");
    if hard == "unlimited" {
        u64::MAX
    } else {
        hard.parse().expect("hard limit is a number")
    }
}

fn rlimit(r: &mut Rng) -> Value {
    let (name, row, values) = *r.pick(&RLIMITS);
    let max = hard_limit(row);
    let a = (*r.pick(values)).min(max);
    let b = (*r.pick(values)).min(max);
    // Usually soft ≤ hard; sometimes not, which both must refuse.
    let (soft, hard) = if a <= b || r.chance(10) { (a, b) } else { (b, a) };
    json!({ "type": name, "soft": soft, "hard": hard })
}

/// One random `process` object (args[0] is `/probe`, as the support code requires), and
/// whether the probe's file carries `cap_net_bind_service=ep`.
fn generate(r: &mut Rng, last: usize) -> (Value, bool) {
    let mut p = default_process();
    let mut user = json!({ "uid": id(r), "gid": id(r) });
    if r.chance(50) {
        let n = r.below(65) as usize;
        user["additionalGids"] = Value::Array((0..n).map(|_| json!(id(r))).collect());
    }
    if r.chance(30) {
        user["umask"] = json!(r.below(0o1000));
    }
    p["user"] = user;
    if r.chance(85) {
        let mut caps = serde_json::Map::new();
        let bounding = cap_subset(r, last, 50);
        // Effective and permitted mostly within bounding (what a sane config names), but not
        // always: the kernel's rules decide.
        // Effective ⊆ permitted and inheritable ⊆ bounding, as a sane config names them, most
        // of the time; otherwise anything, and the kernel's rules decide.
        let permitted = cap_subset(r, last, 40) & if r.chance(90) { bounding } else { !0 };
        let effective = match r.below(20) {
            0..=13 => permitted,
            14..=18 => permitted & cap_subset(r, last, 50),
            _ => cap_subset(r, last, 40),
        };
        let inheritable = cap_subset(r, last, 25) & if r.chance(90) { bounding } else { !0 };
        // Ambient: valid (within P ∩ I) most of the time, anything otherwise.
        let ambient = if r.chance(70) {
            cap_subset(r, last, 50) & permitted & inheritable
        } else {
            cap_subset(r, last, 10)
        };
        for (name, mask) in [
            ("bounding", bounding),
            ("effective", effective),
            ("permitted", permitted),
            ("inheritable", inheritable),
            ("ambient", ambient),
        ] {
            if r.chance(97) {
                caps.insert(name.to_string(), cap_names(mask));
            }
        }
        p["capabilities"] = Value::Object(caps);
    } else {
        p.as_object_mut().unwrap().remove("capabilities");
    }
    p["noNewPrivileges"] = json!(r.chance(50));
    if r.chance(60) {
        let n = 1 + r.below(4);
        let mut limits: Vec<Value> = Vec::new();
        while (limits.len() as u64) < n {
            let l = rlimit(r);
            // A type named twice only now and then (a deliberate difference, see DELIBERATE).
            if r.chance(5) || !limits.iter().any(|o| o["type"] == l["type"]) {
                limits.push(l);
            }
        }
        p["rlimits"] = Value::Array(limits);
    } else {
        p.as_object_mut().unwrap().remove("rlimits");
    }
    p["cwd"] = json!(*r.pick(&["/", "/tmp"]));
    let mut env = Vec::new();
    if r.chance(70) {
        env.push(json!(*r.pick(&["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PATH=/bin", "PATH="])));
    }
    if r.chance(30) {
        env.push(json!(*r.pick(&["HOME=/srv", "HOME=", "HOME=/"])));
    }
    for i in 0..r.below(6) {
        env.push(json!(format!("VAR{}={}", r.below(4), i)));
    }
    if r.chance(20) {
        env.push(json!("TERM=xterm"));
    }
    p["env"] = Value::Array(env);
    let mut args = vec![json!("/probe")];
    for _ in 0..r.below(4) {
        args.push(json!(*r.pick(&["a", "-l", "two words", "", "ünïcode"])));
    }
    p["args"] = Value::Array(args);
    (p, r.chance(50))
}

/// What a case showed.
enum Outcome {
    /// Both ran the probe and it observed the same.
    Same,
    /// Both refused the config before the probe ran.
    BothRefused,
    /// runc ran it and launcher → dmz refused it, for a reason listed in
    /// docs/runc-differences.md (named here).
    Deliberate(&'static str),
}

/// A deliberate difference a generated config can meet: launcher → dmz refuses what runc runs.
struct Difference {
    /// Whether the config has the property.
    has: fn(&Value) -> bool,
    /// What the launcher's message says.
    message: &'static str,
    /// Its row in docs/runc-differences.md.
    name: &'static str,
}

const DELIBERATE: [Difference; 1] = [Difference {
    has: has_duplicate_rlimit,
    message: "duplicate rlimit",
    name: "a resource limit named twice is refused",
}];

fn has_duplicate_rlimit(p: &Value) -> bool {
    let types: Vec<&Value> =
        p["rlimits"].as_array().map(|a| a.iter().map(|r| &r["type"]).collect()).unwrap_or_default();
    types.iter().enumerate().any(|(i, t)| types[..i].contains(t))
}

/// Runs one case through both paths; `Err` holds the report of a difference.
fn run_case(seed: u64, case: usize, process: &Value, file_caps: bool) -> Result<Outcome, String> {
    let opts = if file_caps { RunOpts::file_caps("cap_net_bind_service=ep") } else { RunOpts::default() };
    let expected = run_runc(process, &opts);
    let actual = run_launcher(process, &opts);
    let refused = !actual.status.success() && actual.stdout.is_empty();
    if expected.status.success() {
        if actual.status.success() && expected.stdout == actual.stdout {
            return Ok(Outcome::Same);
        }
        if refused {
            if let Some(d) = DELIBERATE.iter().find(|d| (d.has)(process) && actual.stderr.contains(d.message))
            {
                return Ok(Outcome::Deliberate(d.name));
            }
        }
    } else if refused {
        return Ok(Outcome::BothRefused);
    }
    Err(format!(
        "DIFF_SEED={seed:#x} case {case} (file caps on the probe: {file_caps}):\n\
         process = {}\n{}\n{}\n{}",
        serde_json::to_string(process).unwrap(),
        line_diff(&expected.stdout, &actual.stdout),
        expected.dump(),
        actual.dump(),
    ))
}

#[test]
#[ignore = "needs root and runc: scripts/test runs it"]
fn generated_configs_match_runc() {
    require_root();
    let seed = std::env::var("DIFF_SEED")
        .map(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).expect("DIFF_SEED is a hex number")
        })
        .unwrap_or(DEFAULT_SEED);
    let n: usize =
        std::env::var("DIFF_N").map(|s| s.parse().expect("DIFF_N is a number")).unwrap_or(DEFAULT_N);
    let last = last_cap();
    let mut rng = Rng(seed);
    let cases: Vec<(usize, Value, bool)> = (0..n)
        .map(|i| {
            let (p, fc) = generate(&mut rng, last);
            (i, p, fc)
        })
        .collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((case, p, fc)) = cases.get(i) else { break };
                match run_case(seed, *case, p, *fc) {
                    Ok(o) => outcomes.lock().unwrap().push(o),
                    Err(report) => failures.lock().unwrap().push(report),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let outcomes = outcomes.into_inner().unwrap();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    eprintln!(
        "generated differential: seed {seed:#x}, {n} configs: {} observed the same, {} refused by \
         both, {} deliberate differences, {} unexplained differences",
        count(|o| matches!(o, Outcome::Same)),
        count(|o| matches!(o, Outcome::BothRefused)),
        count(|o| matches!(o, Outcome::Deliberate(_))),
        failures.len()
    );
    for d in &DELIBERATE {
        let k = count_named(&outcomes, d.name);
        if k > 0 {
            eprintln!("  deliberate: {} ({k})", d.name);
        }
    }
    assert!(failures.is_empty(), "{} of {n} configs differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

fn count_named(outcomes: &[Outcome], name: &str) -> usize {
    outcomes.iter().filter(|o| matches!(o, Outcome::Deliberate(n) if *n == name)).count()
}
