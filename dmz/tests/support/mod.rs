//! Shared helpers for the tests of the real dmz binary: its path, a directory of its own for
//! each test, configs as bytes.
#![allow(dead_code)] // each test file uses a different subset

use dmz::config::{Config, MAX_CONFIG_LEN};
use std::path::PathBuf;

/// The dmz binary cargo built for these tests.
pub const DMZ: &str = env!("CARGO_BIN_EXE_dmz");

/// A directory of its own for each test, removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("dmz-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    /// Writes `blob` as a config file; returns its path.
    pub fn config(&self, blob: &[u8]) -> PathBuf {
        let f = self.0.join("cfg.pcfg");
        std::fs::write(&f, blob).unwrap();
        f
    }

    /// A file that a target which must never start would create.
    pub fn marker(&self) -> PathBuf {
        self.0.join("started")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `items` as a config string list (each followed by its NUL).
pub fn list(items: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    dmz::config::push_strings(&mut v, items.iter().map(|s| s.as_bytes())).unwrap();
    v
}

/// `c` encoded (header and body).
pub fn encode(c: &Config) -> Vec<u8> {
    let mut out = vec![0; MAX_CONFIG_LEN];
    let n = c.encode(&mut out).unwrap();
    out.truncate(n);
    out
}
