//! Link the `doorstep` binary with packed relative relocations (DT_RELR)
//! where the C library can load them (issue 10, "lean").
//!
//! A position-independent executable carries one 24-byte relocation per
//! pointer in its read-only data (about 22,000 of them, 530 KB), which the
//! loader reads at every start and which then stay resident.
//! `-z pack-relative-relocs` writes the same relocations as a bitmap of a
//! few kilobytes, keeping the executable position-independent (ASLR).
//! glibc loads such binaries from 2.36 on and refuses older ones at start,
//! so the flag is only passed when the binary is built for the machine
//! building it and that machine's glibc is 2.36 or newer; anywhere else
//! the binary is linked as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target == host && target.ends_with("-linux-gnu") && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether `getconf GNU_LIBC_VERSION` ("glibc 2.36") names at least
/// `major.minor`; false when it cannot tell.
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
