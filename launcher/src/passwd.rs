//! User and group names from /etc/passwd and /etc/group, resolved in the launcher (never in
//! dmz), as runc resolves them. dmz runs the target on the caller's root, so these are the
//! caller's files.

use std::path::Path;

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

fn entries(file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(Path::new(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').map(String::from).collect())
        .collect()
}

/// `uid` or `name` → (uid, primary gid if the user has an entry).
pub fn user(spec: &str) -> Result<(u32, Option<u32>), String> {
    let all = entries(PASSWD);
    if let Ok(uid) = spec.parse::<u32>() {
        let gid = all.iter().find(|f| f.len() >= 4 && f[2] == spec).and_then(|f| f[3].parse().ok());
        return Ok((uid, gid));
    }
    all.iter()
        .find(|f| f.len() >= 4 && f[0] == spec)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok())))
        .ok_or_else(|| format!("no user {spec:?} in {PASSWD}"))
}

/// `gid` or `name` → gid.
pub fn group(spec: &str) -> Result<u32, String> {
    if let Ok(gid) = spec.parse::<u32>() {
        return Ok(gid);
    }
    entries(GROUP)
        .iter()
        .find(|f| f.len() >= 3 && f[0] == spec)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| format!("no group {spec:?} in {GROUP}"))
}

/// The home directory of `uid`, if it has a passwd entry.
pub fn home(uid: u32) -> Option<String> {
    entries(PASSWD).into_iter().find(|f| f.len() >= 6 && f[2].parse() == Ok(uid)).map(|f| f[5].clone())
}
