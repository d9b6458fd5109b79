//! Files roster creates that name people or hold secrets — saved plans, snapshots, the audit
//! log, a job summary it starts — are readable by their owner only (mode 0600 on Unix), and a
//! line appended to a log is written whole.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The bytes of the regular file at `path` (following links): a device, a pipe or a directory
/// is refused (`InvalidInput`), since `/dev/zero` would be read without end and a pipe may wait
/// forever.
pub(crate) fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    if irregular(path) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, NOT_REGULAR));
    }
    std::fs::read(path)
}

/// Why a file that `irregular` is cannot be read or kept.
pub(crate) const NOT_REGULAR: &str = "it is not a regular file (a directory, a device or a pipe)";

/// Whether `path` exists and is no regular file (following links): a directory, a device, a
/// pipe.
pub(crate) fn irregular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Why a UTF-16 file is refused: Windows PowerShell 5's `Out-File` and `>` write UTF-16 by
/// default, so a secrets file or an `--input` saved there is one.
pub(crate) const UTF16: &str = "it is UTF-16 text (Windows PowerShell's `Out-File` and `>` \
                                write it): save it as UTF-8, e.g. `Out-File -Encoding utf8`";

/// Whether `bytes` start with a UTF-16 byte-order mark (little- or big-endian).
pub(crate) fn is_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])
}

/// `read_regular` as UTF-8 text (`InvalidData` when it is not; a UTF-16 file, told by its
/// byte-order mark, is said to be one).
pub(crate) fn read_regular_string(path: &Path) -> io::Result<String> {
    utf8_text(read_regular(path)?)
}

/// Standard input, read to its end, as UTF-8 text of at most `limit` bytes (`InvalidData`
/// beyond, or when it is not UTF-8, as `read_regular_string` says). A terminal is refused
/// (`InvalidInput`): roster would wait for text nobody is piping in.
pub(crate) fn read_stdin_string(limit: u64) -> io::Result<String> {
    use std::io::IsTerminal as _;
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "standard input is a terminal: pipe the text in, or name a file",
        ));
    }
    let mut bytes = Vec::new();
    stdin.lock().take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is longer than {limit} bytes"),
        ));
    }
    utf8_text(bytes)
}

/// `bytes` as UTF-8 text; UTF-16 (told by its byte-order mark) is named as such.
fn utf8_text(bytes: Vec<u8>) -> io::Result<String> {
    if is_utf16(&bytes) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, UTF16));
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
}

/// Why `replace_private` leaves a path alone.
const NOT_REPLACED: &str = "it is not a regular file (a device, a pipe or a link), and roster \
                            replaces only a regular file: name another file";

/// Owner read and write, nothing for group or others.
#[cfg(unix)]
const PRIVATE: u32 = 0o600;

/// Writes `path` whole or not at all: `write` fills a new owner-only file beside it, which then
/// takes its place (a rename). A write that fails part way (a full disk, a file-size limit)
/// leaves what was there before, not a cut-off plan or snapshot, and no stray file.
///
/// # Errors
/// `IsADirectory` for a directory's path; `InvalidInput` when `path` is there and is no regular
/// file (a device, a pipe, a link — not followed); else the first error creating, writing or
/// renaming the new file.
pub(crate) fn replace_private(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    // "plan.json/" or a directory's path names no file to write.
    let name = path
        .file_name()
        .filter(|_| !path.is_dir() && !path.as_os_str().to_string_lossy().ends_with('/'))
        .ok_or_else(|| io::Error::from(io::ErrorKind::IsADirectory))?;
    // Only a regular file is replaced: the rename would put a file in place of a device
    // (`--out /dev/null` as root), a pipe or a link, and say it saved.
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, NOT_REPLACED));
    }
    // Named for this process: two rosters writing the same file each write their own.
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE);
    let written = options.open(&temporary).and_then(|mut file| {
        // A file left by an earlier process of the same id keeps its mode on open.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(PRIVATE))?;
        write(&mut file)?;
        drop(file);
        std::fs::rename(&temporary, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Writes `bytes` to `path`, replacing what was there whole (`replace_private`); the file is
/// owner-only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_private(path, |file| file.write_all(bytes))
}

/// Opens `path` for appending, creating it owner-only; with `narrow`, an existing file is made
/// owner-only too (as far as its owner may). A file that does not end in a newline (a process
/// killed in the middle of a line) gets one first, so the next line starts fresh.
pub(crate) fn open_append_private(path: &Path, narrow: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE);
    let mut file = options.open(path)?;
    #[cfg(not(unix))]
    let _ = narrow;
    #[cfg(unix)]
    if narrow {
        // Someone else's file keeps its mode: only its owner can change it.
        let _ = file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(PRIVATE));
    }
    if file.metadata()?.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

/// The directory that holds `path`: its parent, `.` for a bare file name.
pub(crate) fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// An exclusive lock on the directory that holds `path` (`flock(2)` on the directory itself),
/// held until the `File` is dropped, so that one `roster apply` at a time appends to an audit
/// log there: an apply that reads the world while another writes to it plans from what is
/// about to change, and a failed write's clean-up (`set_len` back to the last whole line) must
/// not cut another apply's lines. The directory is locked rather than the log, which an apply
/// that writes nothing never creates — the directory the log's links lead to — and the log
/// itself too where it exists (a hard link elsewhere). `Ok(None)` when another process holds
/// either.
///
/// # Errors
/// The directory cannot be opened (it does not exist, no permission) or locked.
pub(crate) fn lock_directory_of(path: &Path) -> io::Result<Option<ApplyLock>> {
    let real = resolved(path);
    let directory = File::open(directory_of(&real))?;
    if !locked(&directory)? {
        return Ok(None);
    }
    // The file too, where it is: a hard link in another directory is the same log.
    let file = match File::open(&real) {
        Ok(file) if file.metadata()?.is_file() => Some(file),
        _ => None,
    };
    if let Some(file) = &file
        && !locked(file)?
    {
        return Ok(None);
    }
    Ok(Some(ApplyLock {
        _directory: directory,
        _file: file,
    }))
}

/// The locks `lock_directory_of` took, let go when dropped.
#[derive(Debug)]
pub(crate) struct ApplyLock {
    _directory: File,
    _file: Option<File>,
}

/// Whether `handle`'s exclusive lock was taken (`false`: another process holds it).
fn locked(handle: &File) -> io::Result<bool> {
    match handle.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Where `path` leads: each symbolic link followed (at most 40, as Linux follows them), to a
/// file that need not exist yet, in its directory's canonical form. Two names of one audit log
/// (`other/link.jsonl` → `../roster-audit.jsonl`) come to one path.
fn resolved(path: &Path) -> std::path::PathBuf {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&path) {
            Ok(target) => path = directory_of(&path).join(target),
            Err(_) => break,
        }
    }
    match (std::fs::canonicalize(directory_of(&path)), path.file_name()) {
        (Ok(directory), Some(name)) => directory.join(name),
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("roster-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// While one holder keeps the directory's lock, a second is told so; once it lets go, the
    /// lock is taken. A path without a directory locks the working directory.
    #[test]
    fn one_holder_at_a_time_locks_an_audit_logs_directory() {
        let dir = scratch("lock");
        let log = dir.join("roster-audit.jsonl");
        let first = lock_directory_of(&log).unwrap().expect("free at first");
        assert!(
            lock_directory_of(&log).unwrap().is_none(),
            "held by the first"
        );
        drop(first);
        assert!(lock_directory_of(&log).unwrap().is_some(), "let go");
        assert!(
            lock_directory_of(Path::new("roster-audit.jsonl"))
                .unwrap()
                .is_some()
        );
        assert!(lock_directory_of(&dir.join("missing/roster-audit.jsonl")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_cut_line_is_ended_before_the_next_one() {
        let dir = scratch("append");
        let path = dir.join("audit.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"half\":").unwrap();
        let mut file = open_append_private(&path, true).unwrap();
        file.write_all(b"{\"b\":2}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"half\":\n{\"b\":2}\n");
        // A whole file is left as it is.
        drop(open_append_private(&path, true).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn created_and_rewritten_files_are_owner_only() {
        let dir = scratch("mode");
        let new = dir.join("plan.json");
        write_private(&new, b"{}").unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.join("old.json");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        write_private(&old, b"{}").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "{}");
        let log = dir.join("log");
        drop(open_append_private(&log, false).unwrap());
        assert_eq!(mode(&log), 0o600);
        // An audit log someone created world-readable is narrowed; a job summary is not.
        std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        drop(open_append_private(&log, false).unwrap());
        assert_eq!(mode(&log), 0o644);
        drop(open_append_private(&log, true).unwrap());
        assert_eq!(mode(&log), 0o600);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_write_that_fails_part_way_leaves_the_file_that_was_there() {
        let dir = scratch("replace");
        let path = dir.join("plan.json");
        std::fs::write(&path, "the reviewed plan").unwrap();
        let failed = replace_private(&path, |file| {
            file.write_all(b"{ half a plan")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        });
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "the reviewed plan");
        // Nothing else is left in the directory.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["plan.json"]);
        replace_private(&path, |file| file.write_all(b"{}")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        // A directory that is not there, or a directory's own path, is an error, not a panic.
        let missing = dir.join("nope").join("plan.json");
        assert_eq!(
            write_private(&missing, b"{}").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            write_private(&dir, b"{}").unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
