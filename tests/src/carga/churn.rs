//! `churn`: a pool of agents; customers arrive (a fixed number in flight at once), wait, are
//! paired, exchange K lines with their agent, and leave. Measures sessions per second, the wait
//! from connecting to being paired, and chat round trips. The floor runs the same sessions
//! through a splice that pairs each customer connection with the next agent connection. With a
//! web address, the same customers also run over WebSocket (agents stay on TCP, as in a help
//! desk whose customers are in the browser), against the same broker in the same run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use proto::{Apresentacao, Conexao, DoBroker, ErroConexao, ParaBroker};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::{Latencias, TEXTO, barra, em_paralelo, novo_histograma};

/// The shape of a churn run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forma {
    /// Agents in the pool.
    pub atendentes: usize,
    /// Chats each agent takes at once.
    pub capacidade: u8,
    /// Customers served in all.
    pub clientes: usize,
    /// Lines each customer sends (each echoed).
    pub mensagens: usize,
    /// Customers in flight at once.
    pub simultaneos: usize,
}

/// What one side of the comparison measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Medida {
    /// Customer sessions completed per second.
    pub sessoes_por_segundo: f64,
    /// From connecting to being paired.
    pub espera: Latencias,
    /// Chat round trips.
    pub ida_e_volta: Latencias,
    /// Chats whose agent got the customer's earlier conversations (`Anteriores`; only a broker
    /// with a history sends them).
    pub anteriores: usize,
}

/// A churn run, broker and floor.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resultado {
    /// The workload.
    pub forma: Forma,
    /// Through the broker, customers over TCP.
    pub broker: Medida,
    /// Through the broker, customers over WebSocket (when asked for).
    pub websocket: Option<Medida>,
    /// Through the splice.
    pub piso: Medida,
}

/// How customers reach the broker.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// The protocol's TCP port.
    Tcp(SocketAddr),
    /// The web listener's WebSocket.
    Web(SocketAddr),
}

impl Via {
    async fn conectar(self, apresentacao: Apresentacao) -> Result<Conexao, ErroConexao> {
        match self {
            Via::Tcp(endereco) => Conexao::conectar(endereco, apresentacao).await,
            Via::Web(endereco) => crate::ws::conectar(endereco, apresentacao).await,
        }
    }
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        let (b, p) = (&self.broker, &self.piso);
        let linha = format!(
            "churn: {} atendentes (capacidade {}), {} clientes x {} mensagens | broker {:.0} sessões/s, espera p50 {} µs p99 {} µs, ida e volta p50 {} µs p99 {} µs \
             | piso {:.0} sessões/s, espera p50 {} µs p99 {} µs, ida e volta p50 {} µs p99 {} µs | razão sessões/s {:.2} \
             | Anteriores em {} de {} conversas",
            self.forma.atendentes,
            self.forma.capacidade,
            self.forma.clientes,
            self.forma.mensagens,
            b.sessoes_por_segundo,
            b.espera.p50_us,
            b.espera.p99_us,
            b.ida_e_volta.p50_us,
            b.ida_e_volta.p99_us,
            p.sessoes_por_segundo,
            p.espera.p50_us,
            p.espera.p99_us,
            p.ida_e_volta.p50_us,
            p.ida_e_volta.p99_us,
            b.sessoes_por_segundo / p.sessoes_por_segundo,
            b.anteriores,
            self.forma.clientes,
        );
        match &self.websocket {
            None => linha,
            Some(w) => format!(
                "{linha} | websocket {:.0} sessões/s, espera p50 {} µs p99 {} µs, ida e volta p50 {} µs p99 {} µs \
                 | razão websocket/tcp {:.2}, websocket/piso {:.2}",
                w.sessoes_por_segundo,
                w.espera.p50_us,
                w.espera.p99_us,
                w.ida_e_volta.p50_us,
                w.ida_e_volta.p99_us,
                w.sessoes_por_segundo / b.sessoes_por_segundo,
                w.sessoes_por_segundo / p.sessoes_por_segundo,
            ),
        }
    }
}

/// One customer's figures, in microseconds, folded into histograms at the end. (Plain numbers:
/// a histogram per customer would cost the load tool more CPU than the broker it measures.)
struct Amostra {
    espera: u64,
    idas_e_voltas: Vec<u64>,
}

fn medir(amostras: Vec<Amostra>, clientes: usize, duracao: Duration, anteriores: usize) -> Medida {
    let mut espera = novo_histograma();
    let mut ida_e_volta = novo_histograma();
    for amostra in amostras {
        let _ = espera.record(amostra.espera);
        for micros in amostra.idas_e_voltas {
            let _ = ida_e_volta.record(micros);
        }
    }
    Medida {
        sessoes_por_segundo: clientes as f64 / duracao.as_secs_f64(),
        espera: Latencias::de(&espera),
        ida_e_volta: Latencias::de(&ida_e_volta),
        anteriores,
    }
}

fn micros(inicio: Instant) -> u64 {
    inicio.elapsed().as_micros().max(1) as u64
}

/// Runs the churn workload against the broker at `endereco`, then (with `web`, its web
/// listener) again with customers over WebSocket, then through the floor.
pub async fn executar(
    endereco: SocketAddr,
    web: Option<SocketAddr>,
    token: &str,
    forma: Forma,
) -> Result<Resultado, String> {
    let broker = pelo_broker((endereco, Via::Tcp(endereco)), token, forma, "broker").await?;
    let websocket = match web {
        None => None,
        Some(web) => {
            let via = (endereco, Via::Web(web));
            Some(pelo_broker(via, token, forma, "websocket").await?)
        }
    };
    let piso = pelo_piso(forma).await.map_err(|e| format!("piso: {e}"))?;
    Ok(Resultado {
        forma,
        broker,
        websocket,
        piso,
    })
}

/// One churn run through the broker: agents on TCP at `endereco`, customers by `via`. Each run
/// has agents of its own (named after `rotulo`), so runs on one broker do not meet.
async fn pelo_broker(
    (endereco, via): (SocketAddr, Via),
    token: &str,
    forma: Forma,
    rotulo: &str,
) -> Result<Medida, String> {
    let anteriores = Arc::new(AtomicUsize::new(0));
    for i in 0..forma.atendentes {
        let apresentacao =
            Apresentacao::atendente(format!("{rotulo}-a{i}"), vec![rotulo.into()], token)
                .com_capacidade(forma.capacidade);
        let mut atendente = Conexao::conectar(endereco, apresentacao)
            .await
            .map_err(|e| format!("atendente {i}: {e}"))?;
        let anteriores = Arc::clone(&anteriores);
        tokio::spawn(async move {
            while let Some(Ok(quadro)) = atendente.eventos.next().await {
                let (conversa, texto) = match quadro {
                    DoBroker::Anteriores { .. } => {
                        anteriores.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    DoBroker::Mensagem {
                        conversa, texto, ..
                    } => (conversa, texto),
                    _ => continue,
                };
                if atendente.envio.mensagem(conversa, texto).await.is_err() {
                    return;
                }
            }
        });
    }
    let inicio = Instant::now();
    let departamento: Arc<str> = rotulo.into();
    let mut rx = em_paralelo(forma.clientes, forma.simultaneos, move |i| {
        cliente(via, Arc::clone(&departamento), i, forma.mensagens)
    });
    let progresso = barra(forma.clientes as u64, rotulo);
    let mut amostras = Vec::with_capacity(forma.clientes);
    while let Some(resultado) = rx.recv().await {
        amostras.push(resultado?);
        progresso.inc(1);
    }
    progresso.finish_and_clear();
    // An agent reads a chat's Anteriores right after its Conectado, before it can echo the
    // customer's first line: every chat that ended has been counted.
    let anteriores = anteriores.load(Ordering::Relaxed);
    Ok(medir(
        amostras,
        forma.clientes,
        inicio.elapsed(),
        anteriores,
    ))
}

async fn cliente(
    via: Via,
    departamento: Arc<str>,
    i: usize,
    mensagens: usize,
) -> Result<Amostra, String> {
    let mut amostra = Amostra {
        espera: 0,
        idas_e_voltas: Vec::with_capacity(mensagens),
    };
    let chegada = Instant::now();
    let apresentacao = Apresentacao::cliente(format!("churn-c{i}"), &*departamento);
    let mut conexao = via
        .conectar(apresentacao)
        .await
        .map_err(|e| format!("cliente {i}: {e}"))?;
    let conversa = loop {
        match conexao.eventos.next().await {
            Some(Ok(DoBroker::Conectado { conversa, .. })) => break conversa,
            Some(Ok(_)) => continue,
            outro => return Err(format!("cliente {i}: {outro:?} antes de ser atendido")),
        }
    };
    amostra.espera = micros(chegada);
    for _ in 0..mensagens {
        let inicio = Instant::now();
        conexao
            .envio
            .mensagem(conversa, TEXTO)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match conexao.eventos.next().await {
                Some(Ok(DoBroker::Mensagem { .. })) => break,
                Some(Ok(_)) => continue,
                outro => return Err(format!("cliente {i}: {outro:?} no meio da conversa")),
            }
        }
        amostra.idas_e_voltas.push(micros(inicio));
    }
    conexao
        .envio
        .enviar(ParaBroker::Sair { seq: 0 })
        .await
        .map_err(|e| e.to_string())?;
    while conexao.eventos.next().await.is_some() {}
    Ok(amostra)
}

type Quadros = Framed<TcpStream, LengthDelimitedCodec>;

async fn conectar(endereco: SocketAddr) -> std::io::Result<Quadros> {
    let socket = TcpStream::connect(endereco).await?;
    socket.set_nodelay(true)?;
    Ok(Framed::new(socket, LengthDelimitedCodec::new()))
}

/// The splice for churn: customers and agents connect to two ports; each customer connection
/// is paired with the next agent connection, in arrival order, and bytes are copied between them.
async fn splice_de_churn() -> std::io::Result<(SocketAddr, SocketAddr)> {
    let clientes = TcpListener::bind("127.0.0.1:0").await?;
    let atendentes = TcpListener::bind("127.0.0.1:0").await?;
    let enderecos = (clientes.local_addr()?, atendentes.local_addr()?);
    tokio::spawn(async move {
        loop {
            let (Ok((mut cliente, _)), Ok((mut atendente, _))) =
                (clientes.accept().await, atendentes.accept().await)
            else {
                return;
            };
            let _ = cliente.set_nodelay(true);
            let _ = atendente.set_nodelay(true);
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut cliente, &mut atendente).await;
            });
        }
    });
    Ok(enderecos)
}

async fn pelo_piso(forma: Forma) -> std::io::Result<Medida> {
    let (para_clientes, para_atendentes) = splice_de_churn().await?;
    // Each place of the pool (an agent's, times its capacity) takes one session at a time:
    // connect, echo, and when the customer closes, connect again for the next.
    for _ in 0..forma.atendentes * usize::from(forma.capacidade) {
        tokio::spawn(async move {
            loop {
                let Ok(mut atendente) = conectar(para_atendentes).await else {
                    return;
                };
                while let Some(Ok(quadro)) = atendente.next().await {
                    if atendente.send(quadro.freeze()).await.is_err() {
                        break;
                    }
                }
            }
        });
    }
    let inicio = Instant::now();
    let mensagens = forma.mensagens;
    let mut rx = em_paralelo(forma.clientes, forma.simultaneos, move |_| {
        sessao_no_piso(para_clientes, mensagens)
    });
    let progresso = barra(forma.clientes as u64, "piso");
    let mut amostras = Vec::with_capacity(forma.clientes);
    while let Some(resultado) = rx.recv().await {
        amostras.push(resultado?);
        progresso.inc(1);
    }
    progresso.finish_and_clear();
    Ok(medir(amostras, forma.clientes, inicio.elapsed(), 0))
}

/// One customer's session through the floor: connect, then `mensagens` echoed lines (the
/// first echo is when the pairing is known to be done).
async fn sessao_no_piso(para_clientes: SocketAddr, mensagens: usize) -> std::io::Result<Amostra> {
    let mut amostra = Amostra {
        espera: 0,
        idas_e_voltas: Vec::with_capacity(mensagens),
    };
    let chegada = Instant::now();
    let mut cliente = conectar(para_clientes).await?;
    let corpo = Bytes::from_static(TEXTO.as_bytes());
    for _ in 0..mensagens {
        let inicio = Instant::now();
        cliente.send(corpo.clone()).await?;
        if cliente.next().await.is_none() {
            return Err(std::io::Error::other("o piso fechou a conexão"));
        }
        if amostra.idas_e_voltas.is_empty() {
            amostra.espera = micros(chegada);
        }
        amostra.idas_e_voltas.push(micros(inicio));
    }
    Ok(amostra)
}
