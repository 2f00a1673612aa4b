//! The committed header must equal a fresh cbindgen generation (pinned in
//! Cargo.lock). `make header` (PROCREAP_WRITE_HEADER=1) rewrites it.

use std::path::Path;

#[test]
fn committed_header_matches_a_fresh_generation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generation")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    let path = root.join("include/procreap.h");
    if std::env::var_os("PROCREAP_WRITE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/procreap.h is out of date: run `make header` and commit it"
    );
    let version = format!(
        "#define PROCREAP_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        fresh.contains(&version),
        "cbindgen.toml's version macros lag Cargo.toml"
    );
}
