//! The async client handle shared by `cliente`, `atendente`, the tests and the load tool.
//!
//! [`Conexao::conectar`] opens a TCP connection, sends the handshake and waits for the broker's
//! answer. On success a small task takes over the connection: it writes what is sent through
//! [`Envio`], hands broker frames to [`Eventos`] (a `Stream`), answers the broker's heartbeats
//! itself, and ends the stream with an error if the broker goes silent for two heartbeat
//! intervals. So a program only ever sees the frames that mean something to it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;

use crate::codec::{Quadros, enquadrar};
use crate::{Apresentacao, CodigoErro, DoBroker, ParaBroker, SessaoId, TAMANHO_MAXIMO_QUADRO};

/// How long a client waits for the broker to answer its handshake.
pub const PRAZO_RESPOSTA: Duration = Duration::from_secs(10);

/// Frames that may wait in each direction between the program and the connection's task.
const CAPACIDADE: usize = 1024;

/// Any byte stream a client can speak the protocol over (plain TCP today).
pub trait Transporte: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transporte for T {}

type QuadrosCliente = Quadros<Box<dyn Transporte>, DoBroker, ParaBroker>;

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
    /// Sends frames to the broker.
    pub envio: Envio,
    /// Frames from the broker, in order (heartbeats excluded).
    pub eventos: Eventos,
}

impl Conexao {
    /// The welcome frame this connection was accepted with.
    pub fn bemvindo(&self) -> DoBroker {
        DoBroker::BemVindo {
            sessao: self.sessao,
            batimento_ms: self.batimento_ms,
        }
    }

    /// Connects over TCP to `endereco` and performs the handshake.
    pub async fn conectar(
        endereco: impl ToSocketAddrs,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let socket = TcpStream::connect(endereco).await?;
        socket.set_nodelay(true)?;
        Conexao::sobre(socket, apresentacao, TAMANHO_MAXIMO_QUADRO).await
    }

    /// Connects over TCP to `endereco` (`host:porta`), then TLS, checking the broker's
    /// certificate against `ca` (or the public roots), and performs the handshake.
    pub async fn conectar_tls(
        endereco: &str,
        ca: Option<&std::path::Path>,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let config = crate::tls::configuracao_cliente(ca)?;
        let nome = crate::tls::nome_do_servidor(endereco)?;
        let socket = TcpStream::connect(endereco).await?;
        socket.set_nodelay(true)?;
        let tls = crate::tls::TlsConnector::from(config)
            .connect(nome, socket)
            .await?;
        Conexao::sobre(tls, apresentacao, TAMANHO_MAXIMO_QUADRO).await
    }

    /// Performs the handshake over an already open byte stream, with the given frame size limit.
    pub async fn sobre(
        transporte: impl Transporte,
        apresentacao: Apresentacao,
        tamanho_maximo: usize,
    ) -> Result<Conexao, ErroConexao> {
        let transporte: Box<dyn Transporte> = Box::new(transporte);
        let mut quadros: QuadrosCliente = enquadrar(transporte, tamanho_maximo);
        quadros.send(ParaBroker::Apresentacao(apresentacao)).await?;
        let resposta = tokio::time::timeout(PRAZO_RESPOSTA, quadros.next())
            .await
            .map_err(|_| ErroConexao::SemResposta)?;
        match resposta {
            Some(Ok(DoBroker::BemVindo {
                sessao,
                batimento_ms,
            })) => {
                let (envio_tx, envio_rx) = mpsc::channel(CAPACIDADE);
                let (eventos_tx, eventos_rx) = mpsc::channel(CAPACIDADE);
                let silencio_maximo = Duration::from_millis(batimento_ms.max(1)).saturating_mul(2);
                tokio::spawn(manter(quadros, envio_rx, eventos_tx, silencio_maximo));
                Ok(Conexao {
                    sessao,
                    batimento_ms,
                    envio: Envio { tx: envio_tx },
                    eventos: Eventos { rx: eventos_rx },
                })
            }
            Some(Ok(DoBroker::Erro { codigo, texto })) => {
                Err(ErroConexao::Recusada { codigo, texto })
            }
            Some(Ok(outro)) => Err(ErroConexao::Inesperada(Box::new(outro))),
            Some(Err(erro)) => Err(ErroConexao::Io(erro)),
            None => Err(ErroConexao::Fechada),
        }
    }
}

/// The connection's task: relays both ways, answers heartbeats, notices a silent broker.
async fn manter(
    quadros: QuadrosCliente,
    mut envio: mpsc::Receiver<ParaBroker>,
    eventos: mpsc::Sender<io::Result<DoBroker>>,
    silencio_maximo: Duration,
) {
    let (mut escrita, mut leitura) = quadros.split();
    let mut enviando = true;
    loop {
        tokio::select! {
            quadro = envio.recv(), if enviando => match quadro {
                Some(quadro) => {
                    if let Err(erro) = escrita.send(quadro).await {
                        let _ = eventos.send(Err(erro)).await;
                        return;
                    }
                }
                // The program dropped its sender: close our side, keep reading to the end.
                None => {
                    enviando = false;
                    let _ = escrita.close().await;
                }
            },
            lido = tokio::time::timeout(silencio_maximo, leitura.next()) => match lido {
                Ok(Some(Ok(DoBroker::Ping))) => {
                    if enviando && escrita.send(ParaBroker::Pong).await.is_err() {
                        return;
                    }
                }
                Ok(Some(quadro)) => {
                    let fim = quadro.is_err();
                    if eventos.send(quadro).await.is_err() || fim {
                        return;
                    }
                }
                Ok(None) => return,
                Err(_) => {
                    let silencio = io::Error::new(
                        io::ErrorKind::TimedOut,
                        "o broker parou de responder",
                    );
                    let _ = eventos.send(Err(silencio)).await;
                    return;
                }
            },
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
