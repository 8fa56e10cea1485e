//! One task per connection: handshake, then relaying frames between the socket and the actor.
//!
//! The task reads the handshake within a deadline, checks its protocol version and, for an
//! agent, its credential; anything else first gets an `Erro` and a close. Once registered with
//! the actor it runs one loop over the socket (frames to the actor, rate-limited), the outbound
//! channel (frames to the socket, batched) and one timer (a heartbeat `Ping` every interval, the
//! check for a silent peer, and the end of a pause for a peer over its rate: such a peer's
//! socket is simply not read until its bucket has room, so nothing it sends is ever dropped). It
//! holds no queue state: when the peer goes away or falls silent it tells the actor, and it
//! closes when the actor lets go of its outbound channel, when the peer breaks the protocol, or
//! at once when aborted as a slow consumer. A waiting customer's whole connection costs about
//! 4 KiB of broker memory (BENCHMARKS.md says where it goes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use proto::codec::{
    classificar_erro, codificar, decodificar, delimitar, tipar, versao_da_apresentacao,
};
use proto::ritmo::Balde;
use proto::{
    Apresentacao, CodigoErro, DoBroker, MotivoFim, Papel, ParaBroker, SessaoId, VERSAO_PROTOCOLO,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::actor::{Comando, Saida};
use crate::canal::{Contexto, Fluxo, QuadrosBroker, avisar_ator, fechar};
use crate::credenciais::autorizado;
use crate::indicadores;
use crate::supervisao;

/// How long a refused agent login waits before it is answered, to slow down guessing.
const ATRASO_DE_RECUSA: Duration = Duration::from_millis(500);

/// What the accept loop knows about a connection's address when it hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Origem {
    /// The peer's address.
    pub par: SocketAddr,
    /// Whether this address failed too many agent logins lately (it may still be a customer).
    pub atendente_bloqueado: bool,
}

/// Serves one connection from accept to close.
pub async fn atender<S: Fluxo>(
    socket: S,
    origem: Origem,
    sessao: SessaoId,
    contexto: Arc<Contexto>,
) {
    info!(sessao, par = %origem.par, "conexão aceita");
    let mut bytes = delimitar(socket, contexto.config.tamanho_maximo_quadro);
    let apresentacao = tokio::select! {
        resultado = receber_apresentacao(&mut bytes, contexto.config.prazo_apresentacao) => resultado,
        _ = contexto.desligar.cancelled() => Err(Some(DoBroker::Fim { conversa: 0, motivo: MotivoFim::BrokerEncerrando })),
        // Cut (a cluster's active stepping down): no answer, so a resume goes on elsewhere.
        _ = contexto.forcar.cancelled() => Err(None),
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
                info!(sessao, ?quadro, "apresentação recusada");
                if let DoBroker::Erro { codigo, .. } = &quadro {
                    indicadores::contar_erro(*codigo);
                }
                if let Ok(corpo) = codificar(&quadro) {
                    let _ = bytes.send(corpo).await;
                }
            }
            fechar(bytes.into_inner(), contexto.config.prazo_fechamento).await;
            return;
        }
    };

    // (`matches!`, not `==`: a temporary `Papel` would take room in every connection's task,
    // 120 bytes more for each waiting customer, as measured.)
    if matches!(apresentacao.papel, Papel::Supervisor) {
        return supervisao::supervisionar(bytes, sessao, apresentacao.nome, contexto).await;
    }
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
    if !avisar_ator(&contexto, entrar).await {
        return;
    }
    let mut quadros = tipar::<S, ParaBroker, DoBroker>(bytes);
    let desfecho = conversar(sessao, &mut quadros, rx, &contexto, &abortar).await;
    if let Desfecho::PeerSaiu(Some(codigo)) = desfecho {
        info!(sessao, ?codigo, "protocolo violado");
        indicadores::contar_erro(codigo);
        let _ = quadros.send(DoBroker::erro(codigo)).await;
    }
    if desfecho != Desfecho::Abortada {
        fechar(
            quadros.into_inner().into_inner(),
            contexto.config.prazo_fechamento,
        )
        .await;
    }
    info!(sessao, "conexão encerrada");
}

/// Lets customers through, and agents and supervisors only with a valid token of their role,
/// from an address that has not failed too many logins lately. A wrong token is reported to
/// the accept loop.
fn autorizar(
    apresentacao: Apresentacao,
    origem: &Origem,
    contexto: &Contexto,
) -> Result<Apresentacao, DoBroker> {
    let (tokens, recusa) = match apresentacao.papel {
        Papel::Cliente { .. } => return Ok(apresentacao),
        Papel::Atendente { .. } => (
            &contexto.config.tokens_atendente,
            CodigoErro::NaoAutorizado.descricao(),
        ),
        Papel::Supervisor => (
            &contexto.config.tokens_supervisor,
            "credencial de supervisor ausente ou inválida",
        ),
    };
    if origem.atendente_bloqueado {
        indicadores::contar_recusa("login");
        return Err(DoBroker::Erro {
            codigo: CodigoErro::NaoAutorizado,
            texto: "tentativas demais deste endereço; aguarde um pouco".into(),
        });
    }
    let token = apresentacao.token.as_deref();
    if autorizado(tokens, token) {
        Ok(apresentacao)
    } else {
        let _ = contexto.falhas.try_send(origem.par.ip());
        Err(DoBroker::Erro {
            codigo: CodigoErro::NaoAutorizado,
            texto: recusa.to_owned(),
        })
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

/// Relays frames both ways until the session ends, in one loop over the socket, the outbound
/// channel and one timer (a connection holds no second task, lock or timer while it waits), and
/// says how it ended. Every wait can be cut short by `abortar`.
///
/// - A frame from the peer goes to the actor (within the session's rate).
/// - Frames from the actor are written in batches: whatever is already queued, then one flush.
/// - The timer pings the peer every heartbeat interval, and ends the session when nothing has
///   arrived from the peer for two intervals (noticed at the next heartbeat, so within three).
/// - When the peer's side ends (or breaks the protocol), the actor is told; the loop then only
///   writes what the actor still sends, until it lets go of the session or the closing deadline
///   passes (the timer is re-armed for it).
async fn conversar<S: Fluxo>(
    sessao: SessaoId,
    quadros: &mut QuadrosBroker<S>,
    mut rx: mpsc::Receiver<Box<DoBroker>>,
    contexto: &Contexto,
    abortar: &CancellationToken,
) -> Desfecho {
    let batimento = contexto.config.intervalo_batimento;
    let silencio_maximo = batimento.saturating_mul(2);
    let mut balde = Balde::new(
        contexto.config.mensagens_por_segundo,
        contexto.config.rajada_de_mensagens,
    );
    let mut ultimo_sinal = Instant::now();
    let mut proximo_batimento = ultimo_sinal + batimento;
    // A frame read over the session's rate, held (and the socket left unread) until the bucket
    // has room for it; the timer goes off then too.
    let mut retido: Option<(Box<ParaBroker>, Instant)> = None;
    let relogio = tokio::time::sleep(batimento);
    tokio::pin!(relogio);
    // Set once the peer's side has ended: the protocol error it committed, if any.
    let mut fim_do_peer: Option<Option<CodigoErro>> = None;
    loop {
        let ler = fim_do_peer.is_none() && retido.is_none();
        let passo = tokio::select! {
            _ = abortar.cancelled() => return Desfecho::Abortada,
            quadro = rx.recv() => match quadro {
                Some(quadro) => Passo::Escrever(quadro),
                None => Passo::Liberada,
            },
            () = &mut relogio => Passo::Relogio,
            lido = quadros.next(), if ler => Passo::Lido(lido),
        };
        // A frame from the peer to hand to the actor, within the session's rate.
        let do_peer = match passo {
            Passo::Liberada => {
                if quadros.flush().await.is_err() {
                    return Desfecho::Abortada;
                }
                return match fim_do_peer {
                    Some(fim) => Desfecho::PeerSaiu(fim),
                    None => Desfecho::Liberada,
                };
            }
            Passo::Escrever(primeiro) => {
                let escrito = tokio::select! {
                    escrito = escrever_lote(quadros, primeiro, &mut rx) => escrito,
                    _ = abortar.cancelled() => return Desfecho::Abortada,
                };
                if let Err(erro) = escrito {
                    // The peer cannot be written to: it is gone, even if it was idle.
                    debug!(sessao, %erro, "escrita falhou");
                    avisar_ator(contexto, Comando::Caiu { sessao }).await;
                    return Desfecho::Abortada;
                }
                None
            }
            Passo::Relogio => {
                let agora = Instant::now();
                if fim_do_peer.is_some() {
                    // The closing deadline passed with the actor still holding the session.
                    return Desfecho::Abortada;
                }
                if agora >= proximo_batimento {
                    if agora.saturating_duration_since(ultimo_sinal) >= silencio_maximo {
                        info!(
                            sessao,
                            "sem resposta aos batimentos: conexão considerada perdida"
                        );
                        avisar_ator(contexto, Comando::Caiu { sessao }).await;
                        return Desfecho::Abortada;
                    }
                    proximo_batimento = agora + batimento;
                    let enviado = tokio::select! {
                        enviado = quadros.send(DoBroker::Ping) => enviado,
                        _ = abortar.cancelled() => return Desfecho::Abortada,
                    };
                    if enviado.is_err() {
                        avisar_ator(contexto, Comando::Caiu { sessao }).await;
                        return Desfecho::Abortada;
                    }
                }
                rearmar(relogio.as_mut(), proximo_batimento, &retido);
                // A frame held over the rate goes on once its time has come.
                let devido = retido.as_ref().is_some_and(|(_, quando)| *quando <= agora);
                devido
                    .then(|| retido.take())
                    .flatten()
                    .map(|(quadro, _)| *quadro)
            }
            Passo::Lido(Some(Ok(quadro))) => {
                ultimo_sinal = Instant::now();
                Some(quadro)
            }
            Passo::Lido(outro) => {
                // The peer is gone or broke the protocol: the actor decides what that means for
                // its partner, then lets go of the session, and what it still sends is written.
                let fim = match outro {
                    Some(Err(erro)) => {
                        debug!(sessao, %erro, "leitura encerrada");
                        classificar_erro(&erro)
                    }
                    _ => None,
                };
                fim_do_peer = Some(fim);
                relogio
                    .as_mut()
                    .reset(Instant::now() + contexto.config.prazo_fechamento);
                avisar_ator(contexto, Comando::Caiu { sessao }).await;
                None
            }
        };
        if let Some(quadro) = do_peer {
            if let Some(comando) = dentro_do_ritmo(sessao, quadro, &mut balde, &mut retido) {
                let entregue = tokio::select! {
                    entregue = avisar_ator(contexto, comando) => entregue,
                    _ = abortar.cancelled() => return Desfecho::Abortada,
                };
                if !entregue {
                    return Desfecho::Abortada;
                }
            }
            rearmar(relogio.as_mut(), proximo_batimento, &retido);
        }
    }
}

/// A frame from the peer, as the command for the actor if it is within the session's rate.
/// One over it is held in `retido` (with when the bucket has room for it) and the socket is
/// not read until then, so the peer is slowed down, never robbed. Heartbeat answers (which the
/// actor never needs) and acknowledgements are not counted. (A plain function, not an async
/// one: the frame waiting in an async one would sit in every connection's task for its whole
/// life.)
fn dentro_do_ritmo(
    sessao: SessaoId,
    quadro: ParaBroker,
    balde: &mut Balde,
    retido: &mut Option<(Box<ParaBroker>, Instant)>,
) -> Option<Comando> {
    match quadro {
        ParaBroker::Pong => return None,
        ParaBroker::Recebidos { .. } => {}
        _ => {
            let agora = Instant::now();
            if let Err(espera) = balde.retirar(agora) {
                debug!(sessao, ?espera, "acima do ritmo: leitura suspensa");
                *retido = Some((Box::new(quadro), agora + espera));
                return None;
            }
        }
    }
    Some(Comando::Quadro { sessao, quadro })
}

/// Sets the timer for the next heartbeat, or sooner when a held frame's time comes first.
fn rearmar(
    relogio: std::pin::Pin<&mut tokio::time::Sleep>,
    proximo_batimento: Instant,
    retido: &Option<(Box<ParaBroker>, Instant)>,
) {
    let prazo = match retido {
        Some((_, quando)) => proximo_batimento.min(*quando),
        None => proximo_batimento,
    };
    relogio.reset(prazo);
}

/// What one turn of [`conversar`]'s loop has to do.
enum Passo {
    /// The actor let go of the session.
    Liberada,
    /// The actor sent a frame.
    Escrever(Box<DoBroker>),
    /// The timer went off.
    Relogio,
    /// The peer sent something, ended, or broke the protocol.
    Lido(Option<std::io::Result<ParaBroker>>),
}

/// Writes `primeiro` and whatever else is already queued, then flushes once.
async fn escrever_lote<S: Fluxo>(
    quadros: &mut QuadrosBroker<S>,
    primeiro: Box<DoBroker>,
    rx: &mut mpsc::Receiver<Box<DoBroker>>,
) -> std::io::Result<()> {
    quadros.feed(*primeiro).await?;
    while let Ok(quadro) = rx.try_recv() {
        quadros.feed(*quadro).await?;
    }
    quadros.flush().await
}

/// How the relaying part of a connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Desfecho {
    /// The actor let go of the session; everything it sent was written.
    Liberada,
    /// The peer's side ended (with the protocol error it committed, if any) and the actor has
    /// let go of the session; everything it sent was written.
    PeerSaiu(Option<CodigoErro>),
    /// Cut short: aborted, silent, or the socket cannot be written.
    Abortada,
}

/// Answers a connection that is refused at once (over a limit) with one frame, and closes it.
pub async fn recusar<S: Fluxo>(socket: S, quadro: DoBroker) {
    let mut bytes = delimitar(socket, proto::TAMANHO_MAXIMO_QUADRO);
    if let Ok(corpo) = codificar(&quadro) {
        let _ = tokio::time::timeout(Duration::from_secs(1), bytes.send(corpo)).await;
    }
    fechar(bytes.into_inner(), Duration::from_millis(200)).await;
}
