// The probes link exactly like dmz and init: the shared recipe. It finds the linker script at
// `$CARGO_MANIFEST_DIR/../linker/`, which for this crate is `qemu-tests/linker`, a symlink to
// the workspace's `linker/` directory.
include!("../../linker/recipe.rs");

fn main() {
    emit_link_recipe();
}
