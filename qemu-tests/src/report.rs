//! What a test run prints beyond the per-check lines: the per-suite matrix and the boot timing.

use crate::arch::Arch;
use crate::{console, scenario, suite, SuiteSel};
use std::time::Duration;

/// One boot's results, for the summary.
pub struct ArchRun {
    pub arch: Arch,
    pub suite: SuiteSel,
    pub outcomes: Vec<suite::Outcome>,
    /// Tests not yet implemented (reported as skipped).
    pub todo: usize,
    pub elapsed: Duration,
    pub timing: Option<Timing>,
}

/// Per suite, one row per check and one column per arch: `ok`, `FAIL` or `-` (not run there).
pub fn print_matrix(runs: &[ArchRun]) {
    let mut suites: Vec<SuiteSel> = Vec::new();
    for r in runs {
        if !suites.contains(&r.suite) {
            suites.push(r.suite);
        }
    }
    for suite in suites {
        let cols: Vec<&ArchRun> = runs.iter().filter(|r| r.suite == suite).collect();
        let mut names: Vec<&str> = Vec::new();
        for r in &cols {
            for o in &r.outcomes {
                let short = o.name.split(" (").next().unwrap_or(&o.name);
                if !names.contains(&short) {
                    names.push(short);
                }
            }
        }
        println!();
        let head: Vec<String> = cols.iter().map(|r| format!("{:>8}", r.arch.name())).collect();
        println!("{:48}{}", format!("{suite:?} suite").to_lowercase(), head.join(""));
        for n in names {
            let cells: Vec<String> = cols
                .iter()
                .map(|r| {
                    let cell = match r.outcomes.iter().find(|o| o.name.split(" (").next() == Some(n)) {
                        Some(o) if o.result.is_ok() => "ok",
                        Some(_) => "FAIL",
                        None => "-",
                    };
                    format!("{cell:>8}")
                })
                .collect();
            println!("  {n:46}{}", cells.join(""));
        }
    }
    println!();
}

/// Boot timing on the kernel log's clock (µs since boot).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The kernel's "Run /init as init process".
    run_init: u64,
    /// The first program PID 1 started (the setup task).
    first_child: u64,
    /// The first service (the seed scenario's, through dmz).
    first_service: u64,
}

impl Timing {
    pub fn describe(&self) -> String {
        format!(
            "kernel→/init {:.0} ms, /init→first child {:.0} ms, /init→first service {:.0} ms",
            self.run_init as f64 / 1000.0,
            self.first_child.saturating_sub(self.run_init) as f64 / 1000.0,
            self.first_service.saturating_sub(self.run_init) as f64 / 1000.0
        )
    }
}

/// Probes report their exec time on CLOCK_BOOTTIME; a root probe also reports the kernel
/// log's timestamp of "Run /init" and one (log, CLOCK_BOOTTIME) pair to convert between them.
pub fn boot_timing(c: &console::Console) -> Option<Timing> {
    let (key, clock) = c.obs.iter().find(|((_, k), _)| k == "kmsg-clock")?;
    let run_init: u64 = c.get(&key.0, "kmsg-run-init-us")?.parse().ok()?;
    let mut it = clock.first()?.split(' ').map(|v| v.parse::<i64>());
    let (Some(Ok(log)), Some(Ok(boottime))) = (it.next(), it.next()) else { return None };
    let on_log_clock = |v: &str| v.parse::<i64>().ok().map(|t| (t + log - boottime).max(0) as u64);
    let first_child = c
        .obs
        .iter()
        .filter(|((_, k), _)| k == "exec-us")
        .filter_map(|(_, v)| on_log_clock(v.first()?))
        .min()?;
    let first_service = on_log_clock(c.get(scenario::services()[0].tag, "exec-us")?)?;
    Some(Timing { run_init, first_child, first_service })
}

pub fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    | {l}")).collect::<Vec<_>>().join("\n")
}
