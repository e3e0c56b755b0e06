//! init's size budget: the stripped x86_64 init at most 48 KiB (the goal is 32 KiB).
//! (Release builds are stripped by the workspace profile; `cargo test --release` tests them.)

#[test]
#[cfg(target_arch = "x86_64")]
#[cfg_attr(debug_assertions, ignore = "sizes are of the release build: cargo test --release")]
fn stripped_init_fits_48_kib() {
    let path = env!("CARGO_BIN_EXE_init");
    let size = std::fs::metadata(path).unwrap().len();
    assert!(size <= 48 * 1024, "{path} is {size} bytes, over the 48 KiB budget");
}
