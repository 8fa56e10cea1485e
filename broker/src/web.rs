//! The broker over HTTP: the customer's chat page, the widget that puts it on any site, and the
//! protocol over WebSocket at `/ws`, served on `--web` beside the TCP listener.
//!
//! The accept loop ([`crate::server`]) accepts a web connection like any other (it counts
//! toward the same limits, and gets a session id) and hands it to [`atender`], which serves
//! HTTP/1.1 on it. A WebSocket upgrade at `/ws` whose `Origin` is allowed runs the very
//! connection task of [`crate::connection`], over [`proto::websocket::FluxoWs`]: one frame body
//! per binary message, and otherwise the same handshake, limits, heartbeats and resumes. The
//! page's files ([`ativos`]) are embedded in the binary and served with a Content-Security-Policy
//! that lets only the allowed origins frame it.

pub mod ativos;
pub mod politica;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use proto::SessaoId;
use proto::websocket::{Dialeto, FluxoWs, Recebida};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tower::ServiceExt;
use tracing::{debug, info};

use crate::canal::{Contexto, Fluxo, fechar};
use crate::connection::{self, Origem};

/// The WebSocket layer's read buffer, per connection (see [`websocket`]).
const BUFFER_DE_LEITURA: usize = 1024;

/// One accepted web connection, as long as it or the WebSocket session it became is open:
/// when the last holder lets go, the accept loop is told the connection closed.
pub struct Vinculo {
    /// Where the connection comes from.
    pub origem: Origem,
    /// The session id the connection gets if it becomes a WebSocket session.
    pub sessao: SessaoId,
    /// Where the close is reported.
    pub fechadas: mpsc::Sender<std::net::IpAddr>,
    /// Keeps the broker's shutdown waiting for this connection.
    pub rastreio: TaskTrackerToken,
}

impl Drop for Vinculo {
    fn drop(&mut self) {
        let _ = self.fechadas.try_send(self.origem.par.ip());
    }
}

/// What the web handlers share.
struct Web {
    contexto: Arc<Contexto>,
    /// The `Content-Security-Policy` of the page.
    politica: HeaderValue,
}

/// The routes of the web listener, for the broker of `contexto`.
pub fn rotas(contexto: Arc<Contexto>) -> Router {
    let politica = politica::seguranca_do_conteudo(&contexto.config.origens);
    let web = Arc::new(Web { contexto, politica });
    Router::new()
        .route("/ws", get(websocket))
        .route("/departamentos", get(departamentos))
        .fallback(get(ativo))
        .with_state(web)
}

/// `/departamentos`: the departments the broker serves, as JSON (`{"departamentos": [...]}`,
/// the first being the default; empty when any name is accepted), for the page's form.
async fn departamentos(State(web): State<Arc<Web>>) -> Response {
    let corpo = serde_json::json!({ "departamentos": web.contexto.config.departamentos });
    let mut cabecalhos = HeaderMap::new();
    cabecalhos.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    cabecalhos.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    (cabecalhos, axum::Json(corpo)).into_response()
}

/// Serves one embedded file, or 404.
async fn ativo(State(web): State<Arc<Web>>, uri: Uri) -> Response {
    let Some(ativo) = ativos::procurar(uri.path()) else {
        return (StatusCode::NOT_FOUND, "não encontrado").into_response();
    };
    let mut cabecalhos = HeaderMap::new();
    cabecalhos.insert(header::CONTENT_TYPE, HeaderValue::from_static(ativo.tipo));
    cabecalhos.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    cabecalhos.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    cabecalhos.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    cabecalhos.insert(header::CONTENT_SECURITY_POLICY, web.politica.clone());
    (cabecalhos, ativo.conteudo).into_response()
}

/// `/ws`: the protocol over WebSocket, from an allowed origin.
async fn websocket(
    State(web): State<Arc<Web>>,
    Extension(vinculo): Extension<Arc<Vinculo>>,
    cabecalhos: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !politica::origem_permitida(&cabecalhos, &web.contexto.config.origens) {
        info!(sessao = vinculo.sessao, origem = ?cabecalhos.get(header::ORIGIN), "WebSocket recusado: origem fora de --origens");
        return (StatusCode::FORBIDDEN, "origem não permitida").into_response();
    }
    // Room for a message over the frame limit, so that it is answered with `QuadroGrande`
    // like over TCP; far larger ones are cut off by the WebSocket layer itself.
    let limite = web.contexto.config.tamanho_maximo_quadro.saturating_mul(2);
    let contexto = Arc::clone(&web.contexto);
    upgrade
        .max_message_size(limite)
        .max_frame_size(limite)
        // The WebSocket layer's read buffer is allocated whole for every connection: its
        // default (128 KiB) made a waiting web customer cost 136 KiB, 1 KiB makes it 8 KiB
        // (BENCHMARKS.md); it grows when a longer message needs it.
        .read_buffer_size(BUFFER_DE_LEITURA)
        .on_upgrade(move |socket| async move {
            let fluxo = FluxoWs::<WebSocket, Axum>::new(socket);
            connection::atender(fluxo, vinculo.origem, vinculo.sessao, contexto).await;
            drop(vinculo);
        })
}

/// axum's spelling of WebSocket messages.
pub struct Axum;

impl Dialeto for Axum {
    type Mensagem = Message;
    type Erro = axum::Error;

    fn binaria(corpo: Bytes) -> Message {
        Message::Binary(corpo)
    }

    fn interpretar(mensagem: Message) -> Recebida {
        match mensagem {
            Message::Binary(corpo) => Recebida::Corpo(corpo),
            Message::Text(_) => Recebida::Texto,
            Message::Ping(_) | Message::Pong(_) => Recebida::Controle,
            Message::Close(_) => Recebida::Fechamento,
        }
    }
}

/// Serves HTTP/1.1 on one accepted connection until it closes, is upgraded, or the broker
/// stops (then it ends after the request in progress, or at the shutdown's deadline).
pub async fn atender<S: Fluxo>(
    socket: S,
    vinculo: Arc<Vinculo>,
    rotas: Router,
    contexto: Arc<Contexto>,
) {
    let prazo = contexto.config.prazo_apresentacao;
    let desligar = contexto.desligar.clone();
    let servico = hyper::service::service_fn(move |mut pedido: hyper::Request<Incoming>| {
        pedido.extensions_mut().insert(Arc::clone(&vinculo));
        rotas.clone().oneshot(pedido)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(prazo);
    let conexao = http
        .serve_connection(TokioIo::new(socket), servico)
        .with_upgrades();
    tokio::pin!(conexao);
    tokio::select! {
        resultado = conexao.as_mut() => if let Err(erro) = resultado {
            debug!(%erro, "conexão HTTP encerrada");
        },
        () = desligar.cancelled() => {
            // The request in progress may finish, within the shutdown's deadline.
            conexao.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conexao => {}
                () = contexto.forcar.cancelled() => {}
            }
        }
        // Cut at once (a cluster's active stepping down).
        () = contexto.forcar.cancelled() => {}
    }
}

/// Answers a web connection refused at once (over a limit) with `503` and closes it.
pub async fn recusar<S: Fluxo>(mut socket: S) {
    let corpo = "conexões demais no broker; tente de novo em instantes";
    let resposta = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{corpo}",
        corpo.len()
    );
    let escrever = socket.write_all(resposta.as_bytes());
    let _ = tokio::time::timeout(Duration::from_secs(1), escrever).await;
    fechar(socket, Duration::from_millis(200)).await;
}
