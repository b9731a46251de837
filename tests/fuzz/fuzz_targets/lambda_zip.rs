#![no_main]
//! `wildrydes::fuzzing::lambda_zip` under libFuzzer: a panic inside is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes::fuzzing::lambda_zip(data);
});
