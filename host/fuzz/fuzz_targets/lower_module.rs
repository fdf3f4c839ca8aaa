#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obelysk_fuzz::lower_module(data));
