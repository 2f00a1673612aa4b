//! Gives the shared library its SONAME (`libprocreap.so.<major>`), so that
//! programs linked against `libprocreap.so` record the ABI version they were
//! built for and `make install` can lay out the usual symlinks.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if os == "macos" || os == "ios" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libprocreap.{major}.dylib");
    } else if family.split(',').any(|f| f == "unix") {
        // Every other Unix target links ELF with a GNU-compatible linker.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libprocreap.so.{major}");
    }
}
