//! The active broker's mandate in a cluster: which epoch it serves in, and until when its lease
//! is known to hold. [`crate::cluster`] grants it and keeps extending it while the lease is
//! renewed; the actor checks it before it lets any frame out, and the writer stores nothing
//! under it once it is gone. A mandate lost is lost for good: the broker steps down, and serves
//! again only under a new election and a new epoch.
//!
//! The validity is kept on the monotonic clock, which goes on while the process is frozen
//! (SIGSTOP): a broker thawed after its lease ran out finds its mandate expired before it
//! handles anything.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// The lease of the active broker of cluster `grupo`, in epoch `epoca`.
#[derive(Debug)]
pub struct Mandato {
    /// The cluster's name.
    pub grupo: String,
    /// The epoch this broker took over in; every transaction it writes checks it is still the
    /// current one.
    pub epoca: i64,
    /// Until when the lease holds, in nanoseconds since [`origem`].
    valido_ate: AtomicU64,
    /// Cancelled when the mandate is lost (or given up).
    perdido: CancellationToken,
    /// Whether it was given up on purpose (the member handing over).
    renunciado: AtomicBool,
}

/// The process's reference point for [`Mandato`]'s times.
fn origem() -> Instant {
    static ORIGEM: OnceLock<Instant> = OnceLock::new();
    *ORIGEM.get_or_init(Instant::now)
}

/// `instante` in nanoseconds since [`origem`] (0 before it).
fn nanos(instante: Instant) -> u64 {
    u64::try_from(instante.saturating_duration_since(origem()).as_nanos()).unwrap_or(u64::MAX)
}

impl Mandato {
    /// A mandate for epoch `epoca` of `grupo`, valid until `ate`.
    pub fn novo(grupo: String, epoca: i64, ate: Instant) -> Mandato {
        origem();
        Mandato {
            grupo,
            epoca,
            valido_ate: AtomicU64::new(nanos(ate)),
            perdido: CancellationToken::new(),
            renunciado: AtomicBool::new(false),
        }
    }

    /// Whether the broker may still serve: not lost, and the lease not run out.
    pub fn vale(&self) -> bool {
        if self.perdido.is_cancelled() {
            return false;
        }
        if nanos(Instant::now()) >= self.valido_ate.load(Ordering::Acquire) {
            self.perdido.cancel();
            return false;
        }
        true
    }

    /// Extends the lease to `ate` (a renewal that began before it ran out succeeded); a lost
    /// mandate stays lost.
    pub fn prorrogar(&self, ate: Instant) {
        if self.vale() {
            self.valido_ate.fetch_max(nanos(ate), Ordering::AcqRel);
        }
    }

    /// When the lease runs out, unless extended.
    pub fn valido_ate(&self) -> Instant {
        origem() + Duration::from_nanos(self.valido_ate.load(Ordering::Acquire))
    }

    /// Loses the mandate: another broker took over, the lease connection failed, or the broker
    /// is handing over.
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

    #[test]
    fn vale_ate_o_prazo_e_so_enquanto_nao_perdido() {
        let mandato = Mandato::novo("c".into(), 1, Instant::now() + Duration::from_secs(60));
        assert!(mandato.vale());
        mandato.prorrogar(Instant::now() + Duration::from_secs(120));
        assert!(mandato.valido_ate() > Instant::now() + Duration::from_secs(100));
        mandato.perder();
        assert!(!mandato.vale());
        assert!(!vale(Some(&mandato)));
        assert!(vale(None));
    }

    #[test]
    fn um_prazo_vencido_nao_volta() {
        let mandato = Mandato::novo("c".into(), 1, Instant::now() - Duration::from_millis(1));
        assert!(!mandato.vale());
        mandato.prorrogar(Instant::now() + Duration::from_secs(60));
        assert!(
            !mandato.vale(),
            "an expired lease is not revived by a late renewal"
        );
    }

    #[tokio::test]
    async fn perdido_acorda_quem_espera() {
        let mandato = std::sync::Arc::new(Mandato::novo(
            "c".into(),
            1,
            Instant::now() + Duration::from_secs(60),
        ));
        let espera = tokio::spawn({
            let mandato = std::sync::Arc::clone(&mandato);
            async move { mandato.perdido().await }
        });
        mandato.perder();
        espera.await.expect("wakes");
    }
}
