//! The async client handle shared by `cliente`, `atendente`, the tests and the load tool.
//!
//! [`Conexao::conectar`] opens a TCP connection, sends the handshake and waits for the broker's
//! answer; on success the connection splits into an [`Envio`] half (send frames) and an
//! [`Eventos`] half (a `Stream` of broker frames), so a program can send and receive at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, Stream, StreamExt};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::codec::{Quadros, enquadrar};
use crate::{Apresentacao, CodigoErro, DoBroker, ParaBroker, SessaoId, TAMANHO_MAXIMO_QUADRO};

/// How long a client waits for the broker to answer its handshake.
pub const PRAZO_RESPOSTA: Duration = Duration::from_secs(10);

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
    /// The broker answered with something other than a welcome or an error.
    #[error("resposta inesperada do broker: {0:?}")]
    Inesperada(Box<DoBroker>),
}

/// An open, accepted connection to the broker.
pub struct Conexao {
    /// The id the broker gave this session.
    pub sessao: SessaoId,
    /// Sends frames to the broker.
    pub envio: Envio,
    /// Frames from the broker, in order.
    pub eventos: Eventos,
}

impl Conexao {
    /// Connects over TCP to `endereco` and performs the handshake.
    pub async fn conectar(
        endereco: impl ToSocketAddrs,
        apresentacao: Apresentacao,
    ) -> Result<Conexao, ErroConexao> {
        let socket = TcpStream::connect(endereco).await?;
        socket.set_nodelay(true)?;
        Conexao::sobre(socket, apresentacao, TAMANHO_MAXIMO_QUADRO).await
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
            Some(Ok(DoBroker::BemVindo { sessao })) => {
                let (envio, eventos) = quadros.split();
                Ok(Conexao {
                    sessao,
                    envio: Envio { quadros: envio },
                    eventos: Eventos { quadros: eventos },
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

/// The sending half of a [`Conexao`].
pub struct Envio {
    /// The write side of the framed transport.
    quadros: SplitSink<QuadrosCliente, ParaBroker>,
}

impl Envio {
    /// Sends one frame and flushes it.
    pub async fn enviar(&mut self, quadro: ParaBroker) -> io::Result<()> {
        self.quadros.send(quadro).await
    }

    /// Sends a chat line to the current partner.
    pub async fn mensagem(&mut self, texto: impl Into<String>) -> io::Result<()> {
        self.enviar(ParaBroker::Mensagem {
            texto: texto.into(),
        })
        .await
    }

    /// Flushes what is buffered and closes the write side of the connection.
    pub async fn fechar(&mut self) -> io::Result<()> {
        self.quadros.close().await
    }
}

/// The receiving half of a [`Conexao`]: a stream of broker frames that ends when the broker
/// closes the connection.
pub struct Eventos {
    /// The read side of the framed transport.
    quadros: SplitStream<QuadrosCliente>,
}

impl Stream for Eventos {
    type Item = io::Result<DoBroker>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.quadros.poll_next_unpin(cx)
    }
}
