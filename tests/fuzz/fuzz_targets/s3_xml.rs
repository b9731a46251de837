#![no_main]
//! `wildrydes::fuzzing::s3_xml` under libFuzzer: a panic inside is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes::fuzzing::s3_xml(data);
});
