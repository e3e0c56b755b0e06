//! dmz's hand-written decoder against postcard, the wire format it follows: where postcard
//! refuses an integer encoding, dmz refuses it too.

use dmz::config::{Bytes, Config, Rlimit, HEADER_LEN};

/// A u64 varint is at most 10 bytes and its 10th byte holds one bit (bit 63): postcard refuses
/// a 10th byte above 1, and so does dmz (it used to drop the extra bits and accept it).
#[test]
fn a_tenth_varint_byte_above_1_is_refused_by_both() {
    let ten = |last: u8| [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, last];
    assert_eq!(postcard::from_bytes::<u64>(&ten(0x01)), Ok(1 << 63));
    let c = Config {
        args: Bytes(b"/bin/true\0"),
        rlimits: heapless::Vec::from_slice(&[Rlimit { resource: 0, soft: 1 << 63, hard: u64::MAX }]).unwrap(),
        ..Config::default()
    };
    let mut blob = vec![0; 4096];
    let n = c.encode(&mut blob).unwrap();
    blob.truncate(n);
    let at = blob.windows(10).position(|w| w == ten(0x01)).unwrap();
    for last in [0x02u8, 0x03, 0x7f] {
        assert!(postcard::from_bytes::<u64>(&ten(last)).is_err(), "postcard accepts {last:#x}");
        let mut b = blob.clone();
        b[at + 9] = last;
        let (head, body) = b.split_at_mut(HEADER_LEN);
        dmz::config::write_header(head, dmz::config::MAGIC, dmz::config::VERSION, body);
        assert_eq!(
            Config::decode(&b),
            Err(dmz::Error::invalid(dmz::error::Bad::Malformed, 0)),
            "dmz accepts {last:#x}"
        );
    }
}
