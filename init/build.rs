include!("../linker/recipe.rs");

fn main() {
    emit_link_recipe();
    emit_link_recipe_for("examples"); // examples/rss_probe.rs, a benchmark helper
}
