//! The async client handle shared by `cliente`, `atendente`, the tests and the load tool.
//!
//! [`Conexao::conectar`] opens a TCP connection, sends the handshake and waits for the broker's
//! answer. On success a small task takes over the connection: it writes what is sent through
//! [`Envio`], hands broker frames to [`Eventos`] (a `Stream`), answers the broker's heartbeats
//! itself, and ends the stream with an error if the broker goes silent for two heartbeat
//! intervals. So a program only ever sees the frames that mean something to it.
//!
//! When the broker offers resumes (`BemVindo.tolerancia_ms` above zero) and the handle knows how
//! to connect again (it was opened with [`Conexao::conectar`] or [`Conexao::conectar_tls`]), a
//! lost connection is not the end: the task reconnects with the session's secret until the grace
//! period runs out, tells the broker how many numbered frames it has received, and sends again
//! the chat lines and commands the broker had not confirmed. [`Conexao::ligacao`] says when that
//! happens; the stream itself just goes on, with nothing lost and nothing twice.
//!
//! The task also keeps to the rate the broker announces in `BemVindo`, waiting before a frame
//! rather than having the broker slow it down.
//!
//! A handle may be given several brokers' addresses ([`Conexao::conectar_em`], `a:7878,b:7878`:
//! the members of a cluster, of which one is active and the others keep their ports closed). It
//! tries them in turn ([`crate::enderecos`]) and resumes on whichever is active: the session
//! lives in the cluster's journal, not in one broker.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::codec::{Quadros, enquadrar};
use crate::enderecos::Alvos;
use crate::ritmo::Balde;
use crate::{
    Apresentacao, CodigoErro, DoBroker, Ficha, Papel, ParaBroker, Retomada, SessaoId,
    TAMANHO_MAXIMO_QUADRO,
};

/// Numbered frames received between two unprompted `Recebidos` acknowledgements.
const CONFIRMAR_A_CADA: u64 = 64;

/// The first pause between two attempts to reconnect; it doubles up to [`ESPERA_MAXIMA`].
const ESPERA_INICIAL: Duration = Duration::from_millis(250);

/// The longest pause between two attempts to reconnect.
const ESPERA_MAXIMA: Duration = Duration::from_secs(2);

/// How long a client waits for the broker to answer its handshake.
pub const PRAZO_RESPOSTA: Duration = Duration::from_secs(10);

/// Frames that may wait in each direction between the program and the connection's task.
const CAPACIDADE: usize = 1024;

/// Any byte stream a client can speak the protocol over (plain TCP today).
pub trait Transporte: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transporte for T {}

type QuadrosCliente = Quadros<Box<dyn Transporte>, DoBroker, ParaBroker>;

/// Opens a fresh byte stream to the broker: how a handle connects, and connects again to resume.
pub type Conector = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<Box<dyn Transporte>>> + Send>> + Send + Sync,
>;

/// The state of a handle's link to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ligacao {
    /// Connected.
    Conectada,
    /// The connection dropped; the handle is reconnecting to resume the session.
    Reconectando,
    /// The session was resumed on a new connection (then it is simply connected again).
    Retomada,
}

/// Why a connection could not be opened.
#[derive(Debug, Error)]
pub enum ErroConexao {
    /// The network failed (nothing listening, connection reset, ...).
    #[error("falha de rede: {0}")]
    Io(#[from] io::Error),
    /// The broker refused the handshake.
    #[error("o broker recusou a conexão: {texto}")]
    Recusada {
        /// The broker's error code.
        codigo: CodigoErro,
        /// The broker's explanation.
        texto: String,
        /// The departments the broker serves, when it sent them with the refusal (it does
        /// when the department was the reason): empty when any name is accepted or it did not
        /// say.
        departamentos: Vec<String>,
    },
    /// The broker closed the connection without answering.
    #[error("o broker fechou a conexão sem responder")]
    Fechada,
    /// The broker did not answer within [`PRAZO_RESPOSTA`].
    #[error("o broker não respondeu a tempo")]
    SemResposta,
    /// TLS could not be set up (certificate files, address).
    #[error("{0}")]
    Tls(#[from] crate::tls::ErroTls),
    /// The broker answered with something other than a welcome or an error.
    #[error("resposta inesperada do broker: {0:?}")]
    Inesperada(Box<DoBroker>),
}

/// An open, accepted connection to the broker.
pub struct Conexao {
    /// The id the broker gave this session.
    pub sessao: SessaoId,
    /// The broker's heartbeat interval, in milliseconds (answered by the handle itself).
    pub batimento_ms: u64,
    /// How long the broker keeps this session after a drop, in milliseconds (0: no resume).
    pub tolerancia_ms: u64,
    /// The rate the broker allows this session (frames a second; the handle keeps to it).
    pub mensagens_por_segundo: u32,
    /// The burst the broker allows this session.
    pub rajada: u32,
    /// How many chats the broker gives this session at once (agents; 1 for customers).
    pub capacidade: u8,
    /// Sends frames to the broker.
    pub envio: Envio,
    /// Frames from the broker, in order (heartbeats excluded).
    pub eventos: Eventos,
    /// Whether the handle is connected or reconnecting.
    pub ligacao: watch::Receiver<Ligacao>,
}

/// The welcome's fields a handle keeps.
struct BoasVindas {
    sessao: SessaoId,
    batimento_ms: u64,
    ficha: Ficha,
    tolerancia_ms: u64,
    ultima_aceita: u64,
    mensagens_por_segundo: u32,
    rajada: u32,
    capacidade: u8,
}

impl Conexao {
    /// The welcome frame this connection was accepted with.
    pub fn bemvindo(&self) -> DoBroker {
        DoBroker::BemVindo {
            sessao: self.sessao,
            batimento_ms: self.batimento_ms,
            ficha: [0; 16],
            tolerancia_ms: self.tolerancia_ms,
            retomada: false,
            ultima_aceita: 0,
            mensagens_por_segundo: self.mensagens_por_segundo,
            rajada: self.rajada,
            capacidade: self.capacidade,
        }
    }

    /// Connects over TCP to `endereco` and performs the handshake. The handle reconnects by
    /// itself when the broker offers resumes.
    pub async fn conectar(
        endereco: impl ToSocketAddrs,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let enderecos: Arc<[SocketAddr]> = tokio::net::lookup_host(endereco).await?.collect();
        let conector: Conector = Arc::new(move || {
            let enderecos = Arc::clone(&enderecos);
            Box::pin(async move {
                let socket = TcpStream::connect(&enderecos[..]).await?;
                socket.set_nodelay(true)?;
                Ok(Box::new(socket) as Box<dyn Transporte>)
            })
        });
        Conexao::com_conector(conector, apresentacao, TAMANHO_MAXIMO_QUADRO).await
    }

    /// Connects over TCP to one of `servidores` (`host:porta`, or several separated by commas:
    /// the members of a cluster) and performs the handshake. The handle reconnects by itself
    /// when the broker offers resumes, to whichever of them answers.
    pub async fn conectar_em(
        servidores: &str,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let alvos = Alvos::de(servidores)?;
        let tentativas = alvos.quantos();
        let conector: Conector = Arc::new(move || {
            let alvos = Arc::clone(&alvos);
            Box::pin(async move {
                let (_, socket) = alvos.conectar().await?;
                Ok(Box::new(socket) as Box<dyn Transporte>)
            })
        });
        Conexao::com_alvos(conector, apresentacao, tentativas).await
    }

    /// The first connection to one of several (`tentativas`) addresses: a broker that
    /// accepted and then did not answer, or closed, is tried again, from the next address, up
    /// to `tentativas` times in all. With several, a resume's handshake waits a heartbeat at
    /// most before the handle tries the next.
    async fn com_alvos(
        conector: Conector,
        apresentacao: Apresentacao,
        tentativas: usize,
    ) -> Result<Conexao, ErroConexao> {
        let mut restantes = tentativas.max(1);
        loop {
            restantes -= 1;
            let tentativa = Conexao::conectar_por(
                Arc::clone(&conector),
                apresentacao.clone(),
                (TAMANHO_MAXIMO_QUADRO, tentativas > 1),
            );
            match tentativa.await {
                Err(ErroConexao::SemResposta | ErroConexao::Fechada) if restantes > 0 => {}
                resultado => return resultado,
            }
        }
    }

    /// Connects over TCP to one of `servidores` (as [`Conexao::conectar_em`]), then TLS,
    /// checking the broker's certificate against `ca` (or the public roots), and performs the
    /// handshake. The handle reconnects by itself when the broker offers resumes.
    pub async fn conectar_tls(
        servidores: &str,
        ca: Option<&std::path::Path>,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let config = crate::tls::configuracao_cliente(ca)?;
        let alvos = Alvos::de(servidores)?;
        let tentativas = alvos.quantos();
        let nomes: Arc<[_]> = alvos
            .enderecos
            .iter()
            .map(|endereco| crate::tls::nome_do_servidor(endereco))
            .collect::<Result<_, _>>()?;
        let conector: Conector = Arc::new(move || {
            let (config, alvos, nomes) = (config.clone(), alvos.clone(), nomes.clone());
            Box::pin(async move {
                let (qual, socket) = alvos.conectar().await?;
                let aperto =
                    crate::tls::TlsConnector::from(config).connect(nomes[qual].clone(), socket);
                let tls = tokio::time::timeout(alvos.prazo_tls(), aperto)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS sem resposta"))??;
                Ok(Box::new(tls) as Box<dyn Transporte>)
            })
        });
        Conexao::com_alvos(conector, apresentacao, tentativas).await
    }

    /// Performs the handshake over an already open byte stream, with the given frame size limit.
    /// The handle cannot reconnect by itself.
    pub async fn sobre(
        transporte: impl Transporte,
        apresentacao: Apresentacao,
        tamanho_maximo: usize,
    ) -> Result<Conexao, ErroConexao> {
        let transporte: Box<dyn Transporte> = Box::new(transporte);
        Conexao::iniciar(transporte, None, apresentacao, tamanho_maximo).await
    }

    /// Opens a byte stream with `conector`, performs the handshake, and keeps `conector` for
    /// reconnecting (over any transport: the simulated network's, in the tests).
    pub async fn com_conector(
        conector: Conector,
        apresentacao: Apresentacao,
        tamanho_maximo: usize,
    ) -> Result<Conexao, ErroConexao> {
        Conexao::conectar_por(conector, apresentacao, (tamanho_maximo, false)).await
    }

    /// [`Conexao::com_conector`], saying whether `conector` has other brokers to try.
    async fn conectar_por(
        conector: Conector,
        apresentacao: Apresentacao,
        (tamanho_maximo, alternativas): (usize, bool),
    ) -> Result<Conexao, ErroConexao> {
        let transporte = conector().await?;
        let religacao = Religacao {
            conector,
            alternativas,
        };
        Conexao::iniciar(transporte, Some(religacao), apresentacao, tamanho_maximo).await
    }

    async fn iniciar(
        transporte: Box<dyn Transporte>,
        religacao: Option<Religacao>,
        apresentacao: Apresentacao,
        tamanho_maximo: usize,
    ) -> Result<Conexao, ErroConexao> {
        let (quadros, boas_vindas) =
            apresentar(transporte, &apresentacao, (tamanho_maximo, PRAZO_RESPOSTA)).await?;
        let (envio_tx, envio_rx) = mpsc::channel(CAPACIDADE);
        let (eventos_tx, eventos_rx) = mpsc::channel(CAPACIDADE);
        let (ligacao_tx, ligacao_rx) = watch::channel(Ligacao::Conectada);
        let conexao = Conexao {
            sessao: boas_vindas.sessao,
            batimento_ms: boas_vindas.batimento_ms,
            tolerancia_ms: boas_vindas.tolerancia_ms,
            mensagens_por_segundo: boas_vindas.mensagens_por_segundo,
            rajada: boas_vindas.rajada,
            capacidade: boas_vindas.capacidade,
            envio: Envio { tx: envio_tx },
            eventos: Eventos { rx: eventos_rx },
            ligacao: ligacao_rx,
        };
        let retomavel = boas_vindas.tolerancia_ms > 0;
        let (conector, alternativas) = match religacao {
            Some(religacao) => (Some(religacao.conector), religacao.alternativas),
            None => (None, false),
        };
        let manutencao = Manutencao {
            cliente: matches!(apresentacao.papel, Papel::Cliente { .. }),
            apresentacao,
            conector: conector.filter(|_| retomavel),
            alternativas,
            tamanho_maximo,
            ficha: boas_vindas.ficha,
            tolerancia: Duration::from_millis(boas_vindas.tolerancia_ms),
            silencio_maximo: Duration::from_millis(boas_vindas.batimento_ms.max(1))
                .saturating_mul(2),
            recebidos: 0,
            recebidos_confirmados: 0,
            ultima_seq: 0,
            pendentes: VecDeque::new(),
            ritmo: Balde::new(boas_vindas.mensagens_por_segundo, boas_vindas.rajada),
            encerrada: false,
            eventos: eventos_tx,
            ligacao: ligacao_tx,
        };
        tokio::spawn(manutencao.executar(quadros, envio_rx));
        Ok(conexao)
    }
}

/// Sends the handshake over a fresh byte stream and reads the broker's answer, waiting at most
/// `prazo` for it.
async fn apresentar(
    transporte: Box<dyn Transporte>,
    apresentacao: &Apresentacao,
    (tamanho_maximo, prazo): (usize, Duration),
) -> Result<(QuadrosCliente, BoasVindas), ErroConexao> {
    let mut quadros: QuadrosCliente = enquadrar(transporte, tamanho_maximo);
    quadros
        .send(ParaBroker::Apresentacao(apresentacao.clone()))
        .await?;
    let mut departamentos = Vec::new();
    let resposta = loop {
        let resposta = tokio::time::timeout(prazo, quadros.next())
            .await
            .map_err(|_| ErroConexao::SemResposta)?;
        match resposta {
            // The list comes before the refusal that is about it.
            Some(Ok(DoBroker::Departamentos { nomes })) => departamentos = nomes,
            outra => break outra,
        }
    };
    match resposta {
        Some(Ok(DoBroker::BemVindo {
            sessao,
            batimento_ms,
            ficha,
            tolerancia_ms,
            ultima_aceita,
            mensagens_por_segundo,
            rajada,
            capacidade,
            ..
        })) => Ok((
            quadros,
            BoasVindas {
                sessao,
                batimento_ms,
                ficha,
                tolerancia_ms,
                ultima_aceita,
                mensagens_por_segundo,
                rajada,
                capacidade,
            },
        )),
        Some(Ok(DoBroker::Erro { codigo, texto })) => Err(ErroConexao::Recusada {
            codigo,
            texto,
            departamentos,
        }),
        Some(Ok(outro)) => Err(ErroConexao::Inesperada(Box::new(outro))),
        Some(Err(erro)) => Err(ErroConexao::Io(erro)),
        None => Err(ErroConexao::Fechada),
    }
}

/// Sends `quadro`, giving up at `silencio` (the broker silent for too long): a dead route
/// takes writes until the socket's buffer is full, and then none.
async fn enviar_ate(
    quadros: &mut QuadrosCliente,
    quadro: ParaBroker,
    silencio: Instant,
) -> io::Result<()> {
    match tokio::time::timeout_at(silencio, quadros.send(quadro)).await {
        Ok(enviado) => enviado,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "o broker parou de responder",
        )),
    }
}

/// How a handle connects again: its connector, and whether it has other brokers to try.
struct Religacao {
    conector: Conector,
    alternativas: bool,
}

/// The connection's task and what it knows about the session.
struct Manutencao {
    /// Whether the peer is a customer (to tell which `Fim` ends the session).
    cliente: bool,
    /// The handshake, sent again (with the secret) to resume.
    apresentacao: Apresentacao,
    /// How to connect again; `None` when the session cannot be resumed.
    conector: Option<Conector>,
    /// Whether `conector` has other brokers to try (a cluster's members).
    alternativas: bool,
    /// The frame size limit.
    tamanho_maximo: usize,
    /// The session's secret.
    ficha: Ficha,
    /// How long the broker keeps the session after a drop.
    tolerancia: Duration,
    /// How long the broker may stay silent before the connection counts as lost.
    silencio_maximo: Duration,
    /// Numbered frames received in the session.
    recebidos: u64,
    /// The count last sent in `Recebidos`.
    recebidos_confirmados: u64,
    /// The `seq` of the last chat line or command sent.
    ultima_seq: u64,
    /// Chat lines and commands sent and not yet confirmed, oldest first (only when resumable).
    pendentes: VecDeque<(u64, ParaBroker)>,
    /// The broker's rate for this session, kept to before each frame the program sends.
    ritmo: Balde,
    /// Set once a frame that ends the session has arrived, or the program asked to leave.
    encerrada: bool,
    /// Where broker frames go.
    eventos: mpsc::Sender<io::Result<DoBroker>>,
    /// Where the link's state goes.
    ligacao: watch::Sender<Ligacao>,
}

/// How one connection of a session ended.
enum Queda {
    /// Nothing more to do: the program or the session is done.
    Fim,
    /// The connection failed; resume if the session allows.
    Perdida(io::Error),
}

impl Manutencao {
    /// Relays until the session ends, reconnecting whenever the connection drops and the
    /// session can be resumed.
    async fn executar(
        mut self,
        mut quadros: QuadrosCliente,
        mut envio: mpsc::Receiver<ParaBroker>,
    ) {
        loop {
            let erro = match self.relayar(&mut quadros, &mut envio).await {
                Queda::Fim => return,
                Queda::Perdida(erro) => erro,
            };
            let Some(conector) = self.conector.clone().filter(|_| !self.encerrada) else {
                let _ = self.eventos.send(Err(erro)).await;
                return;
            };
            let _ = self.ligacao.send(Ligacao::Reconectando);
            match self.reconectar(&conector).await {
                Ok(novos) => {
                    quadros = novos;
                    let _ = self.ligacao.send(Ligacao::Retomada);
                }
                Err(erro) => {
                    let _ = self.eventos.send(Err(erro)).await;
                    return;
                }
            }
        }
    }

    /// Relays both ways over one connection, answers heartbeats, and notices a silent broker.
    async fn relayar(
        &mut self,
        quadros: &mut QuadrosCliente,
        envio: &mut mpsc::Receiver<ParaBroker>,
    ) -> Queda {
        let mut enviando = !envio.is_closed() || !envio.is_empty();
        // Counted from the last frame read, whatever is sent meanwhile: a program that keeps
        // writing into a dead route must still notice that nothing comes back.
        let mut silencio = Instant::now() + self.silencio_maximo;
        loop {
            tokio::select! {
                quadro = envio.recv(), if enviando => match quadro {
                    Some(quadro) => {
                        // Within the broker's rate, so that it never has to hold us back.
                        self.ritmo.esperar().await;
                        let quadro = self.numerar(quadro);
                        if let Err(erro) = enviar_ate(quadros, quadro, silencio).await {
                            return Queda::Perdida(erro);
                        }
                    }
                    // The program dropped its sender: close our side, keep reading to the end.
                    None => {
                        enviando = false;
                        self.encerrada = true;
                        let _ = quadros.close().await;
                    }
                },
                lido = tokio::time::timeout_at(silencio, quadros.next()) => match lido {
                    Ok(Some(Ok(DoBroker::Ping))) => {
                        silencio = Instant::now() + self.silencio_maximo;
                        if !enviando {
                            continue;
                        }
                        let mut resposta = vec![ParaBroker::Pong];
                        if self.recebidos != self.recebidos_confirmados {
                            self.recebidos_confirmados = self.recebidos;
                            resposta.push(ParaBroker::Recebidos { total: self.recebidos });
                        }
                        for quadro in resposta {
                            if let Err(erro) = enviar_ate(quadros, quadro, silencio).await {
                                return Queda::Perdida(erro);
                            }
                        }
                    }
                    Ok(Some(Ok(quadro))) => {
                        silencio = Instant::now() + self.silencio_maximo;
                        if let Err(erro) = self.receber(quadros, &quadro, (enviando, silencio)).await {
                            return Queda::Perdida(erro);
                        }
                        if self.eventos.send(Ok(quadro)).await.is_err() {
                            return Queda::Fim;
                        }
                    }
                    Ok(Some(Err(erro))) => return Queda::Perdida(erro),
                    Ok(None) if self.encerrada || self.conector.is_none() => return Queda::Fim,
                    Ok(None) => {
                        return Queda::Perdida(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "o broker fechou a conexão",
                        ));
                    }
                    Err(_) => {
                        return Queda::Perdida(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "o broker parou de responder",
                        ));
                    }
                },
            }
        }
    }

    /// Gives a chat line or a command its `seq` and keeps it until confirmed (when the session
    /// is resumable), so that what the program sent while the connection was failing is sent
    /// again after the resume; notes a request to leave.
    fn numerar(&mut self, quadro: ParaBroker) -> ParaBroker {
        let sai = match &quadro {
            ParaBroker::Sair { .. } => true,
            ParaBroker::Encerrar { .. } => self.cliente,
            _ => false,
        };
        if sai {
            self.encerrada = true;
        }
        if self.conector.is_none() || quadro.seq() != 0 {
            return quadro;
        }
        let proxima = self.ultima_seq + 1;
        match quadro.com_seq(proxima) {
            Ok(numerado) => {
                self.ultima_seq = proxima;
                self.pendentes.push_back((proxima, numerado.clone()));
                numerado
            }
            Err(outro) => outro,
        }
    }

    /// Takes note of a broker frame before the program gets it: counts numbered frames (and
    /// acknowledges them every so often), drops confirmed lines, notices the session's end.
    async fn receber(
        &mut self,
        quadros: &mut QuadrosCliente,
        quadro: &DoBroker,
        (enviando, silencio): (bool, Instant),
    ) -> io::Result<()> {
        if let DoBroker::Confirmada { seq } = quadro {
            self.pendentes.retain(|(pendente, _)| pendente > seq);
        }
        if quadro.encerra_sessao(self.cliente) {
            self.encerrada = true;
        }
        if quadro.numerado() {
            self.recebidos += 1;
            // Acknowledged whenever the broker keeps frames for resumes, even by a handle that
            // cannot resume itself: the broker can then let go of them.
            if enviando
                && !self.tolerancia.is_zero()
                && self.recebidos - self.recebidos_confirmados >= CONFIRMAR_A_CADA
            {
                self.recebidos_confirmados = self.recebidos;
                let recebidos = ParaBroker::Recebidos {
                    total: self.recebidos,
                };
                enviar_ate(quadros, recebidos, silencio).await?;
            }
        }
        Ok(())
    }

    /// Connects again and resumes the session, retrying until the grace period ends; then
    /// sends again the chat lines the broker had not accepted.
    async fn reconectar(&mut self, conector: &Conector) -> io::Result<QuadrosCliente> {
        let prazo = Instant::now() + self.tolerancia;
        let mut espera = ESPERA_INICIAL;
        let mut apresentacao = self.apresentacao.clone();
        loop {
            apresentacao.retomar = Some(Retomada {
                ficha: self.ficha,
                recebidos: self.recebidos,
            });
            let tentativa = async {
                let transporte = conector().await?;
                // With other brokers to try, one that does not answer within a heartbeat is as
                // good as silent: the next attempt tries the next address (a frozen broker still
                // accepts). Alone, it gets the time any handshake gets.
                let prazo = if self.alternativas {
                    PRAZO_RESPOSTA.min(self.silencio_maximo / 2)
                } else {
                    PRAZO_RESPOSTA
                };
                apresentar(transporte, &apresentacao, (self.tamanho_maximo, prazo)).await
            };
            match tentativa.await {
                Ok((mut quadros, boas_vindas)) => {
                    self.recebidos_confirmados = self.recebidos;
                    // Another broker (a cluster's) may have other settings: its own count.
                    self.silencio_maximo =
                        Duration::from_millis(boas_vindas.batimento_ms.max(1)).saturating_mul(2);
                    self.tolerancia = Duration::from_millis(boas_vindas.tolerancia_ms);
                    self.ritmo = Balde::new(boas_vindas.mensagens_por_segundo, boas_vindas.rajada);
                    let aceita = boas_vindas.ultima_aceita;
                    self.pendentes.retain(|(seq, _)| *seq > aceita);
                    for (_, quadro) in &self.pendentes {
                        quadros.send(quadro.clone()).await?;
                    }
                    return Ok(quadros);
                }
                // A broker full for now is worth another try within the grace period.
                Err(ErroConexao::Recusada { codigo, texto, .. })
                    if codigo != CodigoErro::LimiteDeConexoes =>
                {
                    return Err(io::Error::new(io::ErrorKind::ConnectionRefused, texto));
                }
                Err(_) if Instant::now() + espera < prazo => {
                    tokio::time::sleep(espera).await;
                    espera = (espera * 2).min(ESPERA_MAXIMA);
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "a conexão caiu e não foi possível retomá-la a tempo",
                    ));
                }
            }
        }
    }
}

/// The sending half of a [`Conexao`].
pub struct Envio {
    /// Frames for the connection's task.
    tx: mpsc::Sender<ParaBroker>,
}

impl Envio {
    /// Queues one frame for the broker, in order. Fails once the connection is gone.
    pub async fn enviar(&mut self, quadro: ParaBroker) -> io::Result<()> {
        self.tx
            .send(quadro)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "a conexão com o broker acabou"))
    }

    /// Sends a chat line to the partner of conversation `conversa`.
    pub async fn mensagem(&mut self, conversa: u64, texto: impl Into<String>) -> io::Result<()> {
        self.enviar(ParaBroker::Mensagem {
            conversa,
            texto: texto.into(),
            seq: 0,
        })
        .await
    }
}

/// The receiving half of a [`Conexao`]: a stream of broker frames that ends when the broker
/// closes the connection (or with an error when the connection fails or goes silent).
pub struct Eventos {
    /// Frames from the connection's task.
    rx: mpsc::Receiver<io::Result<DoBroker>>,
}

impl Stream for Eventos {
    type Item = io::Result<DoBroker>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::enquadrar;

    /// A fake broker's side of the handshake: reads it, and welcomes the session with heartbeats
    /// every `batimento_ms`, no resumes, and the rate `(mensagens_por_segundo, rajada)`.
    async fn acolher(
        broker: &mut Quadros<tokio::io::DuplexStream, ParaBroker, DoBroker>,
        batimento_ms: u64,
        (mensagens_por_segundo, rajada): (u32, u32),
    ) {
        let Some(Ok(ParaBroker::Apresentacao(_))) = broker.next().await else {
            panic!("esperava a apresentação");
        };
        broker
            .send(DoBroker::BemVindo {
                sessao: 1,
                batimento_ms,
                ficha: [0; 16],
                tolerancia_ms: 0,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo,
                rajada,
                capacidade: 1,
            })
            .await
            .expect("sends");
    }

    /// On a paused clock (virtual time, nothing measured on the wall): a handle told 5 frames a
    /// second in bursts of 2 sends 12 frames over 2 seconds, and every one arrives in order.
    #[tokio::test(start_paused = true)]
    async fn o_envio_segue_o_ritmo_anunciado() {
        let (cliente, broker) = tokio::io::duplex(64 * 1024);
        let mut broker = enquadrar::<_, ParaBroker, DoBroker>(broker, TAMANHO_MAXIMO_QUADRO);
        let atendimento = tokio::spawn(async move {
            acolher(&mut broker, 60_000, (5, 2)).await;
            let inicio = Instant::now();
            let mut textos = Vec::new();
            while textos.len() < 12 {
                match broker.next().await {
                    Some(Ok(ParaBroker::Mensagem { texto, .. })) => textos.push(texto),
                    Some(Ok(_)) => continue,
                    outro => panic!("esperava mensagens, veio {outro:?}"),
                }
            }
            (inicio.elapsed(), textos)
        });
        let mut conexao = Conexao::sobre(
            cliente,
            Apresentacao::cliente("Ana", "geral"),
            TAMANHO_MAXIMO_QUADRO,
        )
        .await
        .expect("welcomed");
        assert_eq!((conexao.mensagens_por_segundo, conexao.rajada), (5, 2));
        for i in 0..12 {
            conexao
                .envio
                .mensagem(1, format!("m{i}"))
                .await
                .expect("queued");
        }
        let (passado, textos) = atendimento.await.expect("the fake broker ends");
        let esperados: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
        assert_eq!(textos, esperados);
        // Two at once, then ten at five a second.
        assert!(
            passado >= Duration::from_secs(2) && passado < Duration::from_millis(2_100),
            "{passado:?}"
        );
    }

    /// On a paused clock: a broker that goes silent (a frozen process, a dead route) while the
    /// program keeps writing is noticed after two heartbeat intervals, writes or not.
    #[tokio::test(start_paused = true)]
    async fn um_broker_calado_e_notado_mesmo_com_o_programa_escrevendo() {
        let (cliente, broker) = tokio::io::duplex(1024 * 1024);
        let mut broker = enquadrar::<_, ParaBroker, DoBroker>(broker, TAMANHO_MAXIMO_QUADRO);
        let calado = tokio::spawn(async move {
            acolher(&mut broker, 1_000, (100, 100)).await;
            // Reads everything, answers nothing.
            while let Some(Ok(_)) = broker.next().await {}
        });
        let mut conexao = Conexao::sobre(
            cliente,
            Apresentacao::cliente("Ana", "geral"),
            TAMANHO_MAXIMO_QUADRO,
        )
        .await
        .expect("welcomed");
        let inicio = Instant::now();
        let escrevendo = tokio::spawn(async move {
            for i in 0..100 {
                if conexao.envio.mensagem(1, format!("m{i}")).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let fim = conexao.eventos.next().await;
        assert!(
            matches!(&fim, Some(Err(erro)) if erro.kind() == io::ErrorKind::TimedOut),
            "{fim:?}"
        );
        let passado = inicio.elapsed();
        assert!(
            passado >= Duration::from_secs(2) && passado < Duration::from_millis(2_500),
            "{passado:?}"
        );
        escrevendo.abort();
        calado.abort();
    }
}
