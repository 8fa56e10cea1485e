//! The actor: one task that owns the [`Matchmaker`] and every session's outbound channel.
//!
//! Connection tasks send it [`Comando`]s over one bounded channel; it applies them to the state
//! machine and delivers the resulting frames with `try_send`, so it never waits on a peer. A
//! session whose outbound channel is full is a slow consumer: its connection is aborted and the
//! state machine treats it as dropped, so nobody else ever waits for it. Position updates (and
//! the end of suspended sessions' grace periods) go out on a fixed tick.
//!
//! When the history is kept, the records of each event, and the lookups of earlier
//! conversations it asks for, go to the writer as one lot. With SQLite the actor commits them
//! itself, after handling every command already waiting (one transaction for all of them; a
//! commit writes to the operating system's cache, and the checkpoints that wait for the disk run
//! on a thread of their own). With PostgreSQL a writer task commits them, and the actor keeps the
//! lots in order while the task's queue is full: it never waits on the database. With the
//! journal on, the frames an event causes are held back until its lot is stored: nothing a peer
//! sees (a `Confirmada` above all) can be lost to a crash, and a restarted broker's journal
//! agrees with what every peer was told.
//! The frames of an event with a lookup are held back too, journal or not, so that the answer
//! goes out in its place, right after the agent's `Conectado`: every chat gets its
//! `Anteriores`.
//!
//! The active broker of a cluster serves under a [`Mandato`]: the actor checks it each time it
//! wakes, before it lets anything out, and once it is lost it cuts every connection and stops
//! at once, with no goodbye and nothing more written (the broker is stepping down; the next
//! active restores the sessions from the journal, and the peers resume there).
//!
//! A session and the connection carrying it usually share an id. After a resume a new
//! connection carries an older session: the actor maps the connection to it, sends the
//! session's frames to the new connection, and ignores whatever the old one still reports.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use proto::{Anterior, Apresentacao, DoBroker, Ficha, MotivoFim, Painel, ParaBroker, SessaoId};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::armazenamento::{Consulta, Gravado, Gravador, Lote, Vaga, agora_ms};
use crate::indicadores::Indicadores;
use crate::mandato::{self, Mandato};
use crate::matchmaking::{Efeito, Evento, Instantaneo, LinhaSalva, Matchmaker, Parametros};

/// What a connection task asks of the actor.
#[derive(Debug)]
pub enum Comando {
    /// A connection completed its handshake.
    Entrar {
        /// Its id.
        sessao: SessaoId,
        /// What it said about itself.
        apresentacao: Apresentacao,
        /// Where its frames go.
        saida: Saida,
    },
    /// A registered connection sent a frame.
    Quadro {
        /// Its id.
        sessao: SessaoId,
        /// The frame.
        quadro: ParaBroker,
    },
    /// A connection was lost (or broke the protocol).
    Caiu {
        /// Its id.
        sessao: SessaoId,
    },
    /// A supervisor asks for the panel: the lines and agents now, with the day's figures.
    Painel {
        /// Where the answer goes.
        resposta: oneshot::Sender<Box<Painel>>,
    },
    /// The broker is shutting down: tell everyone and let go of every session.
    Encerrar,
}

/// How the actor reaches one connection.
#[derive(Debug)]
pub struct Saida {
    /// Frames to write to the peer, in order. Dropping it tells the connection to flush and close.
    /// Boxed so that the channel's first block of slots, allocated with the channel and held by
    /// every connection for its whole life, is 32 pointers rather than 32 frames (about 2 KiB
    /// less per waiting customer).
    pub quadros: mpsc::Sender<Box<DoBroker>>,
    /// Cancelled to cut the connection at once (slow consumers).
    pub abortar: CancellationToken,
}

/// Where the actor's records go, when the history is kept.
pub struct Escrita {
    /// The writer.
    pub gravador: Gravador,
    /// A writer task's reports: up to which lot is stored, and the lookups' answers (none when
    /// the actor commits itself).
    pub gravados: Option<mpsc::UnboundedReceiver<Gravado>>,
    /// Sessions left in the journal by a broker that did not shut down gracefully; they come
    /// back suspended.
    pub salvas: Vec<Instantaneo>,
    /// The lines the history holds of the open chats, to bring those sessions up to date.
    pub linhas: Vec<LinhaSalva>,
    /// Each department's latest handling times in the history, oldest first, for the wait
    /// estimates.
    pub duracoes: Vec<(String, Vec<Duration>)>,
    /// The cluster's lease this broker serves under, when it is a cluster's active.
    pub mandato: Option<Arc<Mandato>>,
}

/// How the actor counts for whoever watches the broker.
pub struct Observacao {
    /// The counts and the day's figures.
    pub indicadores: Indicadores,
    /// Whether Prometheus metrics are served: the gauges are then set from the panel every
    /// [`INTERVALO_DOS_MEDIDORES`].
    pub metricas: bool,
}

/// How often the gauges of the metrics are brought up to date.
pub const INTERVALO_DOS_MEDIDORES: Duration = Duration::from_secs(1);

/// Runs the actor until it is told to shut down or every connection task is gone.
///
/// `inicio` is the broker's uptime zero; `escrita`, when given, receives the history's records
/// (and `parametros.historico` should then be set; with `parametros.diario`, frames wait for
/// their records to be stored); `observacao` counts what happens.
pub async fn executar(
    parametros: Parametros,
    intervalo_fila: Duration,
    mut comandos: mpsc::Receiver<Comando>,
    inicio: Instant,
    (escrita, observacao): (Option<Escrita>, Observacao),
) {
    let mut mandato = None;
    let (maquina, gravacao, mut gravados) = match escrita {
        None => (Matchmaker::com_parametros(parametros), None, None),
        Some(Escrita {
            gravador,
            gravados,
            salvas,
            linhas,
            duracoes,
            mandato: do_cluster,
        }) => {
            mandato = do_cluster;
            if !salvas.is_empty() {
                info!(
                    sessoes = salvas.len(),
                    "sessões restauradas do diário: aguardando que retomem"
                );
            }
            let antes_de_enviar = parametros.diario;
            let mut maquina = Matchmaker::restaurar(parametros, salvas, &linhas, inicio.elapsed());
            for (departamento, duracoes) in duracoes {
                maquina.lembrar_atendimentos(&departamento, &duracoes);
            }
            let gravacao = Gravacao {
                gravador,
                antes_de_enviar,
                ultimo_lote: 0,
                ultimo_gravado: 0,
                em_espera: VecDeque::new(),
                atrasados: VecDeque::new(),
                respostas: HashMap::new(),
            };
            (maquina, Some(gravacao), gravados)
        }
    };
    let mut ator = Ator {
        inicio,
        maquina,
        saidas: HashMap::new(),
        sessao_da_conexao: HashMap::new(),
        substituidas: HashSet::new(),
        gravacao,
        indicadores: observacao.indicadores,
        proximos_medidores: observacao.metricas.then(Instant::now),
    };
    let mut tick = interval(intervalo_fila);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Lots the writer had no room for wait, in order, for room in its queue; meanwhile the
        // actor goes on (only the frames of those lots' events wait with them).
        let com_atraso = match &ator.gravacao {
            Some(gravacao) if !gravacao.atrasados.is_empty() => gravacao.gravador.fila(),
            _ => None,
        };
        let vez = tokio::select! {
            biased;
            Some(gravado) = gravado(&mut gravados) => Vez::Gravado(gravado),
            Some(vaga) = vaga_para(com_atraso) => Vez::Vaga(vaga),
            _ = tick.tick() => Vez::Tick,
            comando = comandos.recv() => Vez::Comando(comando),
        };
        // Whatever woke the actor, nothing goes out once the lease is gone.
        if !mandato::vale(mandato.as_deref()) {
            ator.largar(mandato.as_deref().is_some_and(Mandato::renunciado));
            return;
        }
        match vez {
            Vez::Gravado(gravado) => ator.liberar(gravado),
            Vez::Vaga(vaga) => {
                if let Some(lote) = ator.gravacao.as_mut().and_then(|g| g.atrasados.pop_front()) {
                    vaga.entregar(lote);
                }
            }
            Vez::Tick => {
                let efeitos = ator.maquina.tick(ator.inicio.elapsed());
                ator.despachar(efeitos);
                ator.atualizar_medidores();
            }
            Vez::Comando(Some(Comando::Encerrar) | None) => break,
            Vez::Comando(Some(comando)) => {
                ator.tratar(comando);
                // Whatever else is already waiting joins the same commit.
                if !ator.tratar_os_que_esperam(&mut comandos) {
                    break;
                }
            }
        }
        ator.descarregar();
    }
    ator.parar().await;
}

/// What woke the actor.
enum Vez {
    /// The writer stored lots.
    Gravado(Gravado),
    /// The writer's queue has room for a lot that waited.
    Vaga(Vaga),
    /// The tick of positions and deadlines.
    Tick,
    /// A connection's command (`None`: every connection task is gone).
    Comando(Option<Comando>),
}

/// Commands handled one after another before the actor commits what they caused.
const COMANDOS_POR_COMMIT: usize = 256;

/// Room in the writer's queue, when there are lots waiting for it; never, otherwise.
async fn vaga_para(fila: Option<mpsc::Sender<Lote>>) -> Option<Vaga> {
    match fila {
        Some(fila) => Vaga::em(fila).await,
        None => std::future::pending().await,
    }
}

/// The writer's next report; never, without a history (or once the writer is gone).
async fn gravado(gravados: &mut Option<mpsc::UnboundedReceiver<Gravado>>) -> Option<Gravado> {
    if let Some(gravados) = gravados
        && let Some(gravado) = gravados.recv().await
    {
        return Some(gravado);
    }
    std::future::pending().await
}

/// The actor's side of the history's writer.
struct Gravacao {
    /// The writer's inbox.
    gravador: Gravador,
    /// Whether frames wait until the records of their event are stored (the journal is on).
    antes_de_enviar: bool,
    /// The number of the last lot handed to the writer.
    ultimo_lote: u64,
    /// The number of the last lot the writer stored.
    ultimo_gravado: u64,
    /// Effects held back, each with the lot that must be stored before they are carried out,
    /// in order.
    em_espera: VecDeque<(u64, Vec<Efeito>)>,
    /// Lots the writer had no room for, in order, delivered as room appears.
    atrasados: VecDeque<Lote>,
    /// Answers to lookups whose lot is stored, until the frames held with it go out.
    respostas: HashMap<(SessaoId, u64), Vec<Anterior>>,
}

/// The actor's state.
struct Ator {
    /// When the actor started; events are timed from here.
    inicio: Instant,
    /// The state machine.
    maquina: Matchmaker,
    /// The connection carrying each session the state machine knows, by session: its id and
    /// its outbound side. Suspended sessions have none.
    saidas: HashMap<SessaoId, (SessaoId, Saida)>,
    /// The session a connection carries, for connections that resumed an older session (any
    /// other connection carries the session of its own id).
    sessao_da_conexao: HashMap<SessaoId, SessaoId>,
    /// Connections whose session a resume has taken over, while that resume's effects wait for
    /// the journal: what they still report (their drop above all) is no longer the session's.
    substituidas: HashSet<SessaoId>,
    /// Where history records go, when the history is kept.
    gravacao: Option<Gravacao>,
    /// What is counted for whoever watches the broker.
    indicadores: Indicadores,
    /// When the metrics' gauges are next due (`None`: no metrics are served).
    proximos_medidores: Option<Instant>,
}

impl Ator {
    /// Handles the commands already waiting in `comandos`, up to [`COMANDOS_POR_COMMIT`];
    /// `false` when one of them is the order to shut down (or every sender is gone).
    fn tratar_os_que_esperam(&mut self, comandos: &mut mpsc::Receiver<Comando>) -> bool {
        for _ in 0..COMANDOS_POR_COMMIT {
            match comandos.try_recv() {
                Ok(Comando::Encerrar) | Err(mpsc::error::TryRecvError::Disconnected) => {
                    return false;
                }
                Ok(comando) => self.tratar(comando),
                Err(mpsc::error::TryRecvError::Empty) => break,
            }
        }
        true
    }

    /// When the actor commits itself, commits every pending lot and carries out what waited
    /// for them (which may cause more lots: those too).
    fn descarregar(&mut self) {
        while let Some(gravado) = self
            .gravacao
            .as_mut()
            .and_then(|gravacao| gravacao.gravador.descarregar())
        {
            self.liberar(gravado);
        }
    }

    fn tratar(&mut self, comando: Comando) {
        let evento = match comando {
            Comando::Entrar {
                sessao,
                apresentacao,
                saida,
            } => {
                info!(
                    sessao,
                    nome = %apresentacao.nome,
                    papel = ?apresentacao.papel,
                    "apresentação recebida"
                );
                self.saidas.insert(sessao, (sessao, saida));
                Evento::Entrou {
                    sessao,
                    apresentacao,
                    ficha: ficha_nova(),
                }
            }
            Comando::Quadro { sessao, quadro } => {
                let Some(sessao) = self.sessao_atual(sessao) else {
                    return;
                };
                Evento::Recebeu { sessao, quadro }
            }
            Comando::Caiu { sessao: conexao } => {
                let Some(sessao) = self.sessao_atual(conexao) else {
                    self.sessao_da_conexao.remove(&conexao);
                    return;
                };
                Evento::Caiu { sessao }
            }
            Comando::Painel { resposta } => {
                let _ = resposta.send(Box::new(self.painel()));
                return;
            }
            Comando::Encerrar => return,
        };
        let efeitos = self.maquina.aplicar(evento, self.inicio.elapsed());
        self.despachar(efeitos);
    }

    /// The panel as a supervisor sees it now.
    fn painel(&mut self) -> Painel {
        let mut painel = self.maquina.painel(self.inicio.elapsed());
        self.indicadores.completar(&mut painel, agora_ms());
        painel
    }

    /// Sets the metrics' gauges from the panel, when they are served and due.
    fn atualizar_medidores(&mut self) {
        let Some(proximos) = self.proximos_medidores else {
            return;
        };
        let agora = Instant::now();
        if agora >= proximos {
            self.proximos_medidores = Some(agora + INTERVALO_DOS_MEDIDORES);
            let painel = self.painel();
            self.indicadores.publicar(&painel);
        }
    }

    /// The session the connection `conexao` carries, if that connection still carries it (a
    /// connection replaced by a resume carries nothing).
    fn sessao_atual(&self, conexao: SessaoId) -> Option<SessaoId> {
        if self.substituidas.contains(&conexao) {
            return None;
        }
        let sessao = self
            .sessao_da_conexao
            .get(&conexao)
            .copied()
            .unwrap_or(conexao);
        let (atual, _) = self.saidas.get(&sessao)?;
        (*atual == conexao).then_some(sessao)
    }

    /// Lets go of a session's connection (dropping its outbound side closes it).
    fn soltar(&mut self, sessao: SessaoId) {
        if let Some((conexao, _)) = self.saidas.remove(&sessao) {
            self.sessao_da_conexao.remove(&conexao);
            self.substituidas.remove(&conexao);
        }
    }

    /// Hands the records among `efeitos` to the writer as one lot, and carries out the rest in
    /// order, at once or, with the journal on, once that lot (and every one before) is stored.
    fn despachar(&mut self, efeitos: Vec<Efeito>) {
        let medidas = self.maquina.tirar_medidas();
        if !medidas.is_empty() {
            self.indicadores.anotar(medidas, agora_ms());
        }
        for efeito in &efeitos {
            if let Efeito::Retomar { conexao, sessao } = efeito
                && let Some((antiga, _)) = self.saidas.get(sessao)
                && antiga != conexao
            {
                self.substituidas.insert(*antiga);
            }
        }
        let Some(gravacao) = &mut self.gravacao else {
            return self.executar(efeitos);
        };
        let mut registros = Vec::new();
        let mut consultas = Vec::new();
        let mut resto = Vec::with_capacity(efeitos.len());
        for efeito in efeitos {
            match efeito {
                Efeito::Registrar(registro) => registros.push(registro),
                Efeito::ConsultarAnteriores {
                    para,
                    cliente,
                    conversa,
                } => {
                    // Stays in place: its answer goes out there, once the lot is stored.
                    resto.push(Efeito::ConsultarAnteriores {
                        para,
                        cliente: String::new(),
                        conversa,
                    });
                    consultas.push(Consulta {
                        para,
                        cliente,
                        conversa,
                    });
                }
                outro => resto.push(outro),
            }
        }
        let consulta = !consultas.is_empty();
        let gravar = consulta || !registros.is_empty();
        if gravar {
            gravacao.ultimo_lote += 1;
            let lote = Lote {
                numero: gravacao.ultimo_lote,
                registros,
                consultas,
            };
            if gravacao.atrasados.is_empty() {
                if let Err(atrasado) = gravacao.gravador.gravar(lote) {
                    gravacao.atrasados.push_back(atrasado);
                }
            } else {
                // Behind the lots still waiting for room, to keep the order.
                gravacao.atrasados.push_back(lote);
            }
            self.indicadores
                .pendentes(gravacao.ultimo_lote - gravacao.ultimo_gravado);
        }
        let segurar =
            (gravacao.antes_de_enviar && gravar) || consulta || !gravacao.em_espera.is_empty();
        if segurar {
            if !resto.is_empty() {
                gravacao.em_espera.push_back((gravacao.ultimo_lote, resto));
            }
            return;
        }
        self.executar(resto);
    }

    /// Carries out the effects held for lots up to `gravado.ate`, now stored, with the answers
    /// to their lookups.
    fn liberar(&mut self, gravado: Gravado) {
        let ate = gravado.ate;
        if let Some(gravacao) = &mut self.gravacao {
            gravacao.ultimo_gravado = gravacao.ultimo_gravado.max(ate);
            self.indicadores
                .pendentes(gravacao.ultimo_lote - gravacao.ultimo_gravado);
            for resposta in gravado.respostas {
                gravacao
                    .respostas
                    .insert((resposta.para, resposta.conversa), resposta.conversas);
            }
        }
        while let Some(gravacao) = &mut self.gravacao
            && gravacao
                .em_espera
                .front()
                .is_some_and(|(lote, _)| *lote <= ate)
        {
            let Some((_, efeitos)) = gravacao.em_espera.pop_front() else {
                break;
            };
            self.executar(efeitos);
        }
    }

    /// Carries out effects other than records, in order; a session found slow or gone is
    /// dropped, and the effects of dropping it are dispatched after the others.
    fn executar(&mut self, efeitos: Vec<Efeito>) {
        let mut quedas = Vec::new();
        for efeito in efeitos {
            match efeito {
                Efeito::Enviar { para, quadro } => {
                    // Counted once, when first sent (a resume's replay is not counted again).
                    self.indicadores.ao_enviar(&quadro);
                    self.enviar(para, quadro, &mut quedas);
                }
                Efeito::Reenviar { para, quadro } => self.enviar(para, quadro, &mut quedas),
                Efeito::Retomar { conexao, sessao } => {
                    info!(sessao, conexao, "sessão retomada");
                    self.indicadores.ao_retomar();
                    if let Some((_, saida)) = self.saidas.remove(&conexao) {
                        // Dropping the old connection's outbound side closes it.
                        self.soltar(sessao);
                        self.saidas.insert(sessao, (conexao, saida));
                        self.sessao_da_conexao.insert(conexao, sessao);
                    }
                }
                Efeito::Desligar { sessao } => {
                    info!(
                        sessao,
                        "conexão perdida: sessão suspensa à espera de retomada"
                    );
                    self.soltar(sessao);
                }
                Efeito::Registrar(_) => {}
                Efeito::ConsultarAnteriores { para, conversa, .. } => {
                    let resposta = self
                        .gravacao
                        .as_mut()
                        .and_then(|gravacao| gravacao.respostas.remove(&(para, conversa)));
                    if let Some(conversas) = resposta {
                        let quadro = DoBroker::Anteriores {
                            conversa,
                            conversas,
                        };
                        self.enviar(para, quadro, &mut quedas);
                    }
                }
                Efeito::Fechar { sessao } => {
                    debug!(sessao, "sessão encerrada");
                    self.soltar(sessao);
                }
            }
        }
        if !quedas.is_empty() {
            self.despachar(quedas);
        }
    }

    /// Hands a frame to a session's connection; a session found slow or gone is dropped, with
    /// the effects of that added to `quedas`.
    fn enviar(&mut self, para: SessaoId, quadro: DoBroker, quedas: &mut Vec<Efeito>) {
        let Some((_, saida)) = self.saidas.get(&para) else {
            return;
        };
        registrar(para, &quadro);
        if let Err(erro) = saida.quadros.try_send(Box::new(quadro)) {
            if let TrySendError::Full(_) = erro {
                warn!(sessao = para, "consumidor lento: conexão cortada");
                saida.abortar.cancel();
            }
            self.soltar(para);
            quedas.extend(
                self.maquina
                    .aplicar(Evento::Caiu { sessao: para }, self.inicio.elapsed()),
            );
        }
    }

    /// Steps down: cuts every connection at once, says nothing to anyone, and drops whatever
    /// was waiting for the writer.
    fn largar(&mut self, renunciado: bool) {
        let sessoes = self.saidas.len();
        if renunciado {
            info!(
                sessoes,
                "passando o atendimento: conexões cortadas, sessões no diário"
            );
        } else {
            warn!(
                sessoes,
                "mandato perdido: conexões cortadas, nada mais é enviado"
            );
        }
        self.gravacao = None;
        self.sessao_da_conexao.clear();
        for (_, (_, saida)) in self.saidas.drain() {
            saida.abortar.cancel();
        }
    }

    /// Tells every session the broker is going away and lets go of all of them, so that each
    /// connection flushes that last frame and closes.
    async fn parar(&mut self) {
        self.descarregar();
        if let Some(mut gravacao) = self.gravacao.take() {
            // What was held back goes out first; the writer still stores every queued lot.
            for (_, efeitos) in std::mem::take(&mut gravacao.em_espera) {
                self.executar(efeitos);
            }
            for lote in std::mem::take(&mut gravacao.atrasados) {
                gravacao.gravador.esperar(lote).await;
            }
            let registros = self
                .maquina
                .parar(self.inicio.elapsed())
                .into_iter()
                .filter_map(|efeito| match efeito {
                    Efeito::Registrar(registro) => Some(registro),
                    _ => None,
                })
                .collect();
            let ultimo = Lote {
                numero: gravacao.ultimo_lote + 1,
                registros,
                consultas: Vec::new(),
            };
            if let Err(lote) = gravacao.gravador.gravar(ultimo) {
                gravacao.gravador.esperar(lote).await;
            }
            // When the actor commits itself, that last lot is committed here.
            let _ = gravacao.gravador.descarregar();
        }
        info!(
            sessoes = self.saidas.len(),
            "encerrando: avisando todas as sessões"
        );
        let fim = DoBroker::Fim {
            conversa: 0,
            motivo: MotivoFim::BrokerEncerrando,
        };
        self.sessao_da_conexao.clear();
        for (_, (_, saida)) in self.saidas.drain() {
            if saida.quadros.try_send(Box::new(fim.clone())).is_err() {
                saida.abortar.cancel();
            }
        }
    }
}

/// A fresh random secret for a new session. Should the system's source of randomness fail (it
/// does not on any supported system), the session gets an all-zero secret, which no resume
/// matches: it simply cannot be resumed.
fn ficha_nova() -> Ficha {
    let mut ficha = [0; 16];
    if getrandom::fill(&mut ficha).is_err() {
        warn!("sem fonte de aleatoriedade: a sessão não poderá ser retomada");
    }
    ficha
}

/// Logs the frames that mark a session's milestones (chat start, end, errors).
fn registrar(sessao: SessaoId, quadro: &DoBroker) {
    match quadro {
        DoBroker::Conectado {
            com,
            conversa,
            departamento,
            espera_ms,
        } => info!(sessao, conversa, %com, %departamento, espera_ms, "conversa iniciada"),
        DoBroker::Fim { conversa, motivo } => info!(sessao, conversa, ?motivo, "fim"),
        DoBroker::Erro { codigo, .. } => info!(sessao, ?codigo, "erro enviado"),
        _ => {}
    }
}
