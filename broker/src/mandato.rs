//! The active broker's mandate in a cluster: which epoch it serves in, and until when its lease
//! is known to hold. [`crate::cluster`] grants it and keeps extending it while the lease is
//! renewed; the actor checks it before it lets any frame out, and the writer stores nothing
//! under it once it is gone. A mandate lost is lost for good: the broker steps down, and serves
//! again only under a new election and a new epoch.
//!
//! The validity is kept on the boot-time clock ([`Marca`]), which goes on while the process is
//! frozen (SIGSTOP) or the machine sleeps: a broker that wakes after its lease ran out finds its
//! mandate expired before it handles anything.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A point on the clock a mandate is kept on, in nanoseconds: the time since boot, suspended
/// time included (`CLOCK_BOOTTIME` on Linux), so that neither a frozen process nor a machine
/// that slept wakes believing its lease still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Marca(u64);

impl Marca {
    /// Now.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn agora() -> Marca {
        let agora = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        let segundos = u64::try_from(agora.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(agora.tv_nsec).unwrap_or(0);
        Marca(segundos.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Now (the monotonic clock, where there is no boot-time clock).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn agora() -> Marca {
        static ORIGEM: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let desde = ORIGEM.get_or_init(std::time::Instant::now).elapsed();
        Marca(u64::try_from(desde.as_nanos()).unwrap_or(u64::MAX))
    }

    /// How long since this point (zero for one still ahead).
    pub fn passado(self) -> Duration {
        Duration::from_nanos(Marca::agora().0.saturating_sub(self.0))
    }

    /// `duracao` later.
    pub fn mais(self, duracao: Duration) -> Marca {
        Marca(
            self.0
                .saturating_add(u64::try_from(duracao.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

/// The lease of the active broker of cluster `grupo`, in epoch `epoca`.
#[derive(Debug)]
pub struct Mandato {
    /// The cluster's name.
    pub grupo: String,
    /// The epoch this broker took over in; every transaction it writes checks it is still the
    /// current one.
    pub epoca: i64,
    /// Until when the lease holds (a [`Marca`]).
    valido_ate: AtomicU64,
    /// Cancelled when the mandate is lost (or given up).
    perdido: CancellationToken,
    /// Whether it was given up on purpose (the member handing over).
    renunciado: AtomicBool,
}

impl Mandato {
    /// A mandate for epoch `epoca` of `grupo`, valid until `ate`.
    pub fn novo(grupo: String, epoca: i64, ate: Marca) -> Mandato {
        Mandato {
            grupo,
            epoca,
            valido_ate: AtomicU64::new(ate.0),
            perdido: CancellationToken::new(),
            renunciado: AtomicBool::new(false),
        }
    }

    /// Whether the broker may still serve: not lost, and the lease not run out.
    pub fn vale(&self) -> bool {
        if self.perdido.is_cancelled() {
            return false;
        }
        if Marca::agora().0 >= self.valido_ate.load(Ordering::Acquire) {
            self.perdido.cancel();
            return false;
        }
        true
    }

    /// Extends the lease to `ate` (a renewal that began before it ran out succeeded); a lost
    /// mandate stays lost.
    pub fn prorrogar(&self, ate: Marca) {
        if self.vale() {
            self.valido_ate.fetch_max(ate.0, Ordering::AcqRel);
        }
    }

    /// How long the lease has left, unless extended (zero once it ran out).
    pub fn restante(&self) -> Duration {
        let ate = self.valido_ate.load(Ordering::Acquire);
        Duration::from_nanos(ate.saturating_sub(Marca::agora().0))
    }

    /// Loses the mandate: another broker took over, the lease connection failed, or a write
    /// could not be stored.
    pub fn perder(&self) {
        self.perdido.cancel();
    }

    /// Gives the mandate up on purpose: the member is handing over.
    pub fn renunciar(&self) {
        self.renunciado.store(true, Ordering::Release);
        self.perdido.cancel();
    }

    /// Whether the mandate was given up on purpose rather than lost.
    pub fn renunciado(&self) -> bool {
        self.renunciado.load(Ordering::Acquire)
    }

    /// Resolves once the mandate is lost (by [`Mandato::perder`], or found expired by
    /// [`Mandato::vale`]).
    pub async fn perdido(&self) {
        self.perdido.cancelled().await;
    }
}

/// Whether `mandato`, when there is one, still holds (no mandate: a broker on its own, which
/// always may serve).
pub fn vale(mandato: Option<&Mandato>) -> bool {
    mandato.is_none_or(Mandato::vale)
}

/// Resolves once `mandato`, when there is one, is lost; never without one.
pub async fn perdido(mandato: Option<&Mandato>) {
    match mandato {
        Some(mandato) => mandato.perdido().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn em(segundos: u64) -> Marca {
        Marca::agora().mais(Duration::from_secs(segundos))
    }

    #[test]
    fn vale_ate_o_prazo_e_so_enquanto_nao_perdido() {
        let mandato = Mandato::novo("c".into(), 1, em(60));
        assert!(mandato.vale());
        mandato.prorrogar(em(120));
        assert!(mandato.restante() > Duration::from_secs(100));
        mandato.perder();
        assert!(!mandato.vale());
        assert!(!vale(Some(&mandato)));
        assert!(vale(None));
    }

    #[test]
    fn um_prazo_vencido_nao_volta() {
        let mandato = Mandato::novo("c".into(), 1, Marca::agora());
        assert!(!mandato.vale());
        assert_eq!(mandato.restante(), Duration::ZERO);
        mandato.prorrogar(em(60));
        assert!(
            !mandato.vale(),
            "an expired lease is not revived by a late renewal"
        );
    }

    #[test]
    fn o_relogio_anda() {
        let antes = Marca::agora();
        std::thread::sleep(Duration::from_millis(2));
        assert!(Marca::agora() > antes.mais(Duration::from_millis(1)));
    }

    #[tokio::test]
    async fn perdido_acorda_quem_espera() {
        let mandato = std::sync::Arc::new(Mandato::novo("c".into(), 1, em(60)));
        let espera = tokio::spawn({
            let mandato = std::sync::Arc::clone(&mandato);
            async move { mandato.perdido().await }
        });
        mandato.renunciar();
        espera.await.expect("wakes");
        assert!(mandato.renunciado());
    }
}
