//! Properties of the release dmz binary that keep it small.

/// No panic site is left in dmz: the panic handler, its message and core's panic functions
/// are not linked at all. (A new `x[i]` or `&x[a..b]` that the compiler cannot prove in
/// bounds brings them back, ~100 bytes plus each call site: prefer `get`.)
#[test]
#[cfg_attr(debug_assertions, ignore = "holds for release builds only")]
fn release_binary_has_no_panic_path() {
    let bin = std::fs::read(env!("CARGO_BIN_EXE_dmz")).unwrap();
    let msg = b"internal error (panic)";
    assert!(!bin.windows(msg.len()).any(|w| w == msg), "a panic path is linked into dmz");
}
