include!("../linker/recipe.rs");

fn main() {
    emit_link_recipe();
}
