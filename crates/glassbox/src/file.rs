//! Files written whole or not at all: the one writer of every file glassbox makes.
//!
//! A leaf module: it uses nothing of the crate but its error type, so every other module
//! (the data sets, the model files, the int8 files, the checkpoints) can write through it.

use crate::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: to a temporary file beside it (`tempfile`'s
/// `NamedTempFile`, in the same directory so that the rename stays on one file system),
/// flushed to disk, then renamed over `path`. A reader sees the old file or the new one,
/// never half of one; on failure the temporary file is removed and an existing `path` is
/// left as it was. Every file glassbox writes goes through here: models, ONNX and PyTorch
/// exports, data sets, and the command line's plots and histories.
///
/// # Errors
/// [`Error::Io`] naming `path` when it is a directory or ends in `..`, its directory does
/// not exist, or the file cannot be written or renamed.
pub fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let failed = |kind, message: &str| Error::io(path, std::io::Error::new(kind, message));
    let Some(name) = path.file_name() else {
        return Err(failed(
            std::io::ErrorKind::InvalidInput,
            "not a file name (the path ends in `..` or `/`)",
        ));
    };
    if path.is_dir() {
        return Err(failed(
            std::io::ErrorKind::IsADirectory,
            "is a directory; give a file name",
        ));
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // The permissions of a new file (0o666 less the umask), not tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    // Errors are named after the target: the temporary file is an implementation detail,
    // and it is removed when `temporary` is dropped without being persisted.
    let mut temporary = builder.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    temporary
        .write_all(bytes)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    temporary
        .persist(path)
        .map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable. Some platforms cannot open a directory to sync it;
    // the file is already complete and in place, so that is not an error.
    if let Ok(directory) = fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomically_replaces_a_file_whole_with_the_usual_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            // As a file created by fs::write: 0o666 less the umask, not tempfile's 0o600.
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain.txt");
            fs::write(&plain, b"x").unwrap();
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&path), mode(&plain));
        }
        // A path ending in `..` names no file.
        let e = write_atomically(dir.path().join(".."), b"x").unwrap_err();
        assert!(e.to_string().contains("not a file name"), "{e}");
    }
}
