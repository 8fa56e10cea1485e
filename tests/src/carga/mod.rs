//! The load tool's scenarios and what they share: a broker to load (embedded or external), the
//! minimal TCP splice that stands for what the machine allows (the floor), and the figures each
//! run prints.
//!
//! `carga` (in `src/bin`) parses the command line and calls a scenario ([`relay`], [`churn`]); the floor runs
//! the same workload in the same run, so every broker figure comes with its ratio to the floor.

pub mod churn;
pub mod piso;
pub mod relay;

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Round-trip percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latencias {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
}

impl Latencias {
    /// The percentiles of a histogram of microseconds.
    pub fn de(histograma: &Histogram<u64>) -> Latencias {
        Latencias {
            p50_us: histograma.value_at_quantile(0.50),
            p99_us: histograma.value_at_quantile(0.99),
            p999_us: histograma.value_at_quantile(0.999),
        }
    }
}

/// What one ping-pong workload measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Vazao {
    /// Chat messages delivered per second (each round trip is two).
    pub mensagens_por_segundo: f64,
    /// Round-trip times.
    pub ida_e_volta: Latencias,
    /// Round trips completed.
    pub idas_e_voltas: u64,
}

impl Vazao {
    /// Folds per-pair results (round trips, histogram) measured over `duracao`.
    pub fn somar(resultados: Vec<(u64, Histogram<u64>)>, duracao: Duration) -> Vazao {
        let mut total = novo_histograma();
        let mut idas_e_voltas = 0;
        for (n, histograma) in resultados {
            idas_e_voltas += n;
            total.add(&histograma).expect("same bounds");
        }
        Vazao {
            mensagens_por_segundo: (2 * idas_e_voltas) as f64 / duracao.as_secs_f64(),
            ida_e_volta: Latencias::de(&total),
            idas_e_voltas,
        }
    }
}

/// A histogram of microseconds, from 1 µs to 60 s, 3 significant digits.
pub fn novo_histograma() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// The text each ping carries: about the size of a short chat line.
pub const TEXTO: &str = "uma linha de conversa de tamanho comum, como as de um atendimento";
