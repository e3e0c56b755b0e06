//! `launcher inspect`: a compiled config back to readable JSON.

use crate::names::{cap_names, RLIMITS};
use dmz::config::{strings, Config};
use serde_json::{json, Value};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes `blob` with the same decoder dmz uses and describes everything in it.
pub fn to_json(blob: &[u8]) -> Result<Value, String> {
    let c = Config::decode(blob).map_err(|e| {
        let mut line = dmz::error::Line::default();
        e.write_message(&mut line, b"");
        let msg = String::from_utf8_lossy(line.as_bytes()).trim_end().to_string();
        msg.strip_prefix("dmz: unable to ").unwrap_or(&msg).to_string()
    })?;
    let caps = c.caps.map(|k| {
        json!({
            "bounding": cap_names(k.bounding),
            "effective": cap_names(k.effective),
            "permitted": cap_names(k.permitted),
            "inheritable": cap_names(k.inheritable),
            "ambient": cap_names(k.ambient),
        })
    });
    let rlimits: Vec<Value> = c
        .rlimits
        .iter()
        .map(|r| {
            let name =
                RLIMITS.get(r.resource as usize).map_or_else(|| r.resource.to_string(), |s| s.to_string());
            json!({"type": name, "soft": r.soft, "hard": r.hard})
        })
        .collect();
    Ok(json!({
        "formatVersion": dmz::config::VERSION,
        "args": strings(c.args.0).map(text).collect::<Vec<_>>(),
        "env": strings(c.env.0).map(text).collect::<Vec<_>>(),
        "cwd": strings(c.cwd.0).next().map(text),
        "user": {
            "uid": c.uid,
            "gid": c.gid,
            "additionalGids": c.groups.to_vec(),
            "umask": format!("{:04o}", c.umask),
        },
        "capabilities": caps,
        "securebits": c.securebits,
        "noNewPrivileges": c.no_new_privs,
        "rlimits": rlimits,
        "oomScoreAdj": c.oom_score_adj,
        "preserveFds": c.preserve_fds.to_vec(),
        "seccomp": c.seccomp.map(|s| json!({"flags": s.flags, "instructions": s.program.0.len() / 8})),
    }))
}
