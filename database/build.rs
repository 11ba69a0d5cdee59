// sqlx's `migrate!` embeds the migrations at compile time but does not tell Cargo to watch the folder: a new
// migration file would not rebuild this crate without this line.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
