//! Fuzzes the handshake check: arbitrary bytes as a connection's first frame body.
#![no_main]

libfuzzer_sys::fuzz_target!(|corpo: &[u8]| tests::arbitrario::verificar_apresentacao(corpo));
