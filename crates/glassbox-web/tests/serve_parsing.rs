//! `glassbox serve`'s request parsing on requests a client may send by mistake or in
//! malice: each gets a 400 with a message, before any memory is taken for what the
//! request only claims.

use glassbox::data::ImageShape;
use glassbox_web::serve::{predict_rows, InferRequest};
use serde_json::json;

fn infer(body: serde_json::Value, width: usize) -> Result<(usize, Vec<f32>), String> {
    let request: InferRequest = serde_json::from_value(body).unwrap();
    request.rows(width).map_err(|e| {
        assert_eq!(e.status, 400);
        e.message
    })
}

#[test]
fn an_infer_request_gives_its_rows() {
    let body = json!({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32",
                                  "data": [[1, 2, 3], [4, 5, 6]]}]});
    assert_eq!(infer(body, 3), Ok((2, vec![1., 2., 3., 4., 5., 6.])));
    let body = json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32",
                                  "data": [1, 2, 3]}]});
    assert_eq!(infer(body, 3), Ok((1, vec![1., 2., 3.])));
}

#[test]
fn a_shape_claiming_more_rows_than_memory_is_refused_without_reserving_them() {
    // 2⁶⁰ rows of 3 (the product overflows) and 10¹² rows (12 TB as f32): before, the
    // server reserved rows · width floats for the data and the process aborted.
    for rows in [1i64 << 60, 1_000_000_000_000] {
        let body = json!({"inputs": [{"name": "x", "shape": [rows, 3], "datatype": "FP32",
                                      "data": [1, 2, 3]}]});
        let err = infer(body, 3).unwrap_err();
        assert!(err.contains("shape") || err.contains("values"), "{err}");
    }
    let body = json!({"inputs": [{"name": "x", "shape": [-1, 3], "datatype": "FP32",
                                  "data": [1, 2, 3]}]});
    assert!(infer(body, 3).unwrap_err().contains("[batch, 3]"));
}

#[test]
fn a_png_claiming_100_000_by_100_000_pixels_is_refused_before_decoding() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png.extend([0, 0, 0, 2, b'I', b'D', b'A', b'T', 0x78, 0x9c, 0, 0, 0, 0]);
    let err = predict_rows(&png, "image/png", 784, Some(ImageShape::new(28, 28, 1))).unwrap_err();
    assert_eq!(err.status, 400);
    assert!(
        err.message.contains("larger than glassbox reads"),
        "{}",
        err.message
    );
}

#[test]
fn predict_bodies_are_rows_or_a_clear_refusal() {
    assert_eq!(
        predict_rows(b"[1, 2, 3]", "", 3, None).unwrap(),
        (vec![1., 2., 3.], true)
    );
    let (rows, one) = predict_rows(b"[[1, 2, 3], [4, 5, 6]]", "application/json", 3, None).unwrap();
    assert_eq!((rows.len(), one), (6, false));
    for (body, content_type, expected) in [
        (&b"[1, 2]"[..], "", "row of 3 numbers"),
        (b"[1, 2, \"x\"]", "", "not a number"),
        (b"[1e39, 2, 3]", "", "finite"),
        (b"{", "", "not a PNG, a JPEG or JSON"),
        (b"\x89PNG\r\n\x1a\n", "", "not trained on images"),
        (b"not an image", "image/jpeg", "not trained on images"),
    ] {
        let err = predict_rows(body, content_type, 3, None).unwrap_err();
        assert!(err.message.contains(expected), "{}", err.message);
    }
    let err =
        predict_rows(b"\xff\xd8\xff\x00", "", 64, Some(ImageShape::new(8, 8, 1))).unwrap_err();
    assert!(err.message.contains("image"), "{}", err.message);
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
