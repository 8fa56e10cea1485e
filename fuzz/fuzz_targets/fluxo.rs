//! Fuzzes the frame decoder: arbitrary bytes as a peer's whole stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| tests::arbitrario::verificar_fluxo(bytes));
