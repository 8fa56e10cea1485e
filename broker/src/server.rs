//! The accept loop and the broker's lifecycle: start, serve, shut down gracefully.
//!
//! [`Broker::iniciar`] opens the history (when configured) and reads back the sessions a killed
//! broker left in its journal, binds the listener and spawns the actor (with those sessions
//! restored, suspended), the history's writer and the accept loop; every accepted connection
//! gets its own task, numbered after every restored session. The accept loop also owns the
//! connection counts (in all and per address) and the record of failed agent logins per
//! address, so limits need no shared state: connection tasks report back over channels.
//! [`Broker::parar`] stops accepting, has the actor tell every session `Fim`
//! (`BrokerEncerrando`) and empty the journal, gives connections [`Config::prazo_encerramento`]
//! to flush, then cuts whatever is left.
//!
//! The active broker of a cluster serves under a [`Mandato`] ([`Broker::assumir`], from
//! [`crate::cluster`]): when it is lost the broker steps down instead, stopping at once, cutting
//! every connection without a goodbye, and leaving the journal for the next active.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::tls::TlsAcceptor;
use proto::tls::rustls::ServerConfig;
use proto::tls::server::TlsStream;
use proto::{CodigoErro, DoBroker, SessaoId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::actor::{self, Comando};
use crate::armazenamento::lideranca::Trava;
use crate::armazenamento::{Banco, ErroBanco, FiltroDesempenho, agora_ms, diario, e_postgres};
use crate::canal::{Contexto, Fluxo};
use crate::config::Config;
use crate::connection::{self, Origem};
use crate::indicadores::{self, Indicadores, MS_POR_DIA};
use crate::mandato::{self, Mandato};
use crate::matchmaking::estimativas::AMOSTRAS;
use crate::web;

/// A running broker.
pub struct Broker {
    /// The address it actually listens on (useful when configured with port 0).
    endereco: SocketAddr,
    /// The address of its web listener, when it serves one.
    endereco_web: Option<SocketAddr>,
    /// Cancelled to start the shutdown.
    desligar: CancellationToken,
    /// The accept loop, which also runs the shutdown.
    tarefa: JoinHandle<()>,
}

impl Broker {
    /// Opens the history (when `config.banco` names one), binds `config.escutar` and starts
    /// serving.
    pub async fn iniciar(config: Config) -> io::Result<Broker> {
        let ouvir = vincular(config.escutar, config.web);
        Broker::abrir(config, None, ouvir).await
    }

    /// Serves as the active broker of a cluster, under `mandato`: restores the journal the
    /// previous active left, then opens its listeners (`ouvir`: the protocol's and the web's)
    /// and accepts. When the mandate is lost, the broker steps down by itself
    /// ([`Broker::terminado`] resolves once it has).
    pub(crate) async fn assumir(
        config: Config,
        mandato: Arc<Mandato>,
        ouvir: impl FnOnce() -> io::Result<(TcpListener, Option<TcpListener>)>,
    ) -> io::Result<Broker> {
        Broker::abrir(config, Some(mandato), async { ouvir() }).await
    }

    /// Opens the history (under `mandato`, for a cluster's active), then the listeners
    /// (`ouvir`), and starts serving.
    async fn abrir(
        config: Config,
        mandato: Option<Arc<Mandato>>,
        ouvir: impl Future<Output = io::Result<(TcpListener, Option<TcpListener>)>>,
    ) -> io::Result<Broker> {
        instalar_metricas(&config)?;
        let historico = Armazem::do_config(&config, mandato.clone()).await?;
        let (ouvinte, web) = ouvir.await?;
        let endereco = ouvinte.local_addr()?;
        let ouvintes = Ouvintes {
            protocolo: ouvinte,
            web,
        };
        Ok(Broker::comecar(
            ouvintes,
            endereco,
            config,
            (historico, mandato),
        ))
    }

    /// Starts serving on a listener that is already bound (any [`Ouvinte`], such as a
    /// simulated network's), reachable at `endereco`.
    /// No history is kept, and no web listener is opened (`config.web` is not looked at).
    pub fn sobre<O: Ouvinte>(ouvinte: O, endereco: SocketAddr, config: Config) -> Broker {
        let ouvintes = Ouvintes {
            protocolo: ouvinte,
            web: None,
        };
        Broker::comecar(ouvintes, endereco, config, (None, None))
    }

    fn comecar<O: Ouvinte>(
        ouvintes: Ouvintes<O>,
        endereco: SocketAddr,
        config: Config,
        (historico, mandato): (Option<Armazem>, Option<Arc<Mandato>>),
    ) -> Broker {
        let desligar = CancellationToken::new();
        let endereco_web = ouvintes.web.as_ref().and_then(|web| web.local_addr().ok());
        let servico = Servico {
            config,
            desligar: desligar.clone(),
            historico,
            mandato,
        };
        let tarefa = tokio::spawn(servir(ouvintes, servico));
        info!(%endereco, ?endereco_web, "broker ouvindo");
        Broker {
            endereco,
            endereco_web,
            desligar,
            tarefa,
        }
    }

    /// The address the broker listens on.
    pub fn endereco(&self) -> SocketAddr {
        self.endereco
    }

    /// The address of the web page and WebSocket, when the broker serves them (`--web`).
    pub fn endereco_web(&self) -> Option<SocketAddr> {
        self.endereco_web
    }

    /// Shuts the broker down gracefully and waits until it has.
    pub async fn parar(self) {
        self.desligar.cancel();
        let _ = self.tarefa.await;
    }

    /// Waits until the broker has stopped (a cluster's active: once it has stepped down).
    pub(crate) async fn terminado(self) {
        let _ = self.tarefa.await;
    }
}

/// Binds the protocol's listener at `escutar` and the web's at `web`, when asked for.
async fn vincular(
    escutar: SocketAddr,
    web: Option<SocketAddr>,
) -> io::Result<(TcpListener, Option<TcpListener>)> {
    let ouvinte = TcpListener::bind(escutar).await.map_err(|erro| {
        io::Error::new(
            erro.kind(),
            format!("não foi possível ouvir em {escutar}: {erro}"),
        )
    })?;
    let web = match web {
        None => None,
        Some(escutar) => Some(TcpListener::bind(escutar).await.map_err(|erro| {
            io::Error::new(
                erro.kind(),
                format!("não foi possível servir a web em {escutar}: {erro}"),
            )
        })?),
    };
    Ok((ouvinte, web))
}

/// Serves the Prometheus metrics when `config` asks for them (once per process).
pub(crate) fn instalar_metricas(config: &Config) -> io::Result<()> {
    match config.metricas {
        Some(endereco) => indicadores::instalar(endereco)
            .map_err(|erro| io::Error::other(format!("métricas em {endereco}: {erro}"))),
        None => Ok(()),
    }
}

/// The store, opened and its writer started, with what the broker needs from it to start.
struct Armazem {
    /// The highest conversation id stored.
    ultima_conversa: u64,
    /// The broker's uptime zero: early enough that every restored customer joined after it.
    inicio: tokio::time::Instant,
    /// What the actor needs: the writer, and the sessions to restore.
    escrita: actor::Escrita,
    /// A writer task, which ends once it has stored everything the actor gave it (PostgreSQL;
    /// on SQLite the actor commits itself).
    gravacao: Option<JoinHandle<()>>,
    /// Today's figures so far, per department, for the supervisor's panel.
    hoje: (i64, HashMap<String, indicadores::Dia>),
    /// A broker on its own on PostgreSQL: the schema's lock, held while it serves, so that no
    /// other broker serves (and writes) the same journal.
    trava: Option<Trava>,
}

impl Armazem {
    /// The store of `config.banco`, when it names one, opened under `mandato` when the broker is
    /// a cluster's active.
    async fn do_config(
        config: &Config,
        mandato: Option<Arc<Mandato>>,
    ) -> io::Result<Option<Armazem>> {
        let Some(url) = &config.banco else {
            return Ok(None);
        };
        let falha = |erro| io::Error::other(format!("histórico ({url}): {erro}"));
        Armazem::abrir(url, config, mandato)
            .await
            .map(Some)
            .map_err(falha)
    }

    /// Opens the database at `url`, reads what a killed broker left in its journal (when resumes
    /// are on: otherwise nothing could be resumed), and starts the writer.
    async fn abrir(
        url: &str,
        config: &Config,
        mandato: Option<Arc<Mandato>>,
    ) -> Result<Armazem, ErroBanco> {
        let (banco, trava) = match &config.cluster {
            Some(cluster) => (Banco::abrir_no_cluster(url, cluster.prazo).await?, None),
            None if e_postgres(url) => {
                let banco = Banco::abrir(url).await?;
                (banco, Some(Trava::de_um_broker_so(url).await?))
            }
            None => (Banco::abrir(url).await?, None),
        };
        let ultima_conversa = banco.ultima_conversa().await?;
        let mut salvas = if config.tolerancia_retomada.is_zero() {
            Vec::new()
        } else {
            banco.sessoes_salvas().await?
        };
        // The open chats' lines only matter to sessions being restored.
        let linhas = if salvas.is_empty() {
            Vec::new()
        } else {
            banco.linhas_das_abertas().await?
        };
        let duracoes = banco.duracoes_recentes(AMOSTRAS).await?;
        let hoje = dia_de_hoje(&banco, config).await?;
        let inicio = diario::acertar_relogio(&mut salvas);
        let escrita = banco.iniciar_gravador(inicio, mandato.clone()).await?;
        let (gravados, gravacao) = escrita.tarefa.unzip();
        Ok(Armazem {
            ultima_conversa,
            inicio,
            escrita: actor::Escrita {
                gravador: escrita.gravador,
                gravados,
                salvas,
                linhas,
                duracoes,
                mandato,
            },
            gravacao,
            hoje,
            trava,
        })
    }
}

/// Today's (UTC) figures per department in the history, so a restarted broker's panel goes on
/// counting the day.
async fn dia_de_hoje(
    banco: &Banco,
    config: &Config,
) -> Result<(i64, HashMap<String, indicadores::Dia>), ErroBanco> {
    let dia = agora_ms().div_euclid(MS_POR_DIA);
    let filtro = FiltroDesempenho {
        desde: Some(dia * MS_POR_DIA),
        meta_ms: i64::try_from(config.meta_servico.as_millis()).unwrap_or(i64::MAX),
        ..FiltroDesempenho::default()
    };
    let contar = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let hoje = banco
        .desempenho(&filtro)
        .await?
        .into_iter()
        .map(|linha| {
            let figuras = indicadores::Dia {
                oferecidos: contar(linha.oferecidos),
                atendidos: contar(linha.atendidos),
                no_prazo: contar(linha.no_prazo),
                abandonos: contar(linha.abandonos),
            };
            (linha.departamento, figuras)
        })
        .collect();
    Ok((dia, hoje))
}

/// The listeners a broker accepts on.
struct Ouvintes<O> {
    /// The protocol's own (TCP, TLS, or a simulated network's).
    protocolo: O,
    /// The web page's and WebSocket's, when `--web` asks for one.
    web: Option<TcpListener>,
}

/// Where connections come from: a TCP listener, or a simulated network's.
pub trait Ouvinte: Send + 'static {
    /// The byte stream of one accepted connection.
    type Conexao: Fluxo;

    /// Waits for the next connection and tells where it comes from.
    fn aceitar(&mut self) -> impl Future<Output = io::Result<(Self::Conexao, SocketAddr)>> + Send;

    /// Tunes an accepted connection before use (no-op by default).
    fn preparar(_conexao: &Self::Conexao) {}
}

impl Ouvinte for TcpListener {
    type Conexao = TcpStream;

    fn aceitar(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        self.accept()
    }

    fn preparar(conexao: &TcpStream) {
        if let Err(erro) = conexao.set_nodelay(true) {
            warn!(%erro, "não foi possível desligar o algoritmo de Nagle");
        }
    }
}

/// Open connections and failed logins, per address.
#[derive(Default)]
struct Contagem {
    /// Open connections in all.
    total: usize,
    /// Open connections per address.
    por_endereco: HashMap<IpAddr, usize>,
    /// Failed agent logins per address: how many, since when.
    falhas: HashMap<IpAddr, (u32, Instant)>,
}

impl Contagem {
    fn abrir(&mut self, ip: IpAddr) {
        self.total += 1;
        *self.por_endereco.entry(ip).or_default() += 1;
    }

    fn fechar(&mut self, ip: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.por_endereco.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.por_endereco.remove(&ip);
            }
        }
    }

    fn falhou(&mut self, ip: IpAddr, janela: Duration) {
        let agora = Instant::now();
        if self.falhas.len() > 4096 {
            self.falhas.retain(|_, (_, desde)| agora - *desde < janela);
        }
        let (vezes, desde) = self.falhas.entry(ip).or_insert((0, agora));
        if agora - *desde >= janela {
            *vezes = 0;
            *desde = agora;
        }
        *vezes += 1;
    }

    fn bloqueado(&self, ip: IpAddr, config: &Config) -> bool {
        self.falhas.get(&ip).is_some_and(|(vezes, desde)| {
            *vezes >= config.falhas_de_autenticacao && desde.elapsed() < config.janela_de_falhas
        })
    }
}

/// Completes the TLS handshake of session `sessao`'s connection within `prazo`, then goes on
/// with `seguir` over the TLS stream.
async fn com_tls<S: Fluxo, F: Future<Output = ()>>(
    tls: Arc<ServerConfig>,
    socket: S,
    (sessao, prazo, forcar): (SessaoId, Duration, CancellationToken),
    seguir: impl FnOnce(TlsStream<S>) -> F,
) {
    let aperto = tokio::time::timeout(prazo, TlsAcceptor::from(tls).accept(socket));
    let resultado = tokio::select! {
        resultado = aperto => resultado,
        // Cut (a cluster's active stepping down).
        () = forcar.cancelled() => return,
    };
    match resultado {
        Ok(Ok(fluxo)) => seguir(fluxo).await,
        Ok(Err(erro)) => info!(sessao, %erro, "falha no TLS"),
        Err(_) => info!(sessao, "TLS não concluído a tempo"),
    }
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy)]
enum Entrada {
    /// The protocol's own listener (TCP, or TLS).
    Protocolo,
    /// The web listener (HTTP and WebSocket, or HTTPS and WSS).
    Web,
}

/// Lets connections in: counts them against the limits, numbers them, and starts their tasks.
struct Portaria {
    contagem: Contagem,
    /// The last session id given.
    ultima_sessao: SessaoId,
    contexto: Arc<Contexto>,
    conexoes: TaskTracker,
    /// Where connection tasks report that they closed.
    fechadas: mpsc::Sender<IpAddr>,
    /// The web listener's routes, when there is one.
    rotas: Option<axum::Router>,
}

impl Portaria {
    /// Takes in a connection accepted on `entrada`, or refuses it when over a limit.
    fn receber<S: Fluxo>(&mut self, socket: S, par: SocketAddr, entrada: Entrada) {
        let ip = par.ip();
        let config = &self.contexto.config;
        let no_total = self.contagem.total >= config.conexoes_maximas;
        let lotado = no_total
            || self.contagem.por_endereco.get(&ip).copied().unwrap_or(0)
                >= config.conexoes_por_endereco;
        if lotado {
            info!(%par, "conexão recusada: limite de conexões");
            indicadores::contar_recusa(if no_total { "total" } else { "endereco" });
            indicadores::contar_erro(CodigoErro::LimiteDeConexoes);
            // Over TLS a plain answer would only confuse the peer: just close.
            if config.tls.is_none() {
                match entrada {
                    Entrada::Protocolo => self.conexoes.spawn(connection::recusar(
                        socket,
                        DoBroker::erro(CodigoErro::LimiteDeConexoes),
                    )),
                    Entrada::Web => self.conexoes.spawn(web::recusar(socket)),
                };
            }
            return;
        }
        self.contagem.abrir(ip);
        self.ultima_sessao += 1;
        let origem = Origem {
            par,
            atendente_bloqueado: self.contagem.bloqueado(ip, config),
        };
        let sessao = self.ultima_sessao;
        let contexto = Arc::clone(&self.contexto);
        let fechadas = self.fechadas.clone();
        match (entrada, self.rotas.clone()) {
            (Entrada::Web, Some(rotas)) => {
                let vinculo = Arc::new(web::Vinculo {
                    origem,
                    sessao,
                    fechadas,
                    rastreio: self.conexoes.token(),
                });
                self.conexoes
                    .spawn(atender_web(socket, vinculo, rotas, contexto));
            }
            _ => {
                // Written out here rather than in an async function of its own: that function's
                // arguments took room in every plain connection's task (110 to 135 bytes more
                // per waiting customer, measured with `carga idle`).
                self.conexoes.spawn(async move {
                    match contexto.config.tls.clone() {
                        None => connection::atender(socket, origem, sessao, contexto).await,
                        // Boxed: a TLS session's state is large, and unboxed it would sit in
                        // every plain connection's task too.
                        Some(tls) => {
                            Box::pin(atender_tls(tls, socket, origem, sessao, contexto)).await;
                        }
                    }
                    let _ = fechadas.try_send(ip);
                });
            }
        }
    }
}

/// Serves a connection of the protocol's own listener over TLS.
async fn atender_tls<S: Fluxo>(
    tls: Arc<ServerConfig>,
    socket: S,
    origem: Origem,
    sessao: SessaoId,
    contexto: Arc<Contexto>,
) {
    let aperto = (
        sessao,
        contexto.config.prazo_apresentacao,
        contexto.forcar.clone(),
    );
    let seguir = |fluxo| connection::atender(fluxo, origem, sessao, contexto);
    com_tls(tls, socket, aperto, seguir).await;
}

/// Serves a connection of the web listener, over TLS when configured.
async fn atender_web<S: Fluxo>(
    socket: S,
    vinculo: Arc<web::Vinculo>,
    rotas: axum::Router,
    contexto: Arc<Contexto>,
) {
    match contexto.config.tls.clone() {
        None => web::atender(socket, vinculo, rotas, contexto).await,
        Some(tls) => {
            let aperto = (
                vinculo.sessao,
                contexto.config.prazo_apresentacao,
                contexto.forcar.clone(),
            );
            let seguir = |fluxo| web::atender(fluxo, vinculo, rotas, contexto);
            Box::pin(com_tls(tls, socket, aperto, seguir)).await;
        }
    }
}

/// After a failed accept (usually out of file descriptors): backs off instead of spinning.
async fn recuar(erro: io::Error) {
    warn!(%erro, "falha ao aceitar conexão");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Waits for a connection on the web listener, if there is one (forever otherwise).
async fn aceitar_web(web: &mut Option<TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match web {
        Some(ouvinte) => {
            let (socket, par) = ouvinte.accept().await?;
            TcpListener::preparar(&socket);
            Ok((socket, par))
        }
        None => std::future::pending().await,
    }
}

/// What the actor counts with: the target and departments of `config`, from today's figures.
fn observacao(
    config: &Config,
    hoje: (i64, HashMap<String, indicadores::Dia>),
) -> actor::Observacao {
    let departamentos = config.departamentos.clone();
    actor::Observacao {
        indicadores: Indicadores::new(config.meta_servico, departamentos, hoje),
        metricas: config.metricas.is_some(),
    }
}

/// What a broker serves with besides its listeners.
struct Servico {
    config: Config,
    /// Cancelled to start the shutdown.
    desligar: CancellationToken,
    /// The store, when the history is kept.
    historico: Option<Armazem>,
    /// The cluster's lease, when the broker is a cluster's active.
    mandato: Option<Arc<Mandato>>,
}

/// How the actor starts: from the store's contents when the history is kept, from nothing
/// otherwise.
struct Partida {
    parametros: crate::matchmaking::Parametros,
    /// The broker's uptime zero.
    inicio: tokio::time::Instant,
    /// The highest session id restored: new connections are numbered after it.
    ultima_sessao: SessaoId,
    /// Today's figures so far.
    hoje: (i64, HashMap<String, indicadores::Dia>),
    escrita: Option<actor::Escrita>,
    /// The writer task (PostgreSQL).
    gravacao: Option<JoinHandle<()>>,
    /// The schema's lock of a broker on its own on PostgreSQL, held until it stops.
    trava: Option<Trava>,
}

impl Partida {
    fn de(config: &Config, historico: Option<Armazem>) -> Partida {
        let mut partida = Partida {
            parametros: config.parametros(),
            inicio: tokio::time::Instant::now(),
            ultima_sessao: 0,
            hoje: (agora_ms().div_euclid(MS_POR_DIA), HashMap::new()),
            escrita: None,
            gravacao: None,
            trava: None,
        };
        if let Some(armazem) = historico {
            partida.parametros.historico = true;
            partida.parametros.diario = !partida.parametros.tolerancia.is_zero();
            partida.parametros.ultima_conversa = armazem.ultima_conversa;
            partida.inicio = armazem.inicio;
            partida.ultima_sessao = armazem
                .escrita
                .salvas
                .iter()
                .map(|salva| salva.sessao)
                .max()
                .unwrap_or(0);
            partida.hoje = armazem.hoje;
            partida.escrita = Some(armazem.escrita);
            partida.gravacao = armazem.gravacao;
            partida.trava = armazem.trava;
        }
        partida
    }
}

/// What is left to wait for once the broker stops accepting.
struct Fim {
    contexto: Arc<Contexto>,
    conexoes: TaskTracker,
    ator: JoinHandle<()>,
    gravacao: Option<JoinHandle<()>>,
}

impl Fim {
    /// Shuts down gracefully: every session told, the connections given the shutdown's
    /// deadline to flush, the writer left to store what is queued.
    async fn encerrar(self) {
        info!("encerrando: novas conexões recusadas");
        let _ = self.contexto.ator.send(Comando::Encerrar).await;
        self.conexoes.close();
        let prazo = self.contexto.config.prazo_encerramento;
        if tokio::time::timeout(prazo, self.conexoes.wait())
            .await
            .is_err()
        {
            warn!("prazo de encerramento esgotado: cortando as conexões restantes");
            self.contexto.forcar.cancel();
        }
        self.esperar().await;
        info!("broker encerrado");
    }

    /// Steps down: the actor stops by itself, cutting its sessions; every other connection is
    /// cut here, without a word.
    async fn destituir(self, renunciado: bool) {
        if renunciado {
            info!("passando o atendimento a outro membro: deixando de servir");
        } else {
            warn!("mandato perdido: deixando de servir");
        }
        self.contexto.forcar.cancel();
        self.conexoes.close();
        self.esperar().await;
        info!("broker em espera");
    }

    /// Waits for the connections, the actor, then the writer (which ends once the actor, which
    /// held the only recorder, is gone).
    async fn esperar(self) {
        self.conexoes.wait().await;
        drop(self.contexto);
        let _ = self.ator.await;
        if let Some(gravacao) = self.gravacao {
            let _ = gravacao.await;
        }
    }
}

/// Accepts connections until told to stop (or, in a cluster, until the mandate is lost), then
/// shuts down (or steps down).
async fn servir<O: Ouvinte>(
    Ouvintes {
        protocolo: mut ouvinte,
        mut web,
    }: Ouvintes<O>,
    Servico {
        config,
        desligar,
        historico,
        mandato,
    }: Servico,
) {
    let partida = Partida::de(&config, historico);
    let (ator_tx, ator_rx) = mpsc::channel(config.capacidade_comandos);
    let ator = tokio::spawn(actor::executar(
        partida.parametros,
        config.intervalo_fila,
        ator_rx,
        partida.inicio,
        (partida.escrita, observacao(&config, partida.hoje)),
    ));
    // Each connection reports at most one failed login and one close, and at most
    // `conexoes_maximas` are open: with that capacity neither channel can ever be full.
    let (falhas_tx, mut falhas_rx) = mpsc::channel(config.conexoes_maximas);
    let (fechadas_tx, mut fechadas_rx) = mpsc::channel::<IpAddr>(config.conexoes_maximas);
    let contexto = Arc::new(Contexto {
        config: config.clone(),
        ator: ator_tx,
        desligar: desligar.clone(),
        forcar: CancellationToken::new(),
        falhas: falhas_tx,
    });
    let rotas = web.is_some().then(|| web::rotas(Arc::clone(&contexto)));
    let mut portaria = Portaria {
        contagem: Contagem::default(),
        ultima_sessao: partida.ultima_sessao,
        contexto: Arc::clone(&contexto),
        conexoes: TaskTracker::new(),
        fechadas: fechadas_tx,
        rotas,
    };
    let destituido = loop {
        tokio::select! {
            _ = desligar.cancelled() => break false,
            _ = mandato::perdido(mandato.as_deref()) => break true,
            Some(ip) = fechadas_rx.recv() => portaria.contagem.fechar(ip),
            Some(ip) = falhas_rx.recv() => portaria.contagem.falhou(ip, config.janela_de_falhas),
            aceito = ouvinte.aceitar() => match aceito {
                Ok((socket, par)) => {
                    O::preparar(&socket);
                    portaria.receber(socket, par, Entrada::Protocolo);
                }
                Err(erro) => recuar(erro).await,
            },
            aceito = aceitar_web(&mut web) => match aceito {
                Ok((socket, par)) => portaria.receber(socket, par, Entrada::Web),
                Err(erro) => recuar(erro).await,
            },
        }
    };
    drop((web, ouvinte));
    let fim = Fim {
        contexto,
        conexoes: portaria.conexoes,
        ator,
        gravacao: partida.gravacao,
    };
    if destituido {
        fim.destituir(mandato.as_deref().is_some_and(Mandato::renunciado))
            .await;
    } else {
        fim.encerrar().await;
    }
    // Only now may another broker serve this schema.
    drop(partida.trava);
}
