//! `idle`: N customers connect and wait in one line, and stay. Reads the broker's resident
//! memory before and after, and checks that every one of them was told its position. The
//! broker runs in a child process (see [`super::processo`]) so its memory is its own.

use std::net::SocketAddr;
use std::time::Instant;

use futures::StreamExt;
use proto::{Apresentacao, Conexao, DoBroker};
use serde::Serialize;

use super::processo::memoria_residente;
use super::{barra, conectar_de, conectar_ws_de, em_paralelo};

/// The shape of an idle run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forma {
    /// Customers to hold.
    pub clientes: usize,
    /// Connections being opened at once.
    pub simultaneos: usize,
    /// Whether the customers connect over WebSocket (to the web listener) instead of TCP.
    pub websocket: bool,
}

/// What an idle run found.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resultado {
    /// The workload.
    pub forma: Forma,
    /// Customers told their position (all of them, or the run fails).
    pub com_posicao: usize,
    /// Seconds to connect them all.
    pub segundos_para_conectar: f64,
    /// The broker's resident memory before the customers came, in bytes.
    pub memoria_antes: u64,
    /// The broker's resident memory with all of them waiting, in bytes.
    pub memoria_depois: u64,
    /// The difference, per customer, in bytes.
    pub bytes_por_cliente: f64,
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        format!(
            "idle: {} clientes esperando{}, {} informados da posição, conectados em {:.1} s \
             | memória do broker {:.1} MiB -> {:.1} MiB | {:.0} bytes ({:.2} KiB) por cliente",
            self.forma.clientes,
            if self.forma.websocket {
                " (por WebSocket)"
            } else {
                ""
            },
            self.com_posicao,
            self.segundos_para_conectar,
            self.memoria_antes as f64 / 1048576.0,
            self.memoria_depois as f64 / 1048576.0,
            self.bytes_por_cliente,
            self.bytes_por_cliente / 1024.0,
        )
    }
}

/// Connects `forma.clientes` customers to the broker at `endereco` (process `pid`), waits until
/// each has its position, and measures the broker's memory.
pub async fn executar(endereco: SocketAddr, pid: u32, forma: Forma) -> Result<Resultado, String> {
    let ler_memoria = || memoria_residente(pid).map_err(|e| format!("memória do broker: {e}"));
    let memoria_antes = ler_memoria()?;
    let progresso = barra(forma.clientes as u64, "conectando");
    let inicio = Instant::now();
    let esperando = conectar_todos(endereco, forma, &progresso).await?;
    progresso.finish_and_clear();
    let segundos_para_conectar = inicio.elapsed().as_secs_f64();
    // Every customer has its position, so the broker has done all the arrivals ask of it.
    let memoria_depois = ler_memoria()?;
    let resultado = Resultado {
        forma,
        com_posicao: esperando.len(),
        segundos_para_conectar,
        memoria_antes,
        memoria_depois,
        bytes_por_cliente: memoria_depois.saturating_sub(memoria_antes) as f64
            / forma.clientes.max(1) as f64,
    };
    drop(esperando);
    Ok(resultado)
}

/// Opens every customer's connection (a bounded number at a time) and returns them once each
/// has been told its position.
async fn conectar_todos(
    endereco: SocketAddr,
    forma: Forma,
    progresso: &indicatif::ProgressBar,
) -> Result<Vec<Conexao>, String> {
    let websocket = forma.websocket;
    let mut rx = em_paralelo(forma.clientes, forma.simultaneos, move |i| {
        esperar_posicao(endereco, i, websocket)
    });
    let mut esperando = Vec::with_capacity(forma.clientes);
    while let Some(resultado) = rx.recv().await {
        esperando.push(resultado?);
        progresso.inc(1);
    }
    Ok(esperando)
}

/// Connects customer `i` and waits for its position.
async fn esperar_posicao(
    endereco: SocketAddr,
    i: usize,
    websocket: bool,
) -> Result<Conexao, String> {
    let apresentacao = Apresentacao::cliente(format!("idle-c{i}"), "idle");
    let mut conexao = if websocket {
        conectar_ws_de(i, endereco, apresentacao).await?
    } else {
        conectar_de(i, endereco, apresentacao).await?
    };
    match conexao.eventos.next().await {
        Some(Ok(DoBroker::Fila { .. })) => Ok(conexao),
        outro => Err(format!("cliente {i}: {outro:?} em vez da posição na fila")),
    }
}
