//! Training data bigger than memory: 8-bit rows read from their file as they are used.
//!
//! A streamed [`Dataset`](super::Dataset) holds only its labels; row i's pixels are the
//! `width` bytes at `offset + i · width` of an uncompressed file (an IDX images file, or
//! any file of raw rows after a header), read with one positioned read when the trainer
//! fills a batch. The operating system's page cache holds what fits in memory; the
//! process's own memory does not grow with the file.
//!
//! **Order.** Reading rows in a uniformly random order is fine while the file sits in
//! the page cache, but a file bigger than memory would be read 784 bytes at a time from
//! random places on the disk. So a streamed data set is shuffled in blocks
//! ([`shuffle_in_blocks`]):
//!
//! ```text
//! rows   → blocks of BLOCK_ROWS consecutive rows      (read as one run of bytes)
//! blocks → shuffled                                   (a new order every epoch)
//! the rows of each WINDOW_BLOCKS blocks in that order → shuffled together
//! ```
//!
//! A batch of 128 then holds rows from up to 32 places in the file, and the data is read
//! as runs of a block. While the trainer works on one window, a helper thread asks the
//! kernel to read the next window's blocks (`read_ahead`, `posix_fadvise`), so their
//! bytes are in the page cache when the batches ask for them.

use crate::rng::Rng;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Rows per block: consecutive rows that are read as one run (784 KiB of 784-byte rows).
pub const BLOCK_ROWS: usize = 1024;

/// Blocks per window: the rows of this many blocks are shuffled together (32 768 rows).
pub const WINDOW_BLOCKS: usize = 32;

/// Rows of bytes in a file, read on demand.
#[derive(Debug, Clone)]
pub(crate) struct PixelFile {
    file: Arc<File>,
    path: PathBuf,
    /// Where row 0 starts.
    offset: u64,
    /// The first read error, kept for [`PixelFile::error`] (a read inside a training
    /// step cannot return one).
    error: Arc<Mutex<Option<io::Error>>>,
}

impl PartialEq for PixelFile {
    /// The same file from the same offset.
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.offset == other.offset
    }
}

impl PixelFile {
    /// Opens `path`, whose rows start at `offset`, and checks that it holds at least
    /// `bytes` bytes after it.
    pub(crate) fn open(path: &Path, offset: u64, bytes: u64) -> io::Result<PixelFile> {
        let file = File::open(path)?;
        let length = file.metadata()?.len();
        if length < offset + bytes {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "expected {} bytes ({bytes} after a {offset}-byte header), found {length}",
                    offset + bytes
                ),
            ));
        }
        Ok(PixelFile {
            file: Arc::new(file),
            path: path.to_path_buf(),
            offset,
            error: Arc::default(),
        })
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the `buf.len()` bytes at value index `at` (row i starts at i · width).
    /// On failure `buf` is zeroed and the error kept for [`PixelFile::error`].
    pub(crate) fn read(&self, at: usize, buf: &mut [u8]) {
        if let Err(e) = read_exact_at(&self.file, buf, self.offset + at as u64) {
            buf.fill(0);
            let mut first = self.error.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert(e);
        }
    }

    /// Asks the operating system to start reading the `len` bytes at value index `at`
    /// into its page cache, without waiting and without copying them here
    /// (`posix_fadvise(WILLNEED)`; nothing on systems without it).
    pub(crate) fn read_ahead(&self, at: usize, len: usize) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let (Ok(offset), Ok(len)) = (
                libc::off_t::try_from(self.offset + at as u64),
                libc::off_t::try_from(len),
            ) else {
                return;
            };
            // SAFETY: a plain system call on an open descriptor; it only advises the
            // kernel and touches no memory of this process. Its result is a hint's.
            unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    offset,
                    len,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
        #[cfg(not(unix))]
        let _ = (at, len);
    }

    /// Reads `values` bytes from value index `at` and writes x = p / 255 for each.
    pub(crate) fn read_values(&self, at: usize, out: &mut [f32]) {
        let mut buf = [0u8; 4096];
        for (k, part) in out.chunks_mut(buf.len()).enumerate() {
            let bytes = &mut buf[..part.len()];
            self.read(at + k * 4096, bytes);
            for (x, &p) in part.iter_mut().zip(bytes.iter()) {
                *x = super::pixel_value(p);
            }
        }
    }

    /// The first read error since the file was opened, if any: the rows it failed to
    /// read were used as zeros.
    pub(crate) fn error(&self) -> Option<io::Error> {
        let first = self.error.lock().unwrap_or_else(|p| p.into_inner());
        first
            .as_ref()
            .map(|e| io::Error::new(e.kind(), e.to_string()))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut at: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}

/// A new order of the rows `0..order.len()` for a streamed data set, by blocks (see the
/// module's documentation): the blocks of [`BLOCK_ROWS`] rows in a random order, then
/// the rows of each [`WINDOW_BLOCKS`] consecutive blocks of that order shuffled together.
/// The result is a permutation, seeded by `rng`.
pub fn shuffle_in_blocks(order: &mut [usize], rng: &mut Rng) {
    let n = order.len();
    let mut blocks: Vec<usize> = (0..n.div_ceil(BLOCK_ROWS)).collect();
    rng.shuffle(&mut blocks);
    let rows = blocks
        .iter()
        .flat_map(|&b| b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n));
    for (slot, row) in order.iter_mut().zip(rows) {
        *slot = row;
    }
    for window in order.chunks_mut(BLOCK_ROWS * WINDOW_BLOCKS) {
        rng.shuffle(window);
    }
}

/// Reads the rows of `order` ahead, a window at a time, while the trainer uses them:
/// before the trainer reaches window w (when `used`, the rows it has taken, passes the
/// start of window w − 1), this asks the kernel to read window w's blocks
/// ([`PixelFile::read_ahead`]), so that their bytes are in the page cache when the
/// batches ask for them. (Reading them here, into a buffer, cost a tenth of the
/// training's speed on two cores: the copy competed with the trainer's threads.)
/// Returns when the order is covered or `stop` is set. The file holds `rows_in_file` rows of `width` bytes.
pub(crate) fn read_ahead(
    file: &PixelFile,
    (rows_in_file, width): (usize, usize),
    order: &[usize],
    used: &AtomicUsize,
    stop: &std::sync::atomic::AtomicBool,
) {
    let window = BLOCK_ROWS * WINDOW_BLOCKS;
    for (w, rows) in order.chunks(window).enumerate() {
        // Stay one window ahead: wait until the trainer is inside window w − 1.
        while w >= 1 && used.load(Ordering::Acquire) < (w - 1) * window {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut blocks: Vec<usize> = rows.iter().map(|&r| r / BLOCK_ROWS).collect();
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let first = b * BLOCK_ROWS;
            let last = (first + BLOCK_ROWS).min(rows_in_file);
            file.read_ahead(first * width, (last - first) * width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_in_blocks_is_a_permutation_that_moves_blocks_and_rows() {
        for n in [1, 1000, BLOCK_ROWS * WINDOW_BLOCKS * 2 + 77] {
            let mut order = vec![0; n];
            shuffle_in_blocks(&mut order, &mut Rng::new(5));
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n = {n}");
            if n > BLOCK_ROWS {
                // The first window holds rows of several blocks, not just the first.
                let blocks: std::collections::BTreeSet<usize> =
                    order[..BLOCK_ROWS].iter().map(|r| r / BLOCK_ROWS).collect();
                assert!(
                    blocks.len() > 1 || n <= 2 * BLOCK_ROWS,
                    "n = {n}: {blocks:?}"
                );
                assert_ne!(order[..100], (0..100).collect::<Vec<_>>()[..]);
            }
        }
    }
}
