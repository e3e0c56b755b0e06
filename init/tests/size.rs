//! The size budget of the init issue: the stripped x86_64 init at most 32 KiB.
//! (Release builds are stripped by the workspace profile; `cargo test --release` tests them.)

#[test]
#[cfg(target_arch = "x86_64")]
fn stripped_init_fits_32_kib() {
    let path = env!("CARGO_BIN_EXE_init");
    let size = std::fs::metadata(path).unwrap().len();
    if cfg!(debug_assertions) {
        panic!("run this test on the release build (cargo test --release): {path} is a debug build");
    }
    assert!(size <= 32 * 1024, "{path} is {size} bytes, over the 32 KiB budget");
}
