//! Function code: the zip a client uploads, checked and unpacked into a directory of its own.
//!
//! A zip is user input that becomes files on disk and a program that runs, so it is
//! refused unless every entry is a plain file or directory with a relative path that stays
//! inside the target: no `..`, no absolute paths, no symlinks, no device files. The bytes
//! actually inflated are counted (never the sizes the zip claims), so a zip bomb stops at
//! AWS's own unzipped limit or at an implausible compression ratio.

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// AWS's limit on the unzipped size of a function's code.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// More entries than any real function has; bounds the work one zip can cause.
const MAX_ENTRIES: usize = 10_000;
/// Compression ratios above this are a bomb, not code (executables deflate 2–5×).
const MAX_RATIO: u64 = 1_000;
/// Below this size any ratio is harmless (a file of zeros compresses very well).
const RATIO_FREE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the file is not a valid zip archive: {0}")]
    NotAZip(String),
    #[error("entry '{0}' has an unsafe path (absolute, or leaving the archive with '..')")]
    UnsafePath(String),
    #[error("entry '{0}' is a symbolic link or special file; only regular files and directories are allowed")]
    NotARegularFile(String),
    #[error("the archive has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")]
    TooLarge,
    #[error("entry '{0}' expands more than {MAX_RATIO} times: refused as a zip bomb")]
    Bomb(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CodeError + '_ {
    move |source| CodeError::Io { path: path.to_path_buf(), source }
}

/// Unpacks `zip` into `dest` (which must not exist yet). On any error nothing is left at `dest`.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<(), CodeError> {
    let staging = dest.with_extension("unpacking");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    match unpack_into(zip, &staging) {
        Ok(()) => {
            let _ = fs::remove_dir_all(dest);
            fs::rename(&staging, dest).map_err(io_err(dest))
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Checks a zip without writing anything (CreateFunction refuses bad code before storing it).
pub fn check(zip: &[u8]) -> Result<(), CodeError> {
    walk(zip, None)
}

fn unpack_into(zip: &[u8], dest: &Path) -> Result<(), CodeError> {
    walk(zip, Some(dest))
}

/// Checks every entry and, with a `dest`, writes it there.
fn walk(zip: &[u8], dest: Option<&Path>) -> Result<(), CodeError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| CodeError::NotAZip(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(CodeError::TooManyEntries);
    }
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| CodeError::NotAZip(e.to_string()))?;
        let name = entry.name().map_err(|e| CodeError::NotAZip(e.to_string()))?.to_string();
        let relative = safe_relative_path(&name)?;
        let mode = entry.unix_mode();
        let file_type = mode.map(|m| m & 0o170000);
        if entry.is_dir() {
            if file_type.is_some_and(|t| t != 0 && t != 0o040000) {
                return Err(CodeError::NotARegularFile(name));
            }
            if let Some(dest) = dest {
                let dir = dest.join(&relative);
                fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            }
            continue;
        }
        // 0 means "no type recorded" (zips made on Windows or by minimal writers).
        if file_type.is_some_and(|t| t != 0 && t != 0o100000) || entry.is_symlink() {
            return Err(CodeError::NotARegularFile(name));
        }
        let path = dest.map(|d| d.join(&relative));
        let mut file = match &path {
            Some(path) => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                Some(fs::File::create(path).map_err(io_err(path))?)
            }
            None => None,
        };
        let compressed = entry.compressed_size().max(1);
        let mut buf = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = entry.read(&mut buf).map_err(|e| CodeError::NotAZip(format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            total += n as u64;
            if total > MAX_UNZIPPED_BYTES {
                return Err(CodeError::TooLarge);
            }
            if written > RATIO_FREE_BYTES && written / compressed > MAX_RATIO {
                return Err(CodeError::Bomb(name));
            }
            if let (Some(file), Some(path)) = (file.as_mut(), &path) {
                file.write_all(&buf[..n]).map_err(io_err(path))?;
            }
        }
        if let Some(path) = &path {
            // Keep the owner's execute bit (a `bootstrap` must be executable), nothing else:
            // no setuid, no group/world write.
            let executable = mode.is_some_and(|m| m & 0o100 != 0);
            set_mode(path, if executable { 0o755 } else { 0o644 })?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), CodeError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), CodeError> {
    Ok(())
}

/// The entry's path as a relative path of normal components only.
fn safe_relative_path(name: &str) -> Result<PathBuf, CodeError> {
    if name.contains('\0') || name.contains('\\') {
        return Err(CodeError::UnsafePath(name.to_string()));
    }
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(CodeError::UnsafePath(name.to_string()));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(CodeError::UnsafePath(name.to_string()));
    }
    Ok(out)
}

/// A zip holding one executable `bootstrap` (for tests, and for `deploy` to package binaries).
/// The same binary always gives the same bytes (fixed timestamp), so `deploy` can compare
/// CodeSha256 and leave unchanged functions alone.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Level 1: a debug build's binary is ~140 MB; the default level takes 2.5× as long
    // for a zip only 15% smaller.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options).map_err(std::io::Error::other)?;
    writer.write_all(binary)?;
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes, mode) in entries {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode);
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_files_and_keeps_the_execute_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        unpack(&zip_with(&[("bootstrap", b"#!/bin/sh\n", 0o755), ("lib/data.txt", b"x", 0o644)]), &dest).unwrap();
        assert_eq!(fs::read(dest.join("lib/data.txt")).unwrap(), b"x");
        assert_eq!(fs::metadata(dest.join("bootstrap")).unwrap().permissions().mode() & 0o777, 0o755);
        assert_eq!(fs::metadata(dest.join("lib/data.txt")).unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[test]
    fn parent_and_absolute_paths_are_refused() {
        for name in ["../evil", "a/../../evil", "/etc/evil"] {
            let zip = zip_with(&[(name, b"x", 0o644)]);
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&zip, &dir.path().join("code")).unwrap_err();
            assert!(matches!(err, CodeError::UnsafePath(_)), "{name}: {err}");
            assert!(!dir.path().join("code").exists());
            assert!(!dir.path().join("evil").exists());
        }
    }

    #[test]
    fn symlinks_are_refused() {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer.add_symlink("bootstrap", "/bin/sh", zip::write::SimpleFileOptions::default()).unwrap();
        let zip = writer.finish().unwrap().into_inner();
        assert!(matches!(check(&zip), Err(CodeError::NotARegularFile(_))));
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_ratio() {
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let zip = zip_with(&[("bootstrap", &zeros, 0o755)]);
        assert!(zip.len() < 1024 * 1024, "deflate squeezes zeros");
        assert!(matches!(check(&zip), Err(CodeError::Bomb(_))));
    }

    #[test]
    fn garbage_is_not_a_zip() {
        assert!(matches!(check(b"not a zip at all"), Err(CodeError::NotAZip(_))));
    }
}
