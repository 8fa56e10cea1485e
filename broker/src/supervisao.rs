//! A supervisor's connection, once its handshake and credential passed: it serves no line and
//! takes no chat, so it never becomes a session of the state machine. With a valid name it gets
//! `BemVindo`, then the panel at once and every [`Config::intervalo_painel`], each asked of the
//! actor and cut down to fit a frame; the heartbeat works as for any peer, and a supervisor that
//! reads nothing for two intervals is let go. A frame other than `Pong`, `Recebidos` or `Sair` gets an
//! `Erro` (a supervisor only watches); `Sair` or the peer's close ends it, and so does the
//! broker's shutdown, with `Fim(BrokerEncerrando)`.
//!
//! [`Config::intervalo_painel`]: crate::config::Config::intervalo_painel

use std::pin::Pin;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use proto::codec::{classificar_erro, codificar, tipar};
use proto::validacao::validar_nome_ate;
use proto::{CodigoErro, DoBroker, MotivoFim, Painel, ParaBroker, SessaoId, TAMANHO_MAXIMO_QUADRO};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tracing::info;

use crate::actor::Comando;
use crate::canal::{Contexto, Fluxo, QuadrosBroker, avisar_ator, fechar};
use crate::indicadores;

/// A supervisor's connection, from its welcome to its close, ready to run.
pub type Supervisao = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Room kept in a panel's frame for its tag and for `omitidos` growing.
const FOLGA: usize = 8;

/// Serves a supervisor from its handshake to its close: a valid name gets `BemVindo`, then the
/// panels. Boxed, and built by a plain function: its state (timers, the panel) would otherwise
/// take room in every connection's task, a supervisor's or not.
pub fn supervisionar<S: Fluxo>(
    bytes: Framed<S, LengthDelimitedCodec>,
    sessao: SessaoId,
    nome: String,
    contexto: Arc<Contexto>,
) -> Supervisao {
    Box::pin(async move {
        let quadros = tipar::<S, ParaBroker, DoBroker>(bytes);
        servir(quadros, sessao, &nome, &contexto).await;
    })
}

/// [`supervisionar`]'s work.
async fn servir<S: Fluxo>(
    mut quadros: QuadrosBroker<S>,
    sessao: SessaoId,
    nome: &str,
    contexto: &Contexto,
) {
    let config = &contexto.config;
    let primeiro = match validar_nome_ate(nome, config.nome_maximo) {
        Ok(nome) => {
            info!(sessao, %nome, "supervisor conectado");
            DoBroker::BemVindo {
                sessao,
                batimento_ms: u64::try_from(config.intervalo_batimento.as_millis())
                    .unwrap_or(u64::MAX),
                ficha: [0; 16],
                tolerancia_ms: 0,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo: config.mensagens_por_segundo,
                rajada: config.rajada_de_mensagens,
                capacidade: 0,
            }
        }
        Err(erro) => {
            indicadores::contar_erro(CodigoErro::NomeInvalido);
            let codigo = CodigoErro::NomeInvalido;
            DoBroker::Erro {
                codigo,
                texto: erro.to_string(),
            }
        }
    };
    let aceito = matches!(primeiro, DoBroker::BemVindo { .. });
    if escrever(&mut quadros, primeiro, contexto).await.is_none() {
        return;
    }
    if aceito {
        let fim = acompanhar(&mut quadros, contexto).await;
        if let Some(quadro) = fim
            && escrever(&mut quadros, quadro, contexto).await.is_none()
        {
            return;
        }
    }
    fechar(quadros.into_inner().into_inner(), config.prazo_fechamento).await;
    info!(sessao, "supervisor desconectado");
}

/// Writes one frame, unless every connection is being cut or the supervisor has read nothing
/// for two heartbeat intervals; `None` when it could not.
async fn escrever<S: Fluxo>(
    quadros: &mut QuadrosBroker<S>,
    quadro: DoBroker,
    contexto: &Contexto,
) -> Option<()> {
    let prazo = contexto.config.intervalo_batimento.saturating_mul(2);
    tokio::select! {
        escrito = tokio::time::timeout(prazo, quadros.send(quadro)) => escrito.ok()?.ok(),
        _ = contexto.forcar.cancelled() => None,
    }
}

/// Sends the panel and keeps the heartbeat until the supervisor leaves or the broker stops;
/// returns the last frame to send, if any.
async fn acompanhar<S: Fluxo>(
    quadros: &mut QuadrosBroker<S>,
    contexto: &Contexto,
) -> Option<DoBroker> {
    let config = &contexto.config;
    let mut relogio_do_painel = interval(config.intervalo_painel);
    relogio_do_painel.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let batimento = config.intervalo_batimento;
    let mut pings = interval_at(Instant::now() + batimento, batimento);
    let mut ultimo_sinal = Instant::now();
    let limite = config.tamanho_maximo_quadro.min(TAMANHO_MAXIMO_QUADRO);
    let encerrando = DoBroker::Fim {
        conversa: 0,
        motivo: MotivoFim::BrokerEncerrando,
    };
    loop {
        let quadro = tokio::select! {
            _ = contexto.forcar.cancelled() => return None,
            _ = contexto.desligar.cancelled() => return Some(encerrando),
            _ = relogio_do_painel.tick() => {
                // The actor gone means the broker is stopping.
                let Some(mut painel) = pedir_painel(contexto).await else {
                    return Some(encerrando);
                };
                caber(&mut painel, limite);
                DoBroker::Painel(painel)
            }
            _ = pings.tick() => {
                if ultimo_sinal.elapsed() >= batimento.saturating_mul(2) {
                    return None;
                }
                DoBroker::Ping
            }
            lido = quadros.next() => {
                ultimo_sinal = Instant::now();
                match responder(lido) {
                    Ok(Some(quadro)) => quadro,
                    Ok(None) => continue,
                    Err(ultimo) => return ultimo,
                }
            }
        };
        escrever(quadros, quadro, contexto).await?;
    }
}

/// What a supervisor's frame gets back: nothing (`Pong`, `Recebidos`), or an `Erro` (anything
/// else: a supervisor only watches); or the end of the connection (`Err`: it left, or broke the
/// protocol, then with the `Erro` to send last).
fn responder(
    lido: Option<std::io::Result<ParaBroker>>,
) -> Result<Option<DoBroker>, Option<DoBroker>> {
    let (codigo, fim) = match lido {
        Some(Ok(ParaBroker::Pong | ParaBroker::Recebidos { .. })) => return Ok(None),
        Some(Ok(ParaBroker::Sair { .. })) | None => return Err(None),
        Some(Ok(_)) => (CodigoErro::NaoAutorizado, false),
        Some(Err(erro)) => match classificar_erro(&erro) {
            Some(codigo) => (codigo, true),
            None => return Err(None),
        },
    };
    indicadores::contar_erro(codigo);
    if fim {
        return Err(Some(DoBroker::erro(codigo)));
    }
    let texto = "um supervisor só observa: não entra em fila nem conversa";
    Ok(Some(DoBroker::Erro {
        codigo,
        texto: texto.into(),
    }))
}

/// The panel, as the actor has it now (`None` once the actor is gone).
async fn pedir_painel(contexto: &Contexto) -> Option<Box<Painel>> {
    let (resposta, painel) = oneshot::channel();
    if !avisar_ator(contexto, Comando::Painel { resposta }).await {
        return None;
    }
    painel.await.ok()
}

/// The encoded size of a value, in bytes.
fn tamanho<T: Serialize>(valor: &T) -> usize {
    codificar(valor).map_or(0, |corpo| corpo.len())
}

/// Leaves agents, then departments, out of `painel` from the end of their lists until its frame
/// fits in `limite` bytes, counting them in `omitidos`.
fn caber(painel: &mut Painel, limite: usize) {
    let mut total = tamanho(&*painel) + FOLGA;
    while total > limite {
        let retirado = match painel.atendentes.pop() {
            Some(atendente) => tamanho(&atendente),
            None => match painel.departamentos.pop() {
                Some(departamento) => tamanho(&departamento),
                None => return,
            },
        };
        total = total.saturating_sub(retirado);
        painel.omitidos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{EstadoAtendente, PainelAtendente, PainelDepartamento};

    #[test]
    fn um_painel_grande_demais_perde_atendentes_do_fim_ate_caber() {
        let atendente = |i: usize| PainelAtendente {
            nome: format!("atendente-{i:04}-{}", "x".repeat(40)),
            departamentos: vec!["geral".into()],
            capacidade: 1,
            estado: EstadoAtendente::Livre,
            ha_ms: 1,
            conversas: Vec::new(),
        };
        let mut painel = Painel {
            meta_ms: 20_000,
            departamentos: vec![PainelDepartamento::default(); 3],
            atendentes: (0..5_000).map(atendente).collect(),
            omitidos: 0,
        };
        let completo = tamanho(&painel);
        assert!(completo > TAMANHO_MAXIMO_QUADRO);
        caber(&mut painel, TAMANHO_MAXIMO_QUADRO);
        let quadro = DoBroker::Painel(Box::new(painel.clone()));
        assert!(tamanho(&quadro) <= TAMANHO_MAXIMO_QUADRO);
        assert_eq!(
            painel.departamentos.len(),
            3,
            "departments go only after every agent"
        );
        assert_eq!(painel.omitidos as usize + painel.atendentes.len(), 5_000);
        assert_eq!(
            painel.atendentes.last(),
            Some(&atendente(painel.atendentes.len() - 1))
        );
        // One fewer agent left out would not fit.
        let mut um_a_mais = painel.clone();
        um_a_mais
            .atendentes
            .push(atendente(um_a_mais.atendentes.len()));
        um_a_mais.omitidos -= 1;
        assert!(tamanho(&DoBroker::Painel(Box::new(um_a_mais))) + FOLGA > TAMANHO_MAXIMO_QUADRO);
        let mut pequeno = Painel::default();
        caber(&mut pequeno, TAMANHO_MAXIMO_QUADRO);
        assert_eq!(pequeno.omitidos, 0);
    }
}
