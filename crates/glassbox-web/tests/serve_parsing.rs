//! `glassbox serve`'s request parsing on requests a client may send by mistake or in
//! malice: each gets a 400 with a message, before any memory is taken for what the
//! request only claims.

use glassbox::data::ImageShape;
use glassbox_web::serve::{parse_infer, predict_rows, InferRequest, Output};
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

/// A binary-tensor body (Triton's extension): the JSON header, then `bytes`.
fn binary_body(shape: &[i64], size: usize, bytes: &[u8]) -> (Vec<u8>, String) {
    let head = json!({"inputs": [{"name": "x", "shape": shape, "datatype": "FP32",
                                  "parameters": {"binary_data_size": size}}],
                      "outputs": [{"name": "class"},
                                  {"name": "probabilities", "parameters": {"binary_data": true}}]})
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend(bytes);
    (body, head.len().to_string())
}

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn refused(body: &[u8], header: Option<&str>, width: usize) -> String {
    let err = parse_infer(body, header.map(str::as_bytes), width).unwrap_err();
    assert_eq!(err.status, 400, "{}", err.message);
    err.message
}

#[test]
fn a_binary_tensor_body_gives_the_same_rows_as_json() {
    let values = [0.5, -1.25, 3.0, 1e-3, 7.0, 0.0];
    let (body, length) = binary_body(&[2, 3], 24, &le(&values));
    let parsed = parse_infer(&body, Some(length.as_bytes()), 3).unwrap();
    assert_eq!((parsed.rows, parsed.values.as_slice()), (2, &values[..]));
    assert_eq!(
        parsed.outputs,
        [(Output::Class, false), (Output::Probabilities, true)]
    );
    // The same rows as JSON, sent without any content type: all outputs, as JSON.
    let json = json!({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32",
                                  "data": values}]});
    let parsed = parse_infer(json.to_string().as_bytes(), None, 3).unwrap();
    assert_eq!(parsed.values, values);
    assert_eq!(parsed.outputs, Output::ALL.map(|o| (o, false)));
    // binary_data_output: every output binary unless it says otherwise.
    let json = json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}],
                      "outputs": [{"name": "class_index"},
                                  {"name": "class", "parameters": {"binary_data": false}}],
                      "parameters": {"binary_data_output": true}});
    let parsed = parse_infer(json.to_string().as_bytes(), None, 3).unwrap();
    assert_eq!(
        parsed.outputs,
        [(Output::ClassIndex, true), (Output::Class, false)]
    );
}

#[test]
fn binary_sizes_that_disagree_are_refused() {
    let values = le(&[1.0; 6]);
    // The size disagrees with the shape.
    let (body, length) = binary_body(&[2, 3], 20, &values[..20]);
    assert!(refused(&body, Some(&length), 3).contains("needs 24 bytes"));
    // The size agrees with the shape, but fewer bytes follow, or more.
    let (body, length) = binary_body(&[2, 3], 24, &values[..20]);
    assert!(refused(&body, Some(&length), 3).contains("20 bytes follow"));
    let mut more = values.clone();
    more.extend([0; 4]);
    let (body, length) = binary_body(&[2, 3], 24, &more);
    assert!(refused(&body, Some(&length), 3).contains("28 bytes follow"));
    // Shapes that claim 2⁶⁰ rows: the byte count overflows (refused, not wrapped round
    // to a size that matches), or the value count does; nothing is reserved.
    let (body, length) = binary_body(&[1 << 60, 3], 24, &values);
    assert!(refused(&body, Some(&length), 3).contains("needs 13835058055282163712 bytes"));
    let (body, length) = binary_body(&[1 << 61, 3], 0, &[]);
    assert!(refused(&body, Some(&length), 3).contains("more than 2⁶⁴"));
    let (body, length) = binary_body(&[1 << 62, 8], 0, &[]);
    assert!(refused(&body, Some(&length), 8).contains("[batch, 8]"));
}

#[test]
fn a_header_length_that_is_wrong_is_refused() {
    let (body, length) = binary_body(&[2, 3], 24, &le(&[1.0; 6]));
    let beyond = (body.len() + 1).to_string();
    assert!(refused(&body, Some(&beyond), 3).contains("but the body is"));
    for bad in ["", "-4", "12abc", "18446744073709551616"] {
        assert!(refused(&body, Some(bad), 3).contains("not a number of bytes"));
    }
    // Too short: the JSON header is cut; too long: binary bytes in the JSON.
    assert!(refused(&body, Some("10"), 3).contains("JSON header"));
    let long = (length.parse::<usize>().unwrap() + 4).to_string();
    assert!(refused(&body, Some(&long), 3).contains("JSON header"));
    // Binary bytes without the header at all: the body is not JSON.
    assert!(refused(&body, None, 3).contains("the body is not an inference request"));
}

#[test]
fn binary_values_must_be_finite_and_inputs_say_where_their_data_are() {
    let (body, length) = binary_body(&[3], 12, &le(&[1.0, f32::NAN, 2.0]));
    assert!(refused(&body, Some(&length), 3).contains("index 1 is not a finite"));
    let (body, length) = binary_body(&[3], 12, &le(&[1.0, 2.0, f32::INFINITY]));
    assert!(refused(&body, Some(&length), 3).contains("index 2"));
    let both = json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3],
                                  "parameters": {"binary_data_size": 12}}]});
    assert!(refused(both.to_string().as_bytes(), None, 3).contains("both"));
    let neither = json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32"}]});
    assert!(refused(neither.to_string().as_bytes(), None, 3).contains("no \"data\""));
    // JSON data, and binary bytes that no input claims.
    let head =
        json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]})
            .to_string();
    let mut body = head.clone().into_bytes();
    body.extend([0; 12]);
    assert!(refused(&body, Some(&head.len().to_string()), 3).contains("no input has"));
    let unknown = json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}],
                         "outputs": [{"name": "logits"}]});
    assert!(refused(unknown.to_string().as_bytes(), None, 3).contains("no output \"logits\""));
}
