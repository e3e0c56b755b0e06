//! launcher: `inspect --json` ↔ `compile --from-json`. JSON that compiles gives a blob whose
//! inspection compiles back to the same blob; a valid blob's inspection compiles back to it.
//!
//! Input: a control byte; bit 0 clear: the rest is JSON (`compile --from-json`); set: the
//! rest is a blob (its header's length and CRC made right unless bit 1 is set).
#![no_main]

use dmzkit_fuzz::{fix_header, run_compiled};
use launcher::view::{self, View};
use libfuzzer_sys::fuzz_target;

/// blob → inspect --json → compile --from-json → the same blob.
fn round_trip(blob: &[u8]) -> View {
    let v = view::decode(blob).expect("a blob the launcher wrote is inspected");
    let json = serde_json::to_string_pretty(&v).expect("the view serializes");
    let back: View = serde_json::from_str(&json).expect("inspect's JSON reads back");
    assert_eq!(back, v, "inspect's JSON reads back to the same view");
    let c = back.to_compiled().unwrap_or_else(|e| panic!("inspect's JSON does not compile: {e}\n{json}"));
    assert_eq!(
        c.encode().expect("re-encodes"),
        blob,
        "inspect --json → compile --from-json changed the blob\n{json}"
    );
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        let Ok(v) = serde_json::from_slice::<View>(rest) else { return };
        let Ok(c) = v.to_compiled() else { return };
        let Ok(blob) = c.encode() else { return };
        run_compiled(&blob);
        round_trip(&blob);
    } else {
        let mut blob = rest.to_vec();
        if mode & 2 == 0 {
            fix_header(&mut blob);
        }
        // What the launcher can have written: a config dmz takes, with text strings.
        let Ok(cfg) = dmz::Config::decode(&blob) else { return };
        if !dmzkit_fuzz::validates(&mut dmzkit_fuzz::Recorder::new(40), &cfg) {
            return;
        }
        if [cfg.args.0, cfg.env.0, cfg.cwd.0].iter().any(|s| std::str::from_utf8(s).is_err()) {
            return;
        }
        round_trip(&blob);
    }
});
