//! Refusals are one line, whatever the input's keys and values hold.

#[test]
fn an_oci_error_naming_a_key_with_a_newline_is_one_line() {
    let text = r#"{"process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "a\nb\r": 1}}"#;
    let Err(e) = launcher::oci::parse("config.json", text) else { panic!("accepted") };
    assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
    assert!(e.contains(r"a\nb\r"), "{e:?}");
    let text = r#"{"process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [{"type": "x\ny", "soft": 1, "hard": 1}]}}"#;
    let Err(e) = launcher::oci::parse("config.json", text)
        .and_then(|s| launcher::oci::compile("config.json", &s.process))
    else {
        panic!("accepted")
    };
    assert!(!e.contains('\n'), "{e:?}");
}
