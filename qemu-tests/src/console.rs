//! The structured lines the in-VM programs print (qemu-probes' crate docs have the format),
//! parsed from a console transcript.

use std::collections::BTreeMap;

pub const OBS: &str = "DMZKIT-OBS ";
pub const TEST: &str = "DMZKIT-TEST ";
pub const END: &str = "DMZKIT-END ";
pub const BOOT: &str = "DMZKIT-BOOT ";

#[derive(Default, Debug)]
pub struct Console {
    /// (tag, key) → values in the order seen (a restarted service reports more than once).
    pub obs: BTreeMap<(String, String), Vec<String>>,
    /// name → (passed, detail); a name reported twice keeps the first failure.
    pub verdicts: BTreeMap<String, (bool, String)>,
    pub lines: Vec<String>,
}

impl Console {
    pub fn parse(lines: &[String]) -> Console {
        let mut c = Console { lines: lines.to_vec(), ..Default::default() };
        for l in lines {
            // A line may carry kernel or other output before the marker (no newline between
            // writers); the marker is looked for anywhere in the line.
            if let Some(i) = l.find(OBS) {
                let rest = &l[i + OBS.len()..];
                let mut it = rest.splitn(3, ' ');
                if let (Some(tag), Some(key)) = (it.next(), it.next()) {
                    let value = it.next().unwrap_or("").to_string();
                    c.obs.entry((tag.to_string(), key.to_string())).or_default().push(value);
                }
            } else if let Some(i) = l.find(TEST) {
                let rest = &l[i + TEST.len()..];
                let mut it = rest.splitn(3, ' ');
                if let (Some(name), Some(result)) = (it.next(), it.next()) {
                    let detail = it.next().unwrap_or("").to_string();
                    let pass = result == "PASS";
                    let e = c.verdicts.entry(name.to_string()).or_insert((pass, detail.clone()));
                    if e.0 && !pass {
                        *e = (pass, detail);
                    }
                }
            }
        }
        c
    }

    /// The first value of observation (tag, key).
    pub fn get(&self, tag: &str, key: &str) -> Option<&str> {
        self.obs.get(&(tag.to_string(), key.to_string())).and_then(|v| v.first()).map(String::as_str)
    }

    /// The first line containing `marker`.
    pub fn find(&self, marker: &str) -> Option<&str> {
        self.lines.iter().find(|l| l.contains(marker)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_observations_and_verdicts() {
        let lines: Vec<String> = [
            "[    1.0] noise",
            "DMZKIT-OBS seed CapPrm 0000000000000400",
            "DMZKIT-OBS seed Groups ",
            "junkDMZKIT-OBS crash exec-ms 10",
            "DMZKIT-OBS crash exec-ms 20",
            "DMZKIT-TEST zombies PASS 8 orphans",
            "DMZKIT-TEST w FAIL x",
            "DMZKIT-TEST w PASS y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = Console::parse(&lines);
        assert_eq!(c.get("seed", "CapPrm"), Some("0000000000000400"));
        assert_eq!(c.get("seed", "Groups"), Some(""));
        assert_eq!(c.obs[&("crash".to_string(), "exec-ms".to_string())], ["10", "20"]);
        assert_eq!(c.verdicts["zombies"], (true, "8 orphans".to_string()));
        assert!(!c.verdicts["w"].0);
    }
}
