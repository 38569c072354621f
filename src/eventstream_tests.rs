use proptest::prelude::*;

use super::*;

const ALL_TYPES: &[u8] = include_bytes!("providers/bedrock/fixtures/all_header_types.bin");
/// Streams written by fixtures/make_fixtures.py and checked there with botocore's decoder:
/// (name, bytes, whole messages in it).
const STREAMS: &[(&str, &[u8], usize)] = &[
    (
        "text",
        include_bytes!("providers/bedrock/fixtures/text.bin"),
        7,
    ),
    (
        "text_then_tools",
        include_bytes!("providers/bedrock/fixtures/text_then_tools.bin"),
        13,
    ),
    (
        "error_message_type",
        include_bytes!("providers/bedrock/fixtures/error_message_type.bin"),
        2,
    ),
    (
        "truncated",
        include_bytes!("providers/bedrock/fixtures/truncated.bin"),
        2,
    ),
];

/// A frame with valid CRCs around arbitrary header bytes (for malformed-header cases).
fn frame(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (16 + headers.len() + payload.len()) as u32;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Decodes `input` fed in pieces cut at `cuts`; the messages, the first error, what is left.
fn decode(input: &[u8], cuts: &[usize]) -> (Vec<Message>, Option<Error>, usize) {
    let mut d = Decoder::default();
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        d.push(&input[last..c]);
        last = c;
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e), d.buffered()),
            }
        }
    }
    (out, None, d.buffered())
}

#[test]
fn the_spec_example_prelude_checks_out() {
    // providers.md §5.5: a contentBlockDelta frame starts `000000ac 00000057 25fa69a9 0b3a6576`.
    let prelude = [0, 0, 0, 0xac, 0, 0, 0, 0x57, 0x25, 0xfa, 0x69, 0xa9, 0x0b];
    assert_eq!(crc32fast::hash(&prelude[..8]), 0x25fa_69a9);
    let mut d = Decoder::default();
    d.push(&prelude);
    // A valid prelude of a 172-byte message: wait for the rest, no error.
    assert_eq!(d.next_message(), Ok(None));
    assert_eq!(d.buffered(), 13);
}

#[test]
fn every_header_value_type_decodes() {
    let (msgs, err, rest) = decode(ALL_TYPES, &[]);
    assert_eq!((err, rest, msgs.len()), (None, 0, 1));
    let m = &msgs[0];
    let expected = vec![
        ("true", HeaderValue::Bool(true)),
        ("false", HeaderValue::Bool(false)),
        ("byte", HeaderValue::Byte(-7)),
        ("short", HeaderValue::Short(-300)),
        ("int", HeaderValue::Int(70000)),
        ("long", HeaderValue::Long(-(1 << 40))),
        (
            "bytes",
            HeaderValue::Bytes(Bytes::from_static(&[0, 1, 0xfe, 0xff])),
        ),
        ("string", HeaderValue::String("héllo".into())),
        ("timestamp", HeaderValue::Timestamp(1_700_000_000_123)),
        (
            "uuid",
            HeaderValue::Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
        ),
    ];
    let got: Vec<(&str, HeaderValue)> = m
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(&m.payload[..], br#"{"ok":true}"#);
    assert_eq!(m.str_header("string"), Some("héllo"));
    assert_eq!(m.str_header("int"), None);
}

#[test]
fn every_stream_decodes_the_same_split_at_every_byte() {
    for (name, input, count) in STREAMS {
        let whole = decode(input, &[]);
        assert_eq!(whole.0.len(), *count, "{name}");
        assert_eq!(whole.1, None, "{name}");
        for at in 0..=input.len() {
            assert_eq!(decode(input, &[at]), whole, "{name}: split at {at}");
        }
    }
    for at in 0..=ALL_TYPES.len() {
        assert_eq!(decode(ALL_TYPES, &[at]), decode(ALL_TYPES, &[]));
    }
}

#[test]
fn a_cut_stream_leaves_bytes_buffered() {
    let (msgs, err, rest) = decode(STREAMS[3].1, &[]);
    assert_eq!((msgs.len(), err), (2, None));
    assert!(rest > 0);
    let (_, _, rest) = decode(STREAMS[0].1, &[]);
    assert_eq!(rest, 0);
}

#[test]
fn corrupt_crcs_are_errors() {
    let mut bad = ALL_TYPES.to_vec();
    bad[9] ^= 0x40;
    assert!(matches!(
        decode(&bad, &[]).1,
        Some(Error::PreludeCrc { .. })
    ));
    let mut bad = ALL_TYPES.to_vec();
    let n = bad.len();
    bad[n - 6] ^= 1; // payload byte
    assert!(matches!(
        decode(&bad, &[]).1,
        Some(Error::MessageCrc { .. })
    ));
    let mut bad = ALL_TYPES.to_vec();
    bad[n - 1] ^= 1; // the CRC itself
    assert!(matches!(
        decode(&bad, &[]).1,
        Some(Error::MessageCrc { .. })
    ));
    // A length corrupted in transit fails the prelude CRC before any waiting.
    let mut bad = ALL_TYPES.to_vec();
    bad[0] = 0x7f;
    assert!(matches!(
        decode(&bad[..12], &[]).1,
        Some(Error::PreludeCrc { .. })
    ));
}

#[test]
fn oversize_and_inconsistent_lengths_fail_at_the_prelude() {
    let prelude = |total: u32, headers: u32| {
        let mut p = total.to_be_bytes().to_vec();
        p.extend_from_slice(&headers.to_be_bytes());
        let crc = crc32fast::hash(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        p
    };
    let huge = prelude(u32::MAX, 0);
    assert!(matches!(
        decode(&huge, &[]).1,
        Some(Error::PayloadTooLarge(_))
    ));
    assert_eq!(decode(&prelude(8, 0), &[]).1, Some(Error::TooShort(8)));
    assert!(matches!(
        decode(&prelude(40, 30), &[]).1,
        Some(Error::HeadersOverflow { .. })
    ));
    assert!(matches!(
        decode(&prelude(300_000, 200_000), &[]).1,
        Some(Error::HeadersTooLarge(_))
    ));
}

#[test]
fn malformed_headers_are_errors() {
    let dup = [
        &[1, b'a', 0][..],
        &[1, b'a', 1][..], // same name twice
    ]
    .concat();
    assert_eq!(
        decode(&frame(&dup, b""), &[]).1,
        Some(Error::DuplicateHeader("a".into()))
    );
    assert!(matches!(
        decode(&frame(&[1, b'a', 42], b""), &[]).1,
        Some(Error::Header(_))
    ));
    // A string header announcing more bytes than the headers hold.
    assert!(matches!(
        decode(&frame(&[1, b'a', 7, 0, 9, b'x'], b""), &[]).1,
        Some(Error::Header(_))
    ));
    assert!(matches!(
        decode(&frame(&[1, b'a', 4, 0], b""), &[]).1,
        Some(Error::Header(_))
    ));
    assert!(matches!(
        decode(&frame(&[3, b'a'], b""), &[]).1,
        Some(Error::Header(_))
    ));
}

#[test]
fn an_empty_payload_and_no_headers_is_a_message() {
    let (msgs, err, _) = decode(&frame(&[], b""), &[]);
    assert_eq!(err, None);
    assert_eq!(msgs[0].headers, vec![]);
    assert!(msgs[0].payload.is_empty());
}

#[test]
fn after_an_error_the_decoder_stays_failed() {
    let mut bad = ALL_TYPES.to_vec();
    bad[9] ^= 1;
    let mut d = Decoder::default();
    d.push(&bad);
    assert!(d.next_message().is_err());
    d.push(ALL_TYPES);
    assert_eq!(d.next_message(), Ok(None));
    assert_eq!(d.buffered(), 0);
}

proptest! {
    #[test]
    fn random_multi_splits_change_nothing(
        which in 0..STREAMS.len(),
        mut cuts in prop::collection::vec(0usize..4096, 0..40),
    ) {
        let (_, input, _) = STREAMS[which];
        for c in cuts.iter_mut() {
            *c %= input.len() + 1;
        }
        cuts.sort_unstable();
        prop_assert_eq!(decode(input, &cuts), decode(input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes, &[]);
    }

    #[test]
    fn valid_crcs_around_arbitrary_headers_never_panic(
        headers in prop::collection::vec(any::<u8>(), 0..64),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode(&frame(&headers, &payload), &[]);
    }
}
