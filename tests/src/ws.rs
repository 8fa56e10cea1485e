//! The protocol over WebSocket from the client side, as a browser speaks it: a WebSocket to the
//! broker's `/ws` (tokio-tungstenite), seen as the byte stream of frames by
//! [`proto::websocket::FluxoWs`], so the same client handle runs over it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use proto::cliente::{Conector, Transporte};
use proto::websocket::{Dialeto, FluxoWs, Recebida};
use proto::{Apresentacao, Conexao, ErroConexao, TAMANHO_MAXIMO_QUADRO};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// tokio-tungstenite's spelling of WebSocket messages.
pub struct Tungstenite;

impl Dialeto for Tungstenite {
    type Mensagem = Message;
    type Erro = tungstenite::Error;

    fn binaria(corpo: Bytes) -> Message {
        Message::Binary(corpo)
    }

    fn interpretar(mensagem: Message) -> Recebida {
        match mensagem {
            Message::Binary(corpo) => Recebida::Corpo(corpo),
            Message::Text(_) => Recebida::Texto,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Recebida::Controle,
            Message::Close(_) => Recebida::Fechamento,
        }
    }
}

/// A WebSocket to a broker, as a byte stream of frames.
pub type FluxoCliente = FluxoWs<WebSocketStream<TcpStream>, Tungstenite>;

/// Opens a WebSocket to the broker's web listener at `endereco`, sending `origem` as the
/// `Origin` header when given (as a browser would).
pub async fn abrir(
    endereco: SocketAddr,
    origem: Option<&str>,
) -> Result<FluxoCliente, tungstenite::Error> {
    let mut pedido = format!("ws://{endereco}/ws").into_client_request()?;
    if let Some(origem) = origem {
        let valor = HeaderValue::from_str(origem).map_err(tungstenite::http::Error::from)?;
        pedido.headers_mut().insert("origin", valor);
    }
    let socket = TcpStream::connect(endereco).await?;
    socket.set_nodelay(true)?;
    apertar(pedido, socket).await
}

/// The WebSocket handshake of `pedido` over `socket`, with the client's settings.
async fn apertar(
    pedido: tungstenite::handshake::client::Request,
    socket: TcpStream,
) -> Result<FluxoCliente, tungstenite::Error> {
    let (ws, _resposta) =
        tokio_tungstenite::client_async_with_config(pedido, socket, Some(configuracao())).await?;
    Ok(FluxoWs::new(ws))
}

/// The client's WebSocket settings: a read buffer of 4 KiB instead of the library's 128 KiB,
/// which it zero-fills on every read (3% of a `carga churn --websocket` run's time went to
/// that alone, in the load tool rather than the broker).
fn configuracao() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Opens a WebSocket to `/ws` over `socket`, already connected to the web listener at
/// `endereco`.
pub async fn sobre(
    socket: TcpStream,
    endereco: SocketAddr,
) -> Result<FluxoCliente, tungstenite::Error> {
    apertar(format!("ws://{endereco}/ws").into_client_request()?, socket).await
}

/// A connector for the client handle that opens a WebSocket to `endereco` each time, so the
/// handle resumes over WebSocket by itself.
pub fn conector(endereco: SocketAddr) -> Conector {
    Arc::new(move || {
        Box::pin(async move {
            let fluxo = abrir(endereco, None).await.map_err(io::Error::other)?;
            Ok(Box::new(fluxo) as Box<dyn Transporte>)
        })
    })
}

/// Connects over WebSocket and performs the handshake, like [`Conexao::conectar`] over TCP.
pub async fn conectar(
    endereco: SocketAddr,
    apresentacao: Apresentacao,
) -> Result<Conexao, ErroConexao> {
    Conexao::com_conector(conector(endereco), apresentacao, TAMANHO_MAXIMO_QUADRO).await
}
