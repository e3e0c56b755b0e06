//! The body decoder refuses every malformed body as a whole, whatever field breaks.

use dmz::config::{crc32, Bytes, Config, HEADER_LEN, MAX_GROUPS};
use dmz::error::{Bad, Error};

fn blob(c: &Config) -> Vec<u8> {
    let mut out = vec![0; 4096];
    let n = c.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

/// Header for `body` (right length and CRC), so the decoder gets to the body.
fn with_header(body: &[u8]) -> Vec<u8> {
    let mut b = blob(&Config::default())[..HEADER_LEN].to_vec();
    b[8..12].copy_from_slice(&(body.len() as u32).to_le_bytes());
    b[12..16].copy_from_slice(&crc32(body).to_le_bytes());
    b.extend_from_slice(body);
    b
}

fn sample() -> Vec<u8> {
    let c = Config {
        args: Bytes(b"/bin/true\0"),
        uid: Some(0),
        groups: Some(heapless::Vec::from_slice(&[1, 2, 3]).unwrap()),
        securebits: Some(0x15),
        oom_score_adj: Some(-7),
        ..Config::default()
    };
    blob(&c)[HEADER_LEN..].to_vec()
}

/// The format version is the header's four bytes at offset 4, so a blob that differs from a
/// valid one only in bytes 6-7 is another version, not the same config written twice (found
/// by the dmz_config fuzz target).
#[test]
fn version_is_all_four_bytes() {
    let good = with_header(&sample());
    assert!(Config::decode(&good).is_ok());
    for at in 4..8 {
        let mut bad = good.clone();
        bad[at] ^= 39;
        let version = u32::from_le_bytes(bad[4..8].try_into().unwrap());
        assert_eq!(Config::decode(&bad).unwrap_err(), Error::invalid(Bad::Version, version), "byte {at}");
    }
}

#[test]
fn every_truncated_body_is_malformed() {
    let body = sample();
    for n in 0..body.len() {
        assert_eq!(Config::decode(&with_header(&body[..n])), Err(Error::invalid(Bad::Malformed, 0)), "{n}");
    }
    assert!(Config::decode(&with_header(&body)).is_ok());
}

#[test]
fn trailing_byte_inside_the_body() {
    let mut body = sample();
    body.push(0);
    assert_eq!(Config::decode(&with_header(&body)), Err(Error::invalid(Bad::TrailingInBody, 0)));
}

#[test]
fn bad_field_values_are_malformed() {
    let body = sample();
    let malformed = Err(Error::invalid(Bad::Malformed, 0));
    // An Option tag other than 0/1 (caps is the 9th field: after args, env, cwd, uid (Some),
    // gid (None), groups (Some, 3), chown_stdio and umask).
    let caps_tag = 1 + 10 + 1 + 1 + 2 + 1 + 5 + 1 + 1;
    assert_eq!(body[caps_tag], 0);
    let mut b = body.clone();
    b[caps_tag] = 2;
    assert_eq!(Config::decode(&with_header(&b)), malformed);
    // A u32 varint that does not fit in 32 bits (uid's value, after args, env, cwd and uid's
    // Option tag).
    let uid_at = 1 + 10 + 1 + 1 + 1;
    let mut b = body[..uid_at].to_vec();
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
    b.extend_from_slice(&body[uid_at + 1..]);
    assert_eq!(Config::decode(&with_header(&b)), malformed);
    // A u32 varint longer than 5 bytes.
    let mut b = body[..uid_at].to_vec();
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    b.extend_from_slice(&body[uid_at + 1..]);
    assert_eq!(Config::decode(&with_header(&b)), malformed);
    // A string longer than the rest of the body.
    let mut b = body.clone();
    b[0] = 0x7f;
    assert_eq!(Config::decode(&with_header(&b)), malformed);
}

#[test]
fn too_many_items_are_malformed() {
    let mut c = Config::default();
    c.groups.insert(heapless::Vec::new()).extend(0..MAX_GROUPS as u32);
    let body = blob(&c)[HEADER_LEN..].to_vec();
    assert!(Config::decode(&with_header(&body)).is_ok());
    // One more group than fits: count MAX_GROUPS + 1, then the extra item (after args, env,
    // cwd, uid and gid (None) and groups' Option tag).
    let groups_at = 1 + 1 + 1 + 1 + 1 + 1;
    assert_eq!(body[groups_at] as usize, MAX_GROUPS);
    let mut b = body[..groups_at].to_vec();
    b.push(MAX_GROUPS as u8 + 1);
    b.extend_from_slice(&body[groups_at + 1..groups_at + 1 + MAX_GROUPS]);
    b.push(9);
    b.extend_from_slice(&body[groups_at + 1 + MAX_GROUPS..]);
    assert_eq!(Config::decode(&with_header(&b)), Err(Error::invalid(Bad::Malformed, 0)));
    // A huge count over a short body ends at once.
    let mut b = body[..groups_at].to_vec();
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(Config::decode(&with_header(&b)), Err(Error::invalid(Bad::Malformed, 0)));
}

/// A body with `uid` and the bounding set's mask spliced in as raw varint bytes (caps
/// present, every other field empty or zero).
fn body_with(uid: &[u8], bounding: &[u8]) -> Vec<u8> {
    let mut b = vec![10];
    b.extend_from_slice(b"/bin/true\0");
    b.extend_from_slice(&[0, 0, 1]); // env, cwd, uid's Some tag
    b.extend_from_slice(uid);
    b.extend_from_slice(&[0, 0, 0, 0, 1]); // gid, groups, chown_stdio, umask, caps tag
    b.extend_from_slice(bounding);
    b.extend_from_slice(&[0; 4]); // effective, permitted, inheritable, ambient
    b.extend_from_slice(&[0; 6]); // securebits, no_new_privs, rlimits, oom, fds, seccomp
    b
}

#[test]
fn varints_have_one_canonical_form() {
    let malformed = Err(Error::invalid(Bad::Malformed, 0));
    let b = with_header(&body_with(&[5], &[0]));
    assert_eq!(Config::decode(&b).unwrap().uid, Some(5));
    let top = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let b = with_header(&body_with(&[5], &top));
    assert_eq!(Config::decode(&b).unwrap().caps.unwrap().bounding, u64::MAX);
    // Zero padding: 5 as two and as three bytes.
    assert_eq!(Config::decode(&with_header(&body_with(&[0x85, 0x00], &[0]))), malformed);
    assert_eq!(Config::decode(&with_header(&body_with(&[0x85, 0x80, 0x00], &[0]))), malformed);
    assert_eq!(Config::decode(&with_header(&body_with(&[5], &[0x80, 0x00]))), malformed);
    // A 10th byte with bits past bit 63 (they would be dropped: another value's encoding).
    let mut over = top;
    over[9] = 0x02;
    assert_eq!(Config::decode(&with_header(&body_with(&[5], &over))), malformed);
    over[9] = 0x00;
    assert_eq!(Config::decode(&with_header(&body_with(&[5], &over))), malformed);
}
