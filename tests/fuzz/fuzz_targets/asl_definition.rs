#![no_main]
//! `wildrydes::fuzzing::asl_definition` under libFuzzer: a panic inside is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes::fuzzing::asl_definition(data);
});
