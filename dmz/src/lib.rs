//! dmz: applies a compiled privilege config and execs the target.
//!
//! The library half holds the config schema (shared with launcher, which encodes it), the
//! ordered transition (generic over [`transition::Kernel`] so tests can record it) and the
//! real kernel binding. The `dmz` binary (src/main.rs) reads a config and runs it.
#![cfg_attr(not(test), no_std)]

pub mod config;
pub mod error;
pub mod landlock;
pub mod transition;

#[cfg(target_os = "linux")]
pub mod sys;

pub use config::Config;
pub use error::{Error, Step};
pub use transition::{transition, validate, Kernel, Prepared};

/// Decodes, validates and runs `blob` against kernel `k`. Returns only on failure, after
/// reporting it in one line; the value is the exit status. Nothing is executed after a
/// failed step.
pub fn run<K: Kernel>(k: &mut K, blob: &[u8]) -> i32 {
    let mut cfg = Config::default();
    let (err, name) = match cfg.decode_into(blob) {
        Err(e) => (e, &[][..]),
        Ok(()) => {
            let mut p = Prepared::default();
            let err = match validate(k, &cfg, &mut p) {
                Err(e) => e,
                Ok(()) => transition(k, &cfg, &p),
            };
            let name = match err.step {
                Step::Chdir => cfg.cwd.0,
                Step::LandlockPathRule => landlock::rule_path(&cfg, err.num),
                _ => transition::program(&cfg),
            };
            (err, name)
        }
    };
    fail(k, err, name)
}

/// Reports `err` (with `name`, the path it concerns, if any) and returns its exit status.
pub fn fail<K: Kernel>(k: &mut K, err: Error, name: &[u8]) -> i32 {
    let mut line = error::Line::default();
    err.write_message(&mut line, name);
    k.report(line.as_bytes());
    err.exit_code()
}
