#![no_main]
//! `wildrydes_thumbnail::fuzz_entry` under libFuzzer: decode, resize, encode any bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wildrydes_thumbnail::fuzz_entry(data);
});
