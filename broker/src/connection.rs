//! One task per connection: handshake, then relaying frames between the socket and the actor.
//!
//! The task reads the handshake within a deadline and checks its protocol version; anything else
//! first gets an `Erro` and a close. Once registered with the actor it runs a reader (socket to
//! actor) and a writer (outbound channel to socket) side by side. It holds no queue state: when
//! the peer goes away it tells the actor, and it closes when the actor lets go of its outbound
//! channel, when the peer breaks the protocol, or at once when aborted as a slow consumer.

use std::net::SocketAddr;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use proto::codec::{
    Quadros, classificar_erro, codificar, decodificar, delimitar, tipar, versao_da_apresentacao,
};
use proto::{
    Apresentacao, CodigoErro, DoBroker, MotivoFim, ParaBroker, SessaoId, VERSAO_PROTOCOLO,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::actor::{Comando, Saida};
use crate::config::Config;

/// Most bytes read and thrown away while closing, before giving up on a graceful close.
const DESCARTE_MAXIMO: usize = 1 << 20;

type QuadrosBroker = Quadros<TcpStream, ParaBroker, DoBroker>;

/// What a connection task needs besides its socket.
#[derive(Clone)]
pub struct Contexto {
    /// The broker's settings.
    pub config: Config,
    /// The actor's inbox.
    pub ator: mpsc::Sender<Comando>,
    /// Cancelled when the broker starts shutting down (stops waiting for handshakes).
    pub desligar: CancellationToken,
    /// Cancelled when the shutdown deadline passes (cuts every connection).
    pub forcar: CancellationToken,
}

/// Serves one connection from accept to close.
pub async fn atender(socket: TcpStream, par: SocketAddr, sessao: SessaoId, contexto: Contexto) {
    info!(%par, "conexão aceita");
    if let Err(erro) = socket.set_nodelay(true) {
        debug!(%erro, "não foi possível desligar o algoritmo de Nagle");
    }
    let mut bytes = delimitar(socket, contexto.config.tamanho_maximo_quadro);
    let apresentacao = tokio::select! {
        resultado = receber_apresentacao(&mut bytes, contexto.config.prazo_apresentacao) => resultado,
        _ = contexto.desligar.cancelled() => Err(Some(DoBroker::Fim { motivo: MotivoFim::BrokerEncerrando })),
    };
    let apresentacao = match apresentacao {
        Ok(apresentacao) => apresentacao,
        Err(resposta) => {
            if let Some(quadro) = resposta {
                info!(?quadro, "apresentação recusada");
                if let Ok(corpo) = codificar(&quadro) {
                    let _ = bytes.send(corpo).await;
                }
            }
            fechar(bytes.into_inner(), contexto.config.prazo_fechamento).await;
            return;
        }
    };

    let (tx, rx) = mpsc::channel(contexto.config.capacidade_saida);
    let abortar = contexto.forcar.child_token();
    let entrar = Comando::Entrar {
        sessao,
        apresentacao,
        saida: Saida {
            quadros: tx,
            abortar: abortar.clone(),
        },
    };
    if contexto.ator.send(entrar).await.is_err() {
        return;
    }
    let (escrita, leitura) = tipar::<_, ParaBroker, DoBroker>(bytes).split();
    if let Some((escrita, leitura)) =
        conversar(sessao, escrita, leitura, rx, &contexto, &abortar).await
    {
        let socket = escrita
            .reunite(leitura)
            .map(|quadros| quadros.into_inner().into_inner());
        if let Ok(socket) = socket {
            fechar(socket, contexto.config.prazo_fechamento).await;
        }
    }
    info!("conexão encerrada");
}

/// Waits for the first frame and checks that it is a handshake this broker speaks. On refusal,
/// returns the frame to answer with (if any).
async fn receber_apresentacao(
    bytes: &mut Framed<TcpStream, LengthDelimitedCodec>,
    prazo: Duration,
) -> Result<Apresentacao, Option<DoBroker>> {
    let corpo = match tokio::time::timeout(prazo, bytes.next()).await {
        Err(_) => return Err(Some(DoBroker::erro(CodigoErro::PrazoEsgotado))),
        Ok(None) => return Err(None),
        Ok(Some(Err(erro))) => return Err(classificar_erro(&erro).map(DoBroker::erro)),
        Ok(Some(Ok(corpo))) => corpo,
    };
    match versao_da_apresentacao(&corpo) {
        Some(VERSAO_PROTOCOLO) => {}
        Some(versao) => {
            return Err(Some(DoBroker::Erro {
                codigo: CodigoErro::VersaoIncompativel,
                texto: format!(
                    "o broker fala a versão {VERSAO_PROTOCOLO} do protocolo, e não a {versao}"
                ),
            }));
        }
        None => {
            let codigo = match decodificar::<ParaBroker>(&corpo) {
                Ok(_) => CodigoErro::ApresentacaoEsperada,
                Err(_) => CodigoErro::QuadroInvalido,
            };
            return Err(Some(DoBroker::erro(codigo)));
        }
    }
    match decodificar::<ParaBroker>(&corpo) {
        Ok(ParaBroker::Apresentacao(apresentacao)) => Ok(apresentacao),
        _ => Err(Some(DoBroker::erro(CodigoErro::QuadroInvalido))),
    }
}

/// Relays frames both ways until the session ends. Returns the two halves for a graceful close,
/// or `None` when the connection must simply be dropped.
async fn conversar(
    sessao: SessaoId,
    mut escrita: SplitSink<QuadrosBroker, DoBroker>,
    mut leitura: SplitStream<QuadrosBroker>,
    mut rx: mpsc::Receiver<DoBroker>,
    contexto: &Contexto,
    abortar: &CancellationToken,
) -> Option<(
    SplitSink<QuadrosBroker, DoBroker>,
    SplitStream<QuadrosBroker>,
)> {
    let desfecho = {
        let escritor = escrever(&mut escrita, &mut rx);
        tokio::pin!(escritor);
        let leitor = ler(sessao, &mut leitura, &contexto.ator);
        tokio::select! {
            // The actor let go of the session (or the socket failed): nothing more to relay.
            escrito = &mut escritor => match escrito {
                Ok(()) => Desfecho::Liberada,
                Err(erro) => {
                    // The peer cannot be written to: it is gone, even if it was idle.
                    debug!(%erro, "escrita falhou");
                    let _ = contexto.ator.send(Comando::Caiu { sessao }).await;
                    Desfecho::Abortada
                }
            },
            fim = leitor => {
                // The peer is gone or broke the protocol: the actor decides what that means for
                // its partner, then lets go of the session, and the writer flushes what is left.
                let _ = contexto.ator.send(Comando::Caiu { sessao }).await;
                let prazo = contexto.config.prazo_fechamento;
                tokio::select! {
                    escrito = tokio::time::timeout(prazo, &mut escritor) => match escrito {
                        Ok(Ok(())) => Desfecho::PeerSaiu(fim),
                        _ => Desfecho::Abortada,
                    },
                    _ = abortar.cancelled() => Desfecho::Abortada,
                }
            },
            _ = abortar.cancelled() => Desfecho::Abortada,
        }
    };
    match desfecho {
        Desfecho::Abortada => return None,
        Desfecho::Liberada | Desfecho::PeerSaiu(None) => {}
        Desfecho::PeerSaiu(Some(codigo)) => {
            info!(?codigo, "protocolo violado");
            let _ = escrita.send(DoBroker::erro(codigo)).await;
        }
    }
    Some((escrita, leitura))
}

/// How the relaying part of a connection ended.
enum Desfecho {
    /// The actor let go of the session; everything it sent was written.
    Liberada,
    /// The peer's side ended (with the protocol error it committed, if any) and the actor has
    /// let go of the session.
    PeerSaiu(Option<CodigoErro>),
    /// Cut short: aborted, or the socket cannot be written.
    Abortada,
}

/// Writes frames from the outbound channel, batching whatever is already queued into one flush.
/// Ends when the actor drops the channel's sender.
async fn escrever(
    escrita: &mut SplitSink<QuadrosBroker, DoBroker>,
    rx: &mut mpsc::Receiver<DoBroker>,
) -> std::io::Result<()> {
    while let Some(quadro) = rx.recv().await {
        escrita.feed(quadro).await?;
        while let Ok(quadro) = rx.try_recv() {
            escrita.feed(quadro).await?;
        }
        escrita.flush().await?;
    }
    escrita.flush().await
}

/// Hands every frame from the peer to the actor. Returns the protocol error to report when the
/// peer sent something invalid, `None` when the connection simply ended.
async fn ler(
    sessao: SessaoId,
    leitura: &mut SplitStream<QuadrosBroker>,
    ator: &mpsc::Sender<Comando>,
) -> Option<CodigoErro> {
    loop {
        match leitura.next().await {
            None => return None,
            Some(Err(erro)) => {
                debug!(%erro, "leitura encerrada");
                return classificar_erro(&erro);
            }
            Some(Ok(quadro)) => {
                if ator.send(Comando::Quadro { sessao, quadro }).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// Closes a socket gracefully: shuts down our side, then reads and discards what the peer still
/// sends for a while, so that unread input does not turn the close into a reset that would
/// destroy our last frames before the peer reads them.
async fn fechar(mut socket: TcpStream, prazo: Duration) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let descartar = async {
        let mut lixo = [0u8; 4096];
        let mut total = 0;
        while total < DESCARTE_MAXIMO {
            match socket.read(&mut lixo).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(prazo, descartar).await;
}
