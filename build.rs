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
//!
//! It also lays the binary's code out in the order of
//! `link/symbol-order.txt` (issue 10): the functions a server runs to start,
//! sign its owner in and verify tokens first, together, and everything else
//! after. The kernel maps code into a process 64 KiB at a time around each
//! first use, so executed functions scattered across the 4.5 MB of code
//! kept most of it resident (3.9 MB after start-up and one sign-in);
//! packed together they take 1 MB, and idle RSS went from 8.2 to 6.6 MB.
//! The file names the symbols of one release build (`bench/symbol_order.sh`
//! writes it): a name it does not find in a build — after a dependency or
//! compiler upgrade — is skipped, which costs memory, never correctness.
//! The ordering is a flag of LLD, the linker Rust uses on x86-64 Linux
//! since 1.90, so it is only passed there, and not when a linker of one's
//! own is configured.
//!
//! `DOORSTEP_LINK_MAP=path` writes the linker's map of the binary there,
//! for `bench/symbol_order.sh`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/symbol-order.txt");
    println!("cargo:rerun-if-env-changed=DOORSTEP_LINK_MAP");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let (target, host) = (env("TARGET"), env("HOST"));
    if target == host && target.ends_with("-linux-gnu") && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    if target == "x86_64-unknown-linux-gnu"
        && target == host
        && env("RUSTC_LINKER").is_empty()
        && rustc_uses_lld()
    {
        let order = Path::new(&env("CARGO_MANIFEST_DIR")).join("link/symbol-order.txt");
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
        let map = env("DOORSTEP_LINK_MAP");
        if !map.is_empty() {
            println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
        }
    }
}

/// Whether rustc links with its own LLD: the default on x86-64 Linux from
/// 1.90 on, unless the flags choose otherwise.
fn rustc_uses_lld() -> bool {
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if ["linker", "link-self-contained", "fuse-ld"]
        .iter()
        .any(|f| flags.contains(f))
    {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(release) = text.lines().find_map(|l| l.strip_prefix("release: ")) else {
        return false;
    };
    let mut parts = release.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 90),
        _ => false,
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
