// The link recipe for dmzkit's no-libc binaries, shared by the build scripts of dmz and init
// (`include!`d, so both link exactly the same way).
//
// Two linker flavours:
// - rust-lld called directly (the cross targets; `.cargo/config.toml` sets `linker`), and
// - the host's cc driver (x86_64-unknown-linux-gnu, whose std crates need it), which takes
//   linker options behind -Wl, and needs -nostartfiles to keep crt1.o's _start out.
// Cargo tells build scripts the configured linker in RUSTC_LINKER.

/// Emits `cargo:rustc-link-arg-bins` for the linker script and flags.
fn emit_link_recipe() {
    emit_link_recipe_for("bins");
}

/// The same recipe for another kind of target, e.g. `examples` (no-libc helper programs).
fn emit_link_recipe_for(kind: &str) {
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let script = manifest.join("../linker/link.ld").canonicalize().expect("linker/link.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=../linker/recipe.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");

    let linker = std::env::var("RUSTC_LINKER").unwrap_or_default();
    let direct = linker.ends_with("rust-lld") || linker.ends_with("ld.lld");
    // Options for the linker itself.
    let ld = [
        format!("-T{}", script.display()), // R / RX / RW segments, unwind tables discarded
        "--build-id=none".into(),          // no .note.gnu.build-id
        "--no-eh-frame-hdr".into(),        // nothing unwinds (panic=abort)
        "-znorelro".into(),                // no PT_GNU_RELRO: nothing is relocated at run time
        "-znoexecstack".into(),            // PT_GNU_STACK without X
        "--gc-sections".into(),            // drop unreferenced functions and data
        "-static".into(),                  // no interpreter, no dynamic section
    ];
    if direct {
        for a in &ld {
            println!("cargo:rustc-link-arg-{kind}={a}");
        }
    } else {
        // cc driver: no crt objects, no libc, no PIE (there is no self-relocation code).
        for a in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
            println!("cargo:rustc-link-arg-{kind}={a}");
        }
        for a in &ld {
            println!("cargo:rustc-link-arg-{kind}=-Wl,{a}");
        }
    }
}
