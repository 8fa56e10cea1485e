//! The rate a session may send frames at, as a token bucket both sides keep.
//!
//! The broker announces the rate and the burst in `BemVindo`. It keeps a [`Balde`] per session
//! and, when a frame arrives with the bucket empty, holds it and stops reading that socket until
//! the bucket has room again (the peer's own TCP window then fills): a peer over its rate is
//! slowed down, never robbed of a frame. The client handle keeps the same bucket and waits before
//! sending, so a well-behaved peer never even reaches the broker's brake.

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `rajada` frames at once, refilled at `por_segundo` frames a second.
#[derive(Debug, Clone)]
pub struct Balde {
    /// Frames that may be sent right now (fractions accumulate).
    fichas: f64,
    /// Most fichas the bucket holds (the burst).
    capacidade: f64,
    /// Fichas added per second (the rate).
    por_segundo: f64,
    /// When fichas were last added.
    ultimo: Instant,
}

impl Balde {
    /// A full bucket for `por_segundo` frames a second in bursts of `rajada` (each at least 1).
    pub fn new(por_segundo: u32, rajada: u32) -> Balde {
        Balde {
            fichas: f64::from(rajada.max(1)),
            capacidade: f64::from(rajada.max(1)),
            por_segundo: f64::from(por_segundo.max(1)),
            ultimo: Instant::now(),
        }
    }

    /// Takes one frame's ficha at `agora`, or says how long until there is one (then nothing is
    /// taken: ask again after that wait).
    pub fn retirar(&mut self, agora: Instant) -> Result<(), Duration> {
        let passado = agora.saturating_duration_since(self.ultimo).as_secs_f64();
        self.fichas = (self.fichas + passado * self.por_segundo).min(self.capacidade);
        self.ultimo = agora;
        if self.fichas >= 1.0 {
            self.fichas -= 1.0;
            return Ok(());
        }
        let falta = (1.0 - self.fichas) / self.por_segundo;
        // Rounded up to the next microsecond, so that the wait is never a hair too short.
        Err(Duration::from_micros((falta * 1e6).ceil() as u64).max(Duration::from_micros(1)))
    }

    /// Waits, if needed, until a frame may be sent, and takes its ficha.
    pub async fn esperar(&mut self) {
        while let Err(espera) = self.retirar(Instant::now()) {
            tokio::time::sleep(espera).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permite_a_rajada_depois_a_taxa() {
        let mut balde = Balde::new(10, 3);
        let inicio = balde.ultimo;
        for _ in 0..3 {
            assert_eq!(balde.retirar(inicio), Ok(()));
        }
        // Empty: one ficha comes back a tenth of a second later.
        assert_eq!(balde.retirar(inicio), Err(Duration::from_millis(100)));
        let quase = inicio + Duration::from_millis(60);
        let espera = balde.retirar(quase).unwrap_err();
        assert!(espera > Duration::from_millis(39) && espera < Duration::from_millis(41));
        assert_eq!(balde.retirar(inicio + Duration::from_millis(100)), Ok(()));
        // Seconds later the bucket is full again, never fuller.
        let depois = inicio + Duration::from_secs(5);
        for _ in 0..3 {
            assert_eq!(balde.retirar(depois), Ok(()));
        }
        assert!(balde.retirar(depois).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn esperar_segue_o_ritmo() {
        let mut balde = Balde::new(10, 2);
        let inicio = Instant::now();
        for _ in 0..12 {
            balde.esperar().await;
        }
        // Two at once, then ten more at ten a second.
        let passado = inicio.elapsed();
        assert!(passado >= Duration::from_secs(1) && passado < Duration::from_millis(1_020));
    }
}
