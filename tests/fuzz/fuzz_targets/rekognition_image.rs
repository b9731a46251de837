#![no_main]
//! `wildrydes::fuzzing::rekognition_image` under libFuzzer: a panic inside is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes::fuzzing::rekognition_image(data);
});
