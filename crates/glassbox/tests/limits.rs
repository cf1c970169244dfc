//! Memory bounds: files that claim more than they hold, or more than fits, are refused
//! with a message naming the file — before the memory is taken. One test, alone in its
//! binary, so the peak resident memory it measures is its own.

use glassbox::data::{csv, idx, image_folder, ImageShape};
use std::io::Write;

/// The process's peak resident memory so far, in MiB (Linux; 0 elsewhere).
fn peak_mib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    // Signature and an IHDR chunk (its CRC is not checked before the size limits), then
    // a few bytes of IDAT: a decoder learns the size before any pixel.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png.extend([0, 0, 0, 2, b'I', b'D', b'A', b'T', 0x78, 0x9c, 0, 0, 0, 0]);
    png
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn claims_beyond_the_data_or_memory_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let before = peak_mib();

    // An IDX header that claims 4 × 10⁹ images of 250 000 × 1 000 pixels (10¹⁸ values)
    // and one that claims 4 × 10⁹ images of 28 × 28 (3 × 10¹² values, 12 TB as f32),
    // each in a 16-byte file.
    for (count, rows, cols) in [
        (4_000_000_000u32, 250_000u32, 1_000u32),
        (4_000_000_000, 28, 28),
    ] {
        let path = dir.path().join(format!("claims-{rows}"));
        let mut header = 0x803u32.to_be_bytes().to_vec();
        for v in [count, rows, cols] {
            header.extend(v.to_be_bytes());
        }
        std::fs::write(&path, &header).unwrap();
        let err = idx::load_images(&path).unwrap_err().to_string();
        assert!(err.contains("claims-"), "{err}");
        assert!(
            err.contains("truncated") || err.contains("too large") || err.contains("memory"),
            "{err}"
        );
    }
    // Labels: 4 × 10⁹ announced, 3 present.
    let labels = dir.path().join("labels");
    let mut bytes = 0x801u32.to_be_bytes().to_vec();
    bytes.extend(4_000_000_000u32.to_be_bytes());
    bytes.extend([1, 2, 3]);
    std::fs::write(&labels, &bytes).unwrap();
    let err = idx::load_labels(&labels).unwrap_err().to_string();
    assert!(err.contains("labels") && err.contains("expected"), "{err}");

    // A PNG that would decode to 100 000 × 100 000 pixels (10 GB as grey bytes).
    let png = dir.path().join("huge.png");
    std::fs::write(&png, png_header(100_000, 100_000)).unwrap();
    let err = image_folder::load_image(&png, ImageShape::new(28, 28, 1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("huge.png") && err.contains("larger than glassbox reads"),
        "{err}"
    );

    // A CSV whose first line never ends (here 65 MiB; a 4 GB line is refused after the
    // same 64 MiB).
    let csv_path = dir.path().join("one-line.csv");
    let mut file = std::fs::File::create(&csv_path).unwrap();
    let block = vec![b'1'; 1 << 20];
    for _ in 0..65 {
        file.write_all(&block).unwrap();
    }
    drop(file);
    let err = csv::load(&csv_path, &csv::CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 1") && err.contains("longer than 64 MiB"),
        "{err}"
    );

    let grown = peak_mib().saturating_sub(before);
    assert!(grown < 200, "peak memory grew by {grown} MiB");
}
