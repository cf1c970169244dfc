//! A minimal Protocol Buffers encoder: just what an ONNX file needs.
//!
//! A protobuf message is a sequence of fields. Each field starts with a key, the varint
//! `field_number << 3 | wire_type`, followed by its value:
//!
//! ```text
//! wire type 0  varint            integers (int32, int64, enums, bools)
//! wire type 2  length-delimited  a varint byte count, then the bytes:
//!                                strings, bytes, nested messages, packed repeats
//! wire type 5  32-bit            float, little-endian
//! ```
//!
//! A varint stores 7 bits per byte, least significant group first; the high bit of each
//! byte says whether another byte follows (300 = 0b10_0101100 → `AC 02`). A negative
//! int64 is its two's complement as a u64, ten bytes long. A repeated field is the same
//! key written once per element. Field order does not matter to a reader; this encoder
//! writes fields in the order they are added.
//!
//! See: <https://protobuf.dev/programming-guides/encoding/>.

/// Wire type of varint fields.
const VARINT: u8 = 0;
/// Wire type of length-delimited fields.
const LENGTH_DELIMITED: u8 = 2;
/// Wire type of 32-bit fields.
const FIXED32: u8 = 5;

/// One message being encoded: its fields' bytes, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// An empty message.
    pub(crate) fn new() -> Self {
        Message::default()
    }

    /// The encoded message.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// An int64/int32/enum field (negative values as their two's complement).
    pub(crate) fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.key(field, VARINT);
        write_varint(&mut self.bytes, value as u64);
        self
    }

    /// A float field: 4 little-endian bytes.
    pub(crate) fn float(&mut self, field: u32, value: f32) -> &mut Self {
        self.key(field, FIXED32);
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// A bytes field.
    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.key(field, LENGTH_DELIMITED);
        write_varint(&mut self.bytes, value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    /// A string field (UTF-8 bytes).
    pub(crate) fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    /// A nested message field.
    pub(crate) fn message(&mut self, field: u32, value: &Message) -> &mut Self {
        self.bytes(field, &value.bytes)
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        write_varint(
            &mut self.bytes,
            (u64::from(field) << 3) | u64::from(wire_type),
        );
    }
}

/// Appends `value` as a varint: 7 bits per byte, low bits first, high bit = "more".
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A reader of the same encoding, for tests: the fields of one message.
#[cfg(test)]
pub(crate) mod decode {
    /// One field's value.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(crate) enum Value<'a> {
        Varint(u64),
        Bytes(&'a [u8]),
        Fixed32(u32),
    }

    impl<'a> Value<'a> {
        pub(crate) fn int(self) -> i64 {
            match self {
                Value::Varint(v) => v as i64,
                other => panic!("not a varint: {other:?}"),
            }
        }

        pub(crate) fn bytes(self) -> &'a [u8] {
            match self {
                Value::Bytes(b) => b,
                other => panic!("not length-delimited: {other:?}"),
            }
        }

        pub(crate) fn str(self) -> &'a str {
            std::str::from_utf8(self.bytes()).expect("UTF-8")
        }

        pub(crate) fn float(self) -> f32 {
            match self {
                Value::Fixed32(v) => f32::from_bits(v),
                other => panic!("not a 32-bit field: {other:?}"),
            }
        }
    }

    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("varint longer than 10 bytes")
    }

    /// Every (field number, value) of the message in `bytes`, in order.
    pub(crate) fn fields(bytes: &[u8]) -> Vec<(u32, Value<'_>)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < bytes.len() {
            let key = varint(bytes, &mut at);
            let field = (key >> 3) as u32;
            let value = match key & 7 {
                0 => Value::Varint(varint(bytes, &mut at)),
                2 => {
                    let len = varint(bytes, &mut at) as usize;
                    let value = &bytes[at..at + len];
                    at += len;
                    Value::Bytes(value)
                }
                5 => {
                    let value = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
                    at += 4;
                    Value::Fixed32(value)
                }
                other => panic!("wire type {other} is not written by this encoder"),
            };
            out.push((field, value));
        }
        out
    }

    /// The values of field `number`, in order.
    pub(crate) fn all(bytes: &[u8], number: u32) -> Vec<Value<'_>> {
        fields(bytes)
            .into_iter()
            .filter(|(f, _)| *f == number)
            .map(|(_, v)| v)
            .collect()
    }

    /// The one value of field `number`.
    pub(crate) fn one(bytes: &[u8], number: u32) -> Value<'_> {
        let values = all(bytes, number);
        assert_eq!(
            values.len(),
            1,
            "field {number} appears {} times",
            values.len()
        );
        values[0]
    }
}

#[cfg(test)]
mod tests {
    use super::decode::{fields, Value};
    use super::*;

    #[test]
    fn varints_match_the_specification_examples() {
        let encode = |v: u64| {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            out
        };
        assert_eq!(encode(0), [0x00]);
        assert_eq!(encode(1), [0x01]);
        assert_eq!(encode(127), [0x7f]);
        assert_eq!(encode(128), [0x80, 0x01]);
        assert_eq!(encode(150), [0x96, 0x01]); // the guide's "08 96 01" example
        assert_eq!(encode(300), [0xac, 0x02]);
        assert_eq!(encode(u64::MAX).len(), 10);
    }

    #[test]
    fn fields_have_the_documented_bytes() {
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.clone().into_bytes(), [0x08, 0x96, 0x01]);
        let mut s = Message::new();
        s.string(2, "testing");
        assert_eq!(
            s.into_bytes(),
            [0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']
        );
        let mut f = Message::new();
        f.float(2, 1.0);
        assert_eq!(f.into_bytes(), [0x15, 0x00, 0x00, 0x80, 0x3f]);
        let mut nested = Message::new();
        nested.message(3, &m);
        assert_eq!(nested.into_bytes(), [0x1a, 0x03, 0x08, 0x96, 0x01]);
        // Field 20 needs a two-byte key: (20 << 3) | 0 = 160.
        let mut high = Message::new();
        high.int(20, 2);
        assert_eq!(high.into_bytes(), [0xa0, 0x01, 0x02]);
    }

    #[test]
    fn a_message_decodes_back_to_what_was_written() {
        let mut inner = Message::new();
        inner.int(1, -1).float(2, -0.25);
        let mut outer = Message::new();
        outer
            .int(1, 8)
            .string(2, "glassbox")
            .message(7, &inner)
            .int(1, 1 << 40);
        let bytes = outer.into_bytes();
        let fields = fields(&bytes);
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[0], (1, Value::Varint(8)));
        assert_eq!(fields[1].1.str(), "glassbox");
        assert_eq!(fields[3], (1, Value::Varint(1 << 40)));
        let inner = super::decode::fields(fields[2].1.bytes());
        assert_eq!(inner[0].1.int(), -1);
        assert_eq!(inner[1].1.float(), -0.25);
    }
}
