//! Sans-IO Server-Sent Events framing: bytes in, complete events out.
//!
//! Owns: finding event boundaries (a blank line, with `\n`, `\r\n` or `\r` line ends) across
//! arbitrary chunk splits, a hard cap on event size, and reading an event's `data` payload.
//! Must not: do I/O or interpret the JSON inside events.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// Largest event accepted (a guard against an upstream that never ends an event).
pub const DEFAULT_MAX_EVENT: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an SSE event exceeded {0} bytes")]
    EventTooLarge(usize),
}

/// Splits a byte stream into raw events. Each event is returned with its terminating blank
/// line, exactly as received, so it can be forwarded unchanged.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// Bytes of `buf` already known to contain no event boundary.
    scanned: usize,
    max_event: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_EVENT)
    }
}

impl Decoder {
    pub fn new(max_event: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            scanned: 0,
            max_event,
        }
    }

    /// Appends bytes; returns every event completed by them, in order.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>, SseError> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(end) = self.find_boundary() {
            out.push(self.buf.split_to(end).freeze());
            self.scanned = 0;
        }
        if self.buf.len() > self.max_event {
            return Err(SseError::EventTooLarge(self.max_event));
        }
        Ok(out)
    }

    /// The unterminated rest at end of stream, if any non-blank bytes remain.
    pub fn finish(&mut self) -> Option<Bytes> {
        let rest = std::mem::take(&mut self.buf).freeze();
        self.scanned = 0;
        (!rest.iter().all(|b| b.is_ascii_whitespace())).then_some(rest)
    }

    /// Returns the end offset (exclusive) of the first complete event.
    fn find_boundary(&mut self) -> Option<usize> {
        let buf = &self.buf[..];
        let mut i = self.scanned;
        while let Some(off) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
            let t = i + off;
            let Some(first) = line_end_len(buf, t) else {
                self.scanned = t;
                return None;
            };
            let next = t + first;
            match buf.get(next) {
                None => {
                    self.scanned = t;
                    return None;
                }
                Some(b'\n') | Some(b'\r') => match line_end_len(buf, next) {
                    Some(second) => return Some(next + second),
                    None => {
                        self.scanned = t;
                        return None;
                    }
                },
                Some(_) => i = next,
            }
        }
        self.scanned = buf.len();
        None
    }
}

/// Length of the line terminator at `at` (1 or 2), or `None` when a trailing `\r` might be
/// the first half of `\r\n`.
fn line_end_len(buf: &[u8], at: usize) -> Option<usize> {
    match buf[at] {
        b'\n' => Some(1),
        _ => match buf.get(at + 1) {
            Some(b'\n') => Some(2),
            Some(_) => Some(1),
            None => None,
        },
    }
}

/// The event's `data` payload: its `data:` lines joined by `\n` (one leading space removed),
/// or `None` when it has no data line (comments, `event:`-only or `retry:` events). Borrowed
/// from `event` in the common case of one UTF-8 data line (no copy on the stream hot path).
pub fn data_of(event: &[u8]) -> Option<Cow<'_, str>> {
    let mut data: Option<Cow<'_, str>> = None;
    for line in lines(event) {
        let value = if line == b"data" {
            &[][..]
        } else if let Some(v) = line.strip_prefix(b"data:") {
            v.strip_prefix(b" ").unwrap_or(v)
        } else {
            continue;
        };
        let value = String::from_utf8_lossy(value);
        match &mut data {
            Some(d) => {
                let d = d.to_mut();
                d.push('\n');
                d.push_str(&value);
            }
            None => data = Some(value),
        }
    }
    data
}

/// The lines of an event (split at CR, LF or CRLF; empty lines may appear), found with
/// memchr rather than char by char: this runs for every event of every stream.
fn lines(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(line)
    })
}

/// Whether a response is an SSE stream.
pub fn is_event_stream(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b"data: {\"a\":1}\n\n: comment\n\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\ndata: [DONE]\r\rdata: tail";

    fn decode_in_pieces(cuts: &[usize]) -> (Vec<Bytes>, Option<Bytes>) {
        let mut d = Decoder::default();
        let mut events = Vec::new();
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&STREAM.len())) {
            events.extend(d.push(&STREAM[last..c]).unwrap());
            last = c;
        }
        (events, d.finish())
    }

    #[test]
    fn events_are_found_whatever_the_split() {
        let (whole, rest) = decode_in_pieces(&[]);
        assert_eq!(whole.len(), 4);
        assert_eq!(&whole[0][..], b"data: {\"a\":1}\n\n");
        assert_eq!(
            &whole[2][..],
            b"event: x\r\ndata: two\r\ndata: lines\r\n\r\n"
        );
        assert_eq!(&whole[3][..], b"data: [DONE]\r\r");
        assert_eq!(rest.as_deref(), Some(&b"data: tail"[..]));
        for a in 0..=STREAM.len() {
            for b in a..=STREAM.len() {
                assert_eq!(
                    decode_in_pieces(&[a, b]),
                    (whole.clone(), rest.clone()),
                    "cuts {a} {b}"
                );
            }
        }
    }

    #[test]
    fn data_payloads() {
        assert_eq!(
            data_of(b"data: {\"a\":1}\n\n").as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(
            data_of(b"event: x\r\ndata: two\r\ndata:lines\r\n\r\n").as_deref(),
            Some("two\nlines")
        );
        assert_eq!(data_of(b": comment\n\n"), None);
        assert_eq!(data_of(b"data\ndata: x\n\n").as_deref(), Some("\nx"));
        assert_eq!(
            data_of(b"data:  two spaces\n\n").as_deref(),
            Some(" two spaces")
        );
        assert_eq!(data_of(b"datum: no\n\n"), None);
        // Invalid UTF-8 is replaced, not refused.
        assert_eq!(data_of(b"data: a\xffb\n\n").as_deref(), Some("a\u{fffd}b"));
        // The common single-line case hands out a slice of the event, not a copy.
        assert!(matches!(
            data_of(b"event: e\r\ndata: {}\r\n\r\n"),
            Some(Cow::Borrowed("{}"))
        ));
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut d = Decoder::new(8);
        assert!(d.push(b"data: 1\n\n").is_ok());
        assert_eq!(d.push(b"data: 123456789"), Err(SseError::EventTooLarge(8)));
    }
}
