//! Rebuilds the crate when a migration changes: `embed_migrations!` reads
//! `migrations/{sqlite,postgres}` at compile time, but a proc macro cannot
//! tell cargo which files it read, so a new or edited migration with no
//! change to this crate's sources would otherwise leave the old SQL embedded.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=build.rs");
}
