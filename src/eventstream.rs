//! Sans-IO decoder of the `application/vnd.amazon.eventstream` binary framing (providers.md
//! §5.5): bytes in, split anywhere, whole messages out, both CRC-32s checked.
//!
//! Owns: the frame layout (12-byte prelude with its CRC, typed headers, payload, message CRC),
//! the size limits, and the rule that malformed input is an [`Error`], never a panic or an
//! unbounded wait. Must not: do I/O or interpret payloads (Bedrock's JSON is the codec's).
//!
//! ```text
//! total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32
//! ```
//! All integers big-endian; `prelude_crc` covers the first 8 bytes, `message_crc` every byte
//! before it.

use bytes::{Buf, Bytes, BytesMut};

/// Prelude (two lengths and their CRC) plus the trailing message CRC.
const OVERHEAD: usize = 16;
const PRELUDE: usize = 12;
/// botocore's limits: headers ≤ 128 KiB, payload ≤ 24 MiB.
pub const MAX_HEADERS: usize = 128 * 1024;
pub const MAX_PAYLOAD: usize = 24 * 1024 * 1024;

/// Why the byte stream cannot be read. After an error the stream is unusable: its framing is
/// lost, so the decoder refuses further input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "event stream prelude CRC mismatch (expected {expected:#010x}, computed {computed:#010x})"
    )]
    PreludeCrc { expected: u32, computed: u32 },
    #[error(
        "event stream message CRC mismatch (expected {expected:#010x}, computed {computed:#010x})"
    )]
    MessageCrc { expected: u32, computed: u32 },
    #[error("event stream message length {0} is below the 16-byte minimum")]
    TooShort(u32),
    #[error("event stream headers length {headers} does not fit a message of {total} bytes")]
    HeadersOverflow { headers: u32, total: u32 },
    #[error("event stream headers of {0} bytes exceed the limit")]
    HeadersTooLarge(u32),
    #[error("event stream payload of {0} bytes exceeds the limit")]
    PayloadTooLarge(usize),
    #[error("malformed event stream header: {0}")]
    Header(&'static str),
    #[error("duplicate event stream header `{0}`")]
    DuplicateHeader(String),
}

/// A header value, one variant per wire type (0..=9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Message {
    /// The value of a string header, if present and a string.
    pub fn str_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(k, v)| match v {
            HeaderValue::String(s) if k == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Buffers bytes until whole messages are available.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    failed: bool,
}

impl Decoder {
    /// Appends bytes; call [`next_message`](Self::next_message) until it yields `None`.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes held that do not form a whole message yet (non-zero at end of stream means the
    /// stream was cut inside a message).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, Error> {
        if self.failed || self.buf.len() < PRELUDE {
            return Ok(None);
        }
        let total = be32(&self.buf[0..4]);
        let headers_len = be32(&self.buf[4..8]);
        // Checked before waiting for `total` bytes, so a corrupted length cannot make the
        // decoder buffer gigabytes.
        let prelude_crc = be32(&self.buf[8..12]);
        let computed = crc32fast::hash(&self.buf[0..8]);
        let limits = if prelude_crc != computed {
            Err(Error::PreludeCrc {
                expected: prelude_crc,
                computed,
            })
        } else {
            check_lengths(total, headers_len)
        };
        if let Err(e) = limits {
            return Err(self.fail(e));
        }
        let total = total as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(total).freeze();
        let expected = be32(&frame[total - 4..]);
        let computed = crc32fast::hash(&frame[..total - 4]);
        if expected != computed {
            return Err(self.fail(Error::MessageCrc { expected, computed }));
        }
        frame.truncate(total - 4);
        frame.advance(PRELUDE);
        let mut headers_raw = frame.split_to(headers_len as usize);
        match parse_headers(&mut headers_raw) {
            Ok(headers) => Ok(Some(Message {
                headers,
                payload: frame,
            })),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.failed = true;
        self.buf = BytesMut::new();
        e
    }
}

fn check_lengths(total: u32, headers: u32) -> Result<(), Error> {
    if (total as usize) < OVERHEAD {
        return Err(Error::TooShort(total));
    }
    if headers as usize > MAX_HEADERS {
        return Err(Error::HeadersTooLarge(headers));
    }
    let payload = (total as usize)
        .checked_sub(OVERHEAD + headers as usize)
        .ok_or(Error::HeadersOverflow { headers, total })?;
    if payload > MAX_PAYLOAD {
        return Err(Error::PayloadTooLarge(payload));
    }
    Ok(())
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_headers(raw: &mut Bytes) -> Result<Vec<(String, HeaderValue)>, Error> {
    let mut out: Vec<(String, HeaderValue)> = Vec::new();
    while raw.has_remaining() {
        let name_len = usize::from(raw.get_u8());
        if name_len == 0 {
            return Err(Error::Header("empty header name"));
        }
        let name = take(raw, name_len)?;
        let name = std::str::from_utf8(&name)
            .map_err(|_| Error::Header("header name is not UTF-8"))?
            .to_owned();
        let value = parse_value(raw)?;
        if out.iter().any(|(k, _)| *k == name) {
            return Err(Error::DuplicateHeader(name));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn parse_value(raw: &mut Bytes) -> Result<HeaderValue, Error> {
    const SHORT: Error = Error::Header("header value cut short");
    let need = |raw: &Bytes, n: usize| {
        if raw.remaining() < n {
            Err(SHORT)
        } else {
            Ok(())
        }
    };
    need(raw, 1)?;
    let v = match raw.get_u8() {
        0 => HeaderValue::Bool(true),
        1 => HeaderValue::Bool(false),
        2 => {
            need(raw, 1)?;
            HeaderValue::Byte(raw.get_i8())
        }
        3 => {
            need(raw, 2)?;
            HeaderValue::Short(raw.get_i16())
        }
        4 => {
            need(raw, 4)?;
            HeaderValue::Int(raw.get_i32())
        }
        5 => {
            need(raw, 8)?;
            HeaderValue::Long(raw.get_i64())
        }
        6 => {
            need(raw, 2)?;
            let n = usize::from(raw.get_u16());
            HeaderValue::Bytes(take(raw, n)?)
        }
        7 => {
            need(raw, 2)?;
            let n = usize::from(raw.get_u16());
            let s = take(raw, n)?;
            let s =
                std::str::from_utf8(&s).map_err(|_| Error::Header("string value is not UTF-8"))?;
            HeaderValue::String(s.to_owned())
        }
        8 => {
            need(raw, 8)?;
            HeaderValue::Timestamp(raw.get_i64())
        }
        9 => {
            need(raw, 16)?;
            let mut id = [0u8; 16];
            raw.copy_to_slice(&mut id);
            HeaderValue::Uuid(id)
        }
        _ => return Err(Error::Header("unknown header value type")),
    };
    Ok(v)
}

fn take(raw: &mut Bytes, n: usize) -> Result<Bytes, Error> {
    if raw.remaining() < n {
        return Err(Error::Header("header cut short"));
    }
    Ok(raw.split_to(n))
}

#[cfg(test)]
#[path = "eventstream_tests.rs"]
mod tests;
