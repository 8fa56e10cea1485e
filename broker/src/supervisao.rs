//! A supervisor's connection, once its handshake and credential passed: it serves no line and
//! takes no chat, so it never becomes a session of the state machine. It gets `BemVindo`, then
//! the panel at once and every [`Config::intervalo_painel`], each asked of the actor; the
//! heartbeat works as for any peer. A frame other than `Pong`, `Recebidos` or `Sair` gets an
//! `Erro` (a supervisor only watches); `Sair` or the peer's close ends it, and so does the
//! broker's shutdown, with `Fim(BrokerEncerrando)`.
//!
//! [`Config::intervalo_painel`]: crate::config::Config::intervalo_painel

use futures::{SinkExt, StreamExt};
use proto::codec::classificar_erro;
use proto::{CodigoErro, DoBroker, MotivoFim, ParaBroker, SessaoId};
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at};
use tracing::info;

use crate::actor::Comando;
use crate::canal::{Contexto, Fluxo, QuadrosBroker, avisar_ator, fechar};
use crate::indicadores;

/// Serves a supervisor from its `BemVindo` to its close.
pub async fn supervisionar<S: Fluxo>(
    mut quadros: QuadrosBroker<S>,
    sessao: SessaoId,
    contexto: &Contexto,
) {
    let config = &contexto.config;
    let bemvindo = DoBroker::BemVindo {
        sessao,
        batimento_ms: u64::try_from(config.intervalo_batimento.as_millis()).unwrap_or(u64::MAX),
        ficha: [0; 16],
        tolerancia_ms: 0,
        retomada: false,
        ultima_aceita: 0,
        mensagens_por_segundo: config.mensagens_por_segundo,
        rajada: config.rajada_de_mensagens,
        capacidade: 0,
    };
    if quadros.send(bemvindo).await.is_ok() {
        let fim = acompanhar(&mut quadros, contexto).await;
        if let Some(quadro) = fim {
            let _ = quadros.send(quadro).await;
        }
    }
    fechar(quadros.into_inner().into_inner(), config.prazo_fechamento).await;
    info!(sessao, "supervisor desconectado");
}

/// Sends the panel and keeps the heartbeat until the supervisor leaves or the broker stops;
/// returns the last frame to send, if any.
async fn acompanhar<S: Fluxo>(
    quadros: &mut QuadrosBroker<S>,
    contexto: &Contexto,
) -> Option<DoBroker> {
    let config = &contexto.config;
    let mut painel = interval(config.intervalo_painel);
    painel.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let batimento = config.intervalo_batimento;
    let mut pings = interval_at(Instant::now() + batimento, batimento);
    let mut ultimo_sinal = Instant::now();
    loop {
        tokio::select! {
            _ = contexto.forcar.cancelled() => return None,
            _ = contexto.desligar.cancelled() => {
                return Some(DoBroker::Fim { conversa: 0, motivo: MotivoFim::BrokerEncerrando });
            }
            _ = painel.tick() => {
                let quadro = DoBroker::Painel(pedir_painel(contexto).await?);
                quadros.send(quadro).await.ok()?;
            }
            _ = pings.tick() => {
                if ultimo_sinal.elapsed() >= batimento.saturating_mul(2) {
                    return None;
                }
                quadros.send(DoBroker::Ping).await.ok()?;
            }
            lido = quadros.next() => {
                ultimo_sinal = Instant::now();
                match lido {
                    Some(Ok(ParaBroker::Pong | ParaBroker::Recebidos { .. })) => {}
                    Some(Ok(ParaBroker::Sair { .. })) | None => return None,
                    Some(Ok(_)) => {
                        let codigo = CodigoErro::NaoAutorizado;
                        indicadores::contar_erro(codigo);
                        let texto = "um supervisor só observa: não entra em fila nem conversa";
                        let erro = DoBroker::Erro { codigo, texto: texto.into() };
                        quadros.send(erro).await.ok()?;
                    }
                    Some(Err(erro)) => {
                        let codigo = classificar_erro(&erro)?;
                        indicadores::contar_erro(codigo);
                        return Some(DoBroker::erro(codigo));
                    }
                }
            }
        }
    }
}

/// The panel, as the actor has it now (`None` once the actor is gone).
async fn pedir_painel(contexto: &Contexto) -> Option<Box<proto::Painel>> {
    let (resposta, painel) = oneshot::channel();
    if !avisar_ator(contexto, Comando::Painel { resposta }).await {
        return None;
    }
    painel.await.ok()
}
