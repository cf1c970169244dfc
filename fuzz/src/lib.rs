//! What the fuzz targets share: glassbox's loaders read files, so each input is
//! written to a file in a RAM-backed directory of this process first.

use std::path::PathBuf;

/// Writes `data` to `name` in this process's scratch directory (in /dev/shm when there
/// is one) and returns the path.
pub fn file(data: &[u8], name: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("glassbox-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("the input written");
    path
}
