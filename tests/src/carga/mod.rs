//! The load tool's scenarios and what they share: a broker to load (embedded or external), the
//! minimal TCP splice that stands for what the machine allows (the floor), and the figures each
//! run prints.
//!
//! `carga` (in `src/bin`) parses the command line and calls a scenario ([`relay`], [`churn`],
//! [`idle`], [`drain`], [`estimativa`], [`failover`]). For relay and churn the floor runs the same workload in the same run, so
//! every broker figure comes with its ratio to the floor; idle and drain load a broker in a
//! [`processo`] of its own, whose memory can be read.

pub mod churn;
pub mod drain;
pub mod estimativa;
pub mod failover;
pub mod idle;
pub mod piso;
pub mod processo;
pub mod relay;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use broker::Config;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use proto::{Apresentacao, Conexao, TAMANHO_MAXIMO_QUADRO};
use serde::Serialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc};

/// The agent token of a broker the load tool starts itself.
pub const TOKEN_EMBUTIDO: &str = "carga";

/// The settings of a broker the load tool starts itself: the defaults, with no message-rate
/// limit (a load generator sends as fast as it can) and no per-address cap (every load
/// connection comes from a few loopback addresses). With `banco`, it keeps the history there.
pub fn config_de_carga(banco: Option<String>) -> Config {
    Config {
        banco,
        escutar: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        tokens_atendente: vec![TOKEN_EMBUTIDO.into()],
        mensagens_por_segundo: u32::MAX,
        rajada_de_mensagens: u32::MAX,
        conexoes_por_endereco: usize::MAX,
        ..Config::default()
    }
}

/// Source addresses that load connections are spread over (127.0.0.1 to 127.0.0.N), so that
/// ephemeral ports (about 28,000 per source address) do not run out.
pub const ORIGENS: u8 = 8;

/// Connects the `indice`-th load connection from its share of the [`ORIGENS`] and performs the
/// handshake.
pub async fn conectar_de(
    indice: usize,
    endereco: SocketAddr,
    apresentacao: Apresentacao,
) -> Result<Conexao, String> {
    let fluxo = socket_de(indice, endereco).await?;
    Conexao::sobre(fluxo, apresentacao, TAMANHO_MAXIMO_QUADRO)
        .await
        .map_err(|e| format!("conexão {indice}: {e}"))
}

/// Like [`conectar_de`], over a WebSocket to the broker's web listener at `endereco`.
pub async fn conectar_ws_de(
    indice: usize,
    endereco: SocketAddr,
    apresentacao: Apresentacao,
) -> Result<Conexao, String> {
    let socket = socket_de(indice, endereco).await?;
    let fluxo = crate::ws::sobre(socket, endereco)
        .await
        .map_err(|e| format!("websocket {indice}: {e}"))?;
    Conexao::sobre(fluxo, apresentacao, TAMANHO_MAXIMO_QUADRO)
        .await
        .map_err(|e| format!("conexão {indice}: {e}"))
}

/// A TCP connection to `endereco` from the `indice`-th load connection's share of the
/// [`ORIGENS`].
async fn socket_de(indice: usize, endereco: SocketAddr) -> Result<TcpStream, String> {
    let origem = Ipv4Addr::new(127, 0, 0, 1 + (indice % usize::from(ORIGENS)) as u8);
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::from((origem, 0)))
        .map_err(|e| format!("bind {origem}: {e}"))?;
    let fluxo = socket
        .connect(endereco)
        .await
        .map_err(|e| format!("conexão {indice}: {e}"))?;
    fluxo.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(fluxo)
}

/// Runs `tarefa(i)` for every `i` in `0..total`, at most `simultaneos` at a time, and returns
/// their results as they finish (the launching goes on in a task of its own).
pub fn em_paralelo<T, F, Fut>(total: usize, simultaneos: usize, tarefa: F) -> mpsc::Receiver<T>
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let simultaneos = simultaneos.max(1);
    let (tx, rx) = mpsc::channel(simultaneos);
    let vagas = Arc::new(Semaphore::new(simultaneos));
    tokio::spawn(async move {
        for i in 0..total {
            let vaga = Arc::clone(&vagas)
                .acquire_owned()
                .await
                .expect("never closed");
            let tx = tx.clone();
            let trabalho = tarefa(i);
            tokio::spawn(async move {
                let resultado = trabalho.await;
                drop(vaga);
                let _ = tx.send(resultado).await;
            });
        }
    });
    rx
}

/// A progress bar on standard error for a long phase of a run (drawn only on a terminal).
pub fn barra(total: u64, fase: &str) -> ProgressBar {
    let barra = ProgressBar::new(total);
    barra.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({elapsed}, faltam {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    barra.set_message(fase.to_owned());
    barra
}

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
