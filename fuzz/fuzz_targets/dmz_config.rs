//! dmz: header + body decode, validation and the transition, against the checking kernel.
//!
//! Input: 3 control bytes, then a config blob. Control byte 0: bit 0 set keeps the blob's
//! header as it is (else its length and CRC are made right, so mutations reach the body);
//! bits 1-2 pick the kernel's last capability; bits 3-5 all clear: through `dmz::run` with its
//! report (else without the report, which is slow to write under instrumentation). Byte 1: the call to fail (0: none, n: call
//! n-1). Byte 2: its errno.
#![no_main]

use dmzkit_fuzz::{fix_header, Recorder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, fail, errno], blob)) = data.split_first_chunk::<3>() else { return };
    let mut blob = blob.to_vec();
    if mode & 1 == 0 {
        fix_header(&mut blob);
    }
    // One canonical form: what decodes, postcard re-encodes to the same bytes (when its args,
    // env and cwd are strings the launcher's `Dmz` holds; dmz's own writer gives any back).
    if let Ok(cfg) = dmz::Config::decode(&blob) {
        if let Some(m) = launcher::wire::Dmz::from_config(&cfg) {
            let again = m.blob().expect("a decoded config re-encodes");
            assert_eq!(again, blob, "a decoded config re-encodes to the same bytes");
        }
        let mut out = vec![0u8; blob.len()];
        let n = cfg.encode(&mut out).expect("dmz's writer re-encodes a decoded config");
        assert_eq!(out[..n], blob[..], "dmz's writer gives the bytes back");
    }
    let last_cap = [40, 0, 63, 37][(mode >> 1 & 3) as usize];
    let fail_at = fail.checked_sub(1).map(usize::from);
    let errno = [1, 13, 2, 22, 20, 36, 4, 9][(errno & 7) as usize];
    let mut k = Recorder::new(last_cap);
    (k.fail_at, k.fail_errno) = (fail_at, errno);
    let code = if mode & 0x38 == 0 {
        let code = k.run(&blob);
        assert_eq!(k.reports.len(), 1, "dmz::run reports once");
        code
    } else {
        dmzkit_fuzz::run_quiet(&mut k, &blob)
    };
    k.check_run(code);
});
