//! The database file itself, beneath SQLite. It holds the password hash and
//! every grant, so:
//! - doorstep creates it (SQLite never does: no connection is opened with
//!   `SQLITE_OPEN_CREATE`), with mode 0600 whatever the umask. SQLite gives
//!   the `-wal` and `-shm` files it creates the main file's permission bits
//!   (os_unix.c, `findCreateFileMode`), so they are 0600 too; backups are
//!   created here, 0600, before SQLite writes into them;
//! - a file that others can read is narrowed to its owner's bits, loudly;
//! - the file is known by its device and inode, so that a running server can
//!   tell, cheaply and off the request path, that the path no longer leads
//!   to the file it opened (deleted, or replaced by another);
//! - an I/O error about the path becomes a reason in plain words.
//!
//! Nothing here runs on the token-verification hot path.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Which file a path led to when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    dev: u64,
    ino: u64,
}

/// The identity of the file at `path` now (following symlinks, as SQLite
/// does).
#[cfg(unix)]
pub(super) fn identify(path: &Path) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Elsewhere only the file's existence is watched.
#[cfg(not(unix))]
pub(super) fn identify(path: &Path) -> io::Result<FileId> {
    std::fs::metadata(path).map(|_| FileId { dev: 0, ino: 0 })
}

/// `<database>-wal` or `<database>-shm`.
pub(super) fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The `-wal` and `-shm` files SQLite keeps beside the database.
pub(super) fn sqlite_companions(path: &Path) -> [PathBuf; 2] {
    [companion(path, "-wal"), companion(path, "-shm")]
}

/// The directory the database (and SQLite's companions) live in.
pub(super) fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `path`, which must not exist yet, readable and writable by its
/// owner only. The mode is set again after creation because the one given to
/// `open` passes through the umask.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// Makes sure the database can be used for writing before SQLite opens it,
/// creating it (0600) if it does not exist. Returns whether it was created,
/// so that a start-up that fails afterwards can take it away again.
pub(super) fn create_or_open(path: &Path) -> Result<bool, String> {
    let dir = directory(path);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "the directory {} does not exist; create it, or set `database` to another path",
                dir.display()
            ));
        }
        Err(e) => return Err(format!("cannot reach {}: {}", dir.display(), reason(&e))),
    }
    if let Some(trouble) = missing_with_leftovers(path) {
        return Err(trouble);
    }
    match create_private(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            open_for_writing(path).map(|()| false)
        }
        Err(e) => Err(cannot_create_in(dir, &e)),
    }
}

/// The name of the copy saved when the database went away at `now`.
pub(super) fn rescue_path(path: &Path, now: i64) -> PathBuf {
    companion(path, &format!("{RESCUED}{now}"))
}

/// Why a database that is not there must not simply be created anew: a
/// copy saved when it went away under the server, or a -wal file of the
/// database that is gone. `None` when the file exists or nothing is left.
pub(super) fn missing_with_leftovers(path: &Path) -> Option<String> {
    if path.exists() {
        return None;
    }
    if let Some(copy) = rescued_copy(path) {
        return Some(format!(
            "it does not exist, and doorstep saved {} when the database went away under it. \
             Move that copy to {} to keep what it holds, or remove it to start with a new, empty \
             database",
            copy.display(),
            path.display()
        ));
    }
    let wal = companion(path, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Some(format!(
            "it does not exist, but {} does: that belongs to a database that is gone, and SQLite \
             would mix it into a new one. Restore the database (when doorstep notices a deletion \
             it saves a copy named {}.rescued-TIME), or remove {} and {} to start afresh",
            wal.display(),
            path.display(),
            wal.display(),
            companion(path, "-shm").display()
        ));
    }
    None
}

const RESCUED: &str = ".rescued-";

/// A copy saved by `Store::rescue` beside `path`, if there is one.
fn rescued_copy(path: &Path) -> Option<PathBuf> {
    let mut prefix = path.file_name()?.to_owned();
    prefix.push(RESCUED);
    let prefix = prefix.to_str()?.to_owned();
    std::fs::read_dir(directory(path))
        .ok()?
        .flatten()
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
}

fn open_for_writing(path: &Path) -> Result<(), String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("the file is not writable: {}", reason(&e)))
}

fn cannot_create_in(dir: &Path, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::StorageFull => "the disk is full".into(),
        _ => format!(
            "the directory {} is not writable: {}",
            dir.display(),
            reason(e)
        ),
    }
}

/// Why SQLite could not write the database, found out by doing what it
/// needs: creating files in the directory (its `-wal`, and a 32 KiB `-shm`)
/// and opening the database for writing. Only called after a failure, at
/// start-up.
pub(super) fn diagnose_unwritable(path: &Path) -> Option<String> {
    use std::io::Write;
    let dir = directory(path);
    let probe = companion(path, &format!(".probe-{}", std::process::id()));
    let written = match create_private(&probe) {
        Err(e) if e.kind() == io::ErrorKind::StorageFull => Err(reason(&e)),
        Err(e) => Err(format!(
            "{}, and SQLite creates its -wal and -shm files there",
            cannot_create_in(dir, &e)
        )),
        Ok(mut f) => f
            .write_all(&[0; 64 * 1024])
            .and_then(|()| f.sync_all())
            .map_err(|e| reason(&e)),
    };
    let _ = std::fs::remove_file(&probe);
    written
        .err()
        .or_else(|| open_for_writing(path).err())
        .or_else(|| {
            // A -wal or -shm left read-only (by a process of another user,
            // or with another umask) keeps the database read-only even
            // once the database file itself is writable.
            sqlite_companions(path)
                .iter()
                .find_map(|p| match std::fs::metadata(p) {
                    Ok(_) => open_for_writing(p).err().map(|why| {
                        format!("{} ({why}); SQLite needs to write it too", p.display())
                    }),
                    Err(_) => None,
                })
        })
}

/// Removes the group and other permission bits of the database and of its
/// `-wal` and `-shm` files, if any are set (a database made by an older
/// doorstep, or copied in with a permissive umask). Never adds a bit: a
/// file made read-only stays read-only.
/// Called once the file is known to be doorstep's database (`Store::open`).
#[cfg(unix)]
pub(super) fn make_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for p in std::iter::once(path.to_owned()).chain(sqlite_companions(path)) {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        let narrowed = mode & 0o700;
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(narrowed)) {
            Ok(()) => tracing::warn!(
                file = %p.display(),
                "{} was readable by other users (mode {mode:o}); changed it to {narrowed:o}",
                p.display()
            ),
            Err(e) => tracing::warn!(
                file = %p.display(),
                error = %crate::errors::error_chain(&e),
                "{} is readable by other users (mode {mode:o}) and doorstep cannot change that; \
                 make it readable by doorstep's user only (chmod 600)",
                p.display()
            ),
        }
    }
}

#[cfg(not(unix))]
pub(super) fn make_private(_: &Path) {}

/// An I/O error about a database path, in plain words.
pub(super) fn reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        NotFound => "it does not exist".into(),
        PermissionDenied => "permission denied".into(),
        AlreadyExists => "it already exists".into(),
        ReadOnlyFilesystem => "the file system is read-only".into(),
        StorageFull => "the disk is full".into(),
        NotADirectory => "a part of the path is not a directory".into(),
        IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_named_in_plain_words() {
        let full = io::Error::from_raw_os_error(28); // ENOSPC
        assert_eq!(reason(&full), "the disk is full");
        let rofs = io::Error::from_raw_os_error(30); // EROFS
        assert_eq!(reason(&rofs), "the file system is read-only");
        let denied = io::Error::from_raw_os_error(13); // EACCES
        assert_eq!(reason(&denied), "permission denied");
    }

    #[test]
    fn the_directory_of_a_bare_file_name_is_the_current_one() {
        assert_eq!(directory(Path::new("doorstep.db")), Path::new("."));
        assert_eq!(directory(Path::new("/var/lib/d.db")), Path::new("/var/lib"));
    }

    #[cfg(unix)]
    #[test]
    fn make_private_removes_group_and_other_bits_and_never_adds_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        let wal = companion(&db, "-wal");
        std::fs::write(&db, b"").unwrap();
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o444)).unwrap();
        make_private(&db);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o400, "a read-only file stays read-only");
    }
}
