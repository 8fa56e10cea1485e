//! One task per connection: handshake, then relaying frames between the socket and the actor.
//!
//! The task reads the handshake within a deadline, checks its protocol version and, for an
//! agent, its credential; anything else first gets an `Erro` and a close. Once registered with
//! the actor it runs a reader (socket to actor, rate-limited, with a silence deadline) and a
//! writer (outbound channel to socket, with a heartbeat `Ping` every interval) side by side. It
//! holds no queue state: when the peer goes away or falls silent it tells the actor, and it
//! closes when the actor lets go of its outbound channel, when the peer breaks the protocol, or
//! at once when aborted as a slow consumer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use proto::codec::{
    Quadros, classificar_erro, codificar, decodificar, delimitar, tipar, versao_da_apresentacao,
};
use proto::{
    Apresentacao, CodigoErro, DoBroker, MotivoFim, Papel, ParaBroker, SessaoId, VERSAO_PROTOCOLO,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::actor::{Comando, Saida};
use crate::config::Config;
use crate::credenciais::autorizado;

/// Most bytes read and thrown away while closing, before giving up on a graceful close.
const DESCARTE_MAXIMO: usize = 1 << 20;

/// How long a refused agent login waits before it is answered, to slow down guessing.
const ATRASO_DE_RECUSA: Duration = Duration::from_millis(500);

type QuadrosBroker<S> = Quadros<S, ParaBroker, DoBroker>;

/// Any byte stream a connection runs over: plain TCP, or TLS over TCP.
pub trait Fluxo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Fluxo for T {}

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
    /// Where failed agent logins are reported, for throttling by address.
    pub falhas: mpsc::Sender<IpAddr>,
}

/// What the accept loop knows about a connection's address when it hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Origem {
    /// The peer's address.
    pub par: SocketAddr,
    /// Whether this address failed too many agent logins lately (it may still be a customer).
    pub atendente_bloqueado: bool,
}

/// Serves one connection from accept to close.
pub async fn atender<S: Fluxo>(socket: S, origem: Origem, sessao: SessaoId, contexto: Contexto) {
    info!(par = %origem.par, "conexão aceita");
    let mut bytes = delimitar(socket, contexto.config.tamanho_maximo_quadro);
    let apresentacao = tokio::select! {
        resultado = receber_apresentacao(&mut bytes, contexto.config.prazo_apresentacao) => resultado,
        _ = contexto.desligar.cancelled() => Err(Some(DoBroker::Fim { motivo: MotivoFim::BrokerEncerrando })),
    };
    let apresentacao = apresentacao
        .and_then(|apresentacao| autorizar(apresentacao, &origem, &contexto).map_err(Some));
    let apresentacao = match apresentacao {
        Ok(apresentacao) => apresentacao,
        Err(resposta) => {
            if matches!(
                resposta,
                Some(DoBroker::Erro {
                    codigo: CodigoErro::NaoAutorizado,
                    ..
                })
            ) {
                tokio::time::sleep(ATRASO_DE_RECUSA).await;
            }
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
    let (escrita, leitura) = tipar::<S, ParaBroker, DoBroker>(bytes).split();
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

/// Lets customers through, and agents only with a valid token, from an address that has not
/// failed too many agent logins lately. A wrong token is reported to the accept loop.
fn autorizar(
    apresentacao: Apresentacao,
    origem: &Origem,
    contexto: &Contexto,
) -> Result<Apresentacao, DoBroker> {
    if matches!(apresentacao.papel, Papel::Cliente { .. }) {
        return Ok(apresentacao);
    }
    if origem.atendente_bloqueado {
        return Err(DoBroker::Erro {
            codigo: CodigoErro::NaoAutorizado,
            texto: "tentativas demais deste endereço; aguarde um pouco".into(),
        });
    }
    let token = apresentacao.token.as_deref();
    if autorizado(&contexto.config.tokens_atendente, token) {
        Ok(apresentacao)
    } else {
        let _ = contexto.falhas.try_send(origem.par.ip());
        Err(DoBroker::erro(CodigoErro::NaoAutorizado))
    }
}

/// Waits for the first frame and checks that it is a handshake this broker speaks. On refusal,
/// returns the frame to answer with (if any).
async fn receber_apresentacao<S: Fluxo>(
    bytes: &mut Framed<S, LengthDelimitedCodec>,
    prazo: Duration,
) -> Result<Apresentacao, Option<DoBroker>> {
    let corpo = match tokio::time::timeout(prazo, bytes.next()).await {
        Err(_) => return Err(Some(DoBroker::erro(CodigoErro::PrazoEsgotado))),
        Ok(None) => return Err(None),
        Ok(Some(Err(erro))) => return Err(classificar_erro(&erro).map(DoBroker::erro)),
        Ok(Some(Ok(corpo))) => corpo,
    };
    avaliar_apresentacao(&corpo).map_err(Some)
}

/// Checks the body of a connection's first frame: it must be a handshake in this broker's
/// protocol version. On refusal, returns the frame to answer with. Pure, so that the fuzzer and
/// the tests can call it directly.
pub fn avaliar_apresentacao(corpo: &[u8]) -> Result<Apresentacao, DoBroker> {
    match versao_da_apresentacao(corpo) {
        Some(VERSAO_PROTOCOLO) => {}
        Some(versao) => {
            return Err(DoBroker::Erro {
                codigo: CodigoErro::VersaoIncompativel,
                texto: format!(
                    "o broker fala a versão {VERSAO_PROTOCOLO} do protocolo, e não a {versao}"
                ),
            });
        }
        None => {
            let codigo = match decodificar::<ParaBroker>(corpo) {
                Ok(_) => CodigoErro::ApresentacaoEsperada,
                Err(_) => CodigoErro::QuadroInvalido,
            };
            return Err(DoBroker::erro(codigo));
        }
    }
    match decodificar::<ParaBroker>(corpo) {
        Ok(ParaBroker::Apresentacao(apresentacao)) => Ok(apresentacao),
        _ => Err(DoBroker::erro(CodigoErro::QuadroInvalido)),
    }
}

/// Relays frames both ways until the session ends. Returns the two halves for a graceful close,
/// or `None` when the connection must simply be dropped.
async fn conversar<S: Fluxo>(
    sessao: SessaoId,
    mut escrita: SplitSink<QuadrosBroker<S>, DoBroker>,
    mut leitura: SplitStream<QuadrosBroker<S>>,
    mut rx: mpsc::Receiver<DoBroker>,
    contexto: &Contexto,
    abortar: &CancellationToken,
) -> Option<(
    SplitSink<QuadrosBroker<S>, DoBroker>,
    SplitStream<QuadrosBroker<S>>,
)> {
    let desfecho = {
        let batimento = contexto.config.intervalo_batimento;
        let escritor = escrever(&mut escrita, &mut rx, batimento);
        tokio::pin!(escritor);
        let leitor = ler(sessao, &mut leitura, contexto);
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

/// Writes frames from the outbound channel, batching whatever is already queued into one flush,
/// and a `Ping` every heartbeat interval. Ends when the actor drops the channel's sender.
async fn escrever<S: Fluxo>(
    escrita: &mut SplitSink<QuadrosBroker<S>, DoBroker>,
    rx: &mut mpsc::Receiver<DoBroker>,
    batimento: Duration,
) -> std::io::Result<()> {
    let mut ping = tokio::time::interval_at(Instant::now() + batimento, batimento);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            quadro = rx.recv() => {
                let Some(quadro) = quadro else { break };
                escrita.feed(quadro).await?;
                while let Ok(quadro) = rx.try_recv() {
                    escrita.feed(quadro).await?;
                }
                escrita.flush().await?;
            }
            _ = ping.tick() => escrita.send(DoBroker::Ping).await?,
        }
    }
    escrita.flush().await
}

/// Hands every frame from the peer to the actor, within the session's rate. Returns the
/// protocol error to report when the peer sent something invalid (or kept flooding), `None`
/// when the connection ended or the peer fell silent for two heartbeat intervals.
async fn ler<S: Fluxo>(
    sessao: SessaoId,
    leitura: &mut SplitStream<QuadrosBroker<S>>,
    contexto: &Contexto,
) -> Option<CodigoErro> {
    let silencio_maximo = contexto.config.intervalo_batimento.saturating_mul(2);
    let mut balde = Balde::new(
        contexto.config.mensagens_por_segundo,
        contexto.config.rajada_de_mensagens,
    );
    loop {
        let quadro = match tokio::time::timeout(silencio_maximo, leitura.next()).await {
            Err(_) => {
                info!("sem resposta aos batimentos: conexão considerada perdida");
                return None;
            }
            Ok(None) => return None,
            Ok(Some(Err(erro))) => {
                debug!(%erro, "leitura encerrada");
                return classificar_erro(&erro);
            }
            Ok(Some(Ok(quadro))) => quadro,
        };
        if quadro == ParaBroker::Pong {
            continue;
        }
        match balde.retirar(Instant::now()) {
            Vazao::Permitida => {}
            Vazao::Descartada { avisar } => {
                if avisar {
                    let _ = contexto.ator.send(Comando::Excesso { sessao }).await;
                }
                continue;
            }
            Vazao::Abuso => {
                info!("excesso de mensagens persistente: conexão encerrada");
                return Some(CodigoErro::MuitasMensagens);
            }
        }
        if contexto
            .ator
            .send(Comando::Quadro { sessao, quadro })
            .await
            .is_err()
        {
            return None;
        }
    }
}

/// A token bucket for one session's frames.
#[derive(Debug)]
struct Balde {
    /// Frames that may be sent right now.
    fichas: f64,
    /// Most fichas the bucket holds (the burst).
    capacidade: f64,
    /// Fichas added per second (the rate).
    por_segundo: f64,
    /// When fichas were last added.
    ultimo: Instant,
    /// Start of the current one-second window of dropped frames.
    janela: Instant,
    /// Frames dropped in that window.
    descartes: u32,
}

/// What the bucket says about one frame.
#[derive(Debug, PartialEq, Eq)]
enum Vazao {
    /// Within the rate.
    Permitida,
    /// Over the rate: dropped; `avisar` on the first drop of a window.
    Descartada {
        /// Whether to tell the peer (once per window).
        avisar: bool,
    },
    /// Over the rate for long: the peer is flooding.
    Abuso,
}

impl Balde {
    fn new(por_segundo: u32, rajada: u32) -> Balde {
        let agora = Instant::now();
        Balde {
            fichas: f64::from(rajada),
            capacidade: f64::from(rajada),
            por_segundo: f64::from(por_segundo),
            ultimo: agora,
            janela: agora,
            descartes: 0,
        }
    }

    fn retirar(&mut self, agora: Instant) -> Vazao {
        let passado = agora.saturating_duration_since(self.ultimo).as_secs_f64();
        self.fichas = (self.fichas + passado * self.por_segundo).min(self.capacidade);
        self.ultimo = agora;
        if self.fichas >= 1.0 {
            self.fichas -= 1.0;
            return Vazao::Permitida;
        }
        if agora.saturating_duration_since(self.janela) >= Duration::from_secs(1) {
            self.janela = agora;
            self.descartes = 0;
        }
        self.descartes += 1;
        // Dropping more than two bursts' worth within a second is no accident.
        if f64::from(self.descartes) > self.capacidade * 2.0 {
            Vazao::Abuso
        } else {
            Vazao::Descartada {
                avisar: self.descartes == 1,
            }
        }
    }
}

/// Answers a connection that is refused at once (over a limit) with one frame, and closes it.
pub async fn recusar<S: Fluxo>(socket: S, quadro: DoBroker) {
    let mut bytes = delimitar(socket, proto::TAMANHO_MAXIMO_QUADRO);
    if let Ok(corpo) = codificar(&quadro) {
        let _ = tokio::time::timeout(Duration::from_secs(1), bytes.send(corpo)).await;
    }
    fechar(bytes.into_inner(), Duration::from_millis(200)).await;
}

/// Closes a socket gracefully: shuts down our side, then reads and discards what the peer still
/// sends for a while, so that unread input does not turn the close into a reset that would
/// destroy our last frames before the peer reads them.
async fn fechar<S: Fluxo>(mut socket: S, prazo: Duration) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balde_permite_a_rajada_depois_a_taxa() {
        let mut balde = Balde::new(10, 3);
        let inicio = balde.ultimo;
        for _ in 0..3 {
            assert_eq!(balde.retirar(inicio), Vazao::Permitida);
        }
        assert_eq!(balde.retirar(inicio), Vazao::Descartada { avisar: true });
        assert_eq!(balde.retirar(inicio), Vazao::Descartada { avisar: false });
        // A tenth of a second later, one more frame fits.
        let depois = inicio + Duration::from_millis(100);
        assert_eq!(balde.retirar(depois), Vazao::Permitida);
        // Keep flooding within the same second: abuse after two bursts' worth of drops.
        for _ in 0..4 {
            assert_eq!(balde.retirar(depois), Vazao::Descartada { avisar: false });
        }
        assert_eq!(balde.retirar(depois), Vazao::Abuso);
        // Seconds later the bucket is full again.
        let muito_depois = inicio + Duration::from_secs(5);
        assert_eq!(balde.retirar(muito_depois), Vazao::Permitida);
    }
}
