#![no_main]
//! `glassbox serve`'s request parsing: an Open Inference Protocol infer body and a
//! `/predict` body (JSON rows, PNG or JPEG), for models of several widths, with and
//! without images. Whatever the bytes, the answer is rows the model can run or a 400 —
//! never a panic, an abort, or memory taken for a shape the body only claims.
//!
//! The first byte picks the model (width and image shape) and the content type; the rest
//! is the body. Triton's binary-tensor extension (a JSON header of
//! `Inference-Header-Content-Length` bytes, then raw FP32) is parsed too, with the header
//! length taken from the body's first byte: a share of the body, or past its end.
use glassbox::data::ImageShape;
use glassbox_web::serve::{parse_infer, predict_rows, InferRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (width, shape) = match pick % 4 {
        0 => (784, Some(ImageShape::new(28, 28, 1))),
        1 => (64, Some(ImageShape::new(8, 8, 1))),
        2 => (48, Some(ImageShape::new(4, 4, 3))),
        _ => (3, None),
    };
    let content_type = match (pick / 4) % 3 {
        0 => "application/json",
        1 => "image/png",
        _ => "",
    };

    if let Ok(request) = serde_json::from_slice::<InferRequest>(body) {
        if let Ok((rows, values)) = request.rows(width) {
            assert!(rows >= 1);
            assert_eq!(values.len(), rows * width);
            assert!(values.iter().all(|x| x.is_finite()));
        }
    }

    if let Some((&cut, rest)) = body.split_first() {
        let length = (usize::from(cut) * (rest.len() + 8) / 255).to_string();
        if let Ok(parsed) = parse_infer(rest, Some(length.as_bytes()), width) {
            assert!(parsed.rows >= 1);
            assert_eq!(parsed.values.len(), parsed.rows * width);
            assert!(parsed.values.iter().all(|x| x.is_finite()));
        }
    }

    if let Ok((values, one)) = predict_rows(body, content_type, width, shape) {
        assert!(!values.is_empty());
        assert_eq!(values.len() % width, 0);
        assert!(!one || values.len() == width);
        assert!(values.iter().all(|x| x.is_finite()));
    }
});
