#![no_main]
//! `wildrydes::fuzzing::dynamodb_expression` under libFuzzer: a panic inside is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes::fuzzing::dynamodb_expression(data);
});
