//! The protocol over WebSocket: one frame body per binary message, seen as the byte stream of
//! length-prefixed frames that the rest of the code already speaks.
//!
//! [`FluxoWs`] wraps any WebSocket (the broker's, from axum; a client's, from
//! tokio-tungstenite) into an [`AsyncRead`] + [`AsyncWrite`]: each binary message read comes
//! out as its 4-byte big-endian length then its bytes, and the frames written are cut at their
//! length prefixes and sent one binary message each, without the prefix. So a connection task
//! or a client handle runs unchanged over either transport, and limits, heartbeats and resumes
//! are the same. A [`Dialeto`] says how one WebSocket library spells its messages.

use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes of a frame's length prefix on the byte-stream side.
const PREFIXO: usize = 4;

/// What a WebSocket message is to the protocol.
#[derive(Debug)]
pub enum Recebida {
    /// A binary message: one frame body.
    Corpo(Bytes),
    /// A text message, which the protocol does not use: the connection is broken off.
    Texto,
    /// A ping or a pong, which the WebSocket library answers by itself: skipped.
    Controle,
    /// The peer's close: the end of the stream.
    Fechamento,
}

/// How one WebSocket library spells the messages [`FluxoWs`] needs.
pub trait Dialeto {
    /// The library's message type.
    type Mensagem;
    /// The library's error type.
    type Erro: Into<Box<dyn std::error::Error + Send + Sync>>;

    /// A binary message carrying `corpo`.
    fn binaria(corpo: Bytes) -> Self::Mensagem;

    /// What a received message is to the protocol.
    fn interpretar(mensagem: Self::Mensagem) -> Recebida;
}

/// A WebSocket seen as a stream of length-prefixed frames (see the module's docs).
pub struct FluxoWs<W, D> {
    ws: W,
    /// Read, not yet handed out: the current message's prefix and body.
    lido: Bytes,
    /// Written, not yet sent: frames with their prefixes, the last one maybe incomplete.
    escrito: BytesMut,
    /// The peer closed (or broke off): reads return end of stream.
    fim: bool,
    _dialeto: PhantomData<fn() -> D>,
}

impl<W, D> FluxoWs<W, D> {
    /// Wraps an open WebSocket.
    pub fn new(ws: W) -> Self {
        FluxoWs {
            ws,
            lido: Bytes::new(),
            escrito: BytesMut::new(),
            fim: false,
            _dialeto: PhantomData,
        }
    }
}

fn erro_io<E: Into<Box<dyn std::error::Error + Send + Sync>>>(erro: E) -> io::Error {
    io::Error::other(erro)
}

impl<W, D> FluxoWs<W, D>
where
    D: Dialeto,
    W: Sink<D::Mensagem, Error = D::Erro> + Unpin,
{
    /// Sends every complete frame written so far, one message each.
    fn enviar_completos(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.escrito.len() >= PREFIXO {
            let tamanho = u32::from_be_bytes([
                self.escrito[0],
                self.escrito[1],
                self.escrito[2],
                self.escrito[3],
            ]) as usize;
            if self.escrito.len() < PREFIXO + tamanho {
                break;
            }
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(erro_io)?;
            self.escrito.advance(PREFIXO);
            let corpo = self.escrito.split_to(tamanho).freeze();
            Pin::new(&mut self.ws)
                .start_send(D::binaria(corpo))
                .map_err(erro_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<W, D> AsyncRead for FluxoWs<W, D>
where
    D: Dialeto,
    W: Stream<Item = Result<D::Mensagem, D::Erro>> + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let este = self.get_mut();
        while este.lido.is_empty() && !este.fim {
            match ready!(Pin::new(&mut este.ws).poll_next(cx)) {
                None => este.fim = true,
                Some(Err(erro)) => return Poll::Ready(Err(erro_io(erro))),
                Some(Ok(mensagem)) => match D::interpretar(mensagem) {
                    Recebida::Corpo(corpo) => {
                        // A body too long for the prefix cannot be a frame: announce the
                        // largest length, which the frame decoder refuses as too large.
                        let tamanho = u32::try_from(corpo.len()).unwrap_or(u32::MAX);
                        let mut quadro = BytesMut::with_capacity(PREFIXO + corpo.len());
                        quadro.put_u32(tamanho);
                        quadro.extend_from_slice(&corpo);
                        este.lido = quadro.freeze();
                    }
                    Recebida::Texto => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "mensagem de texto num WebSocket binário",
                        )));
                    }
                    Recebida::Controle => {}
                    Recebida::Fechamento => este.fim = true,
                },
            }
        }
        let n = este.lido.len().min(buf.remaining());
        buf.put_slice(&este.lido[..n]);
        este.lido.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<W, D> AsyncWrite for FluxoWs<W, D>
where
    D: Dialeto,
    W: Sink<D::Mensagem, Error = D::Erro> + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dados: &[u8],
    ) -> Poll<io::Result<usize>> {
        let este = self.get_mut();
        // Complete frames go out before more is taken, so what waits here is at most what one
        // write handed in (a frame encoder hands in its whole buffer: many frames).
        ready!(este.enviar_completos(cx))?;
        este.escrito.extend_from_slice(dados);
        // Whatever is complete now goes out as soon as the WebSocket has room; a frame that
        // cannot go yet waits in the buffer for the next write or flush.
        let _ = este.enviar_completos(cx)?;
        Poll::Ready(Ok(dados.len()))
    }

    /// Sends every complete frame; the start of a frame whose rest has not been written yet
    /// stays here until it has (a frame encoder never flushes half a frame).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let este = self.get_mut();
        ready!(este.enviar_completos(cx))?;
        Pin::new(&mut este.ws).poll_flush(cx).map_err(erro_io)
    }

    /// Sends every complete frame, then the WebSocket's close (an unfinished frame is dropped).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let este = self.get_mut();
        ready!(este.enviar_completos(cx))?;
        Pin::new(&mut este.ws).poll_close(cx).map_err(erro_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Messages as a test spells them.
    #[derive(Debug, PartialEq)]
    enum Msg {
        Bin(Bytes),
        Txt,
        Ping,
    }

    struct Teste;
    impl Dialeto for Teste {
        type Mensagem = Msg;
        type Erro = mpsc::SendError;
        fn binaria(corpo: Bytes) -> Msg {
            Msg::Bin(corpo)
        }
        fn interpretar(mensagem: Msg) -> Recebida {
            match mensagem {
                Msg::Bin(corpo) => Recebida::Corpo(corpo),
                Msg::Txt => Recebida::Texto,
                Msg::Ping => Recebida::Controle,
            }
        }
    }

    /// A WebSocket made of two channels: what the test feeds in, and what the adapter sends.
    struct Par {
        entrada: mpsc::UnboundedReceiver<Result<Msg, mpsc::SendError>>,
        saida: mpsc::UnboundedSender<Msg>,
    }
    impl Stream for Par {
        type Item = Result<Msg, mpsc::SendError>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Pin::new(&mut self.entrada).poll_next(cx)
        }
    }
    impl Sink<Msg> for Par {
        type Error = mpsc::SendError;
        fn poll_ready(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.saida).poll_ready(cx)
        }
        fn start_send(mut self: Pin<&mut Self>, item: Msg) -> Result<(), Self::Error> {
            Pin::new(&mut self.saida).start_send(item)
        }
        fn poll_flush(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.saida).poll_flush(cx)
        }
        fn poll_close(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.saida).poll_close(cx)
        }
    }

    /// What a test feeds in as received messages.
    type Entrada = mpsc::UnboundedSender<Result<Msg, mpsc::SendError>>;

    fn par() -> (FluxoWs<Par, Teste>, Entrada, mpsc::UnboundedReceiver<Msg>) {
        let (entra_tx, entra_rx) = mpsc::unbounded();
        let (sai_tx, sai_rx) = mpsc::unbounded();
        let ws = Par {
            entrada: entra_rx,
            saida: sai_tx,
        };
        (FluxoWs::new(ws), entra_tx, sai_rx)
    }

    #[tokio::test]
    async fn each_message_reads_as_a_prefixed_frame_and_controls_are_skipped() {
        let (mut fluxo, entrada, _saida) = par();
        entrada
            .unbounded_send(Ok(Msg::Bin(Bytes::from_static(b"abc"))))
            .unwrap();
        entrada.unbounded_send(Ok(Msg::Ping)).unwrap();
        entrada.unbounded_send(Ok(Msg::Bin(Bytes::new()))).unwrap();
        drop(entrada);
        let mut tudo = Vec::new();
        fluxo.read_to_end(&mut tudo).await.unwrap();
        assert_eq!(tudo, b"\0\0\0\x03abc\0\0\0\0");
    }

    #[tokio::test]
    async fn a_text_message_breaks_the_stream_off() {
        let (mut fluxo, entrada, _saida) = par();
        entrada.unbounded_send(Ok(Msg::Txt)).unwrap();
        let mut buf = [0u8; 8];
        let erro = fluxo.read(&mut buf).await.unwrap_err();
        assert_eq!(erro.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn frames_written_in_pieces_go_out_one_message_each_without_prefix() {
        let (mut fluxo, _entrada, mut saida) = par();
        fluxo.write_all(b"\0\0\0\x02o").await.unwrap();
        fluxo.write_all(b"i\0\0\0\x00\0\0").await.unwrap();
        fluxo.write_all(b"\0\x01!").await.unwrap();
        fluxo.flush().await.unwrap();
        fluxo.shutdown().await.unwrap();
        let mut enviadas = Vec::new();
        while let Some(mensagem) = futures::StreamExt::next(&mut saida).await {
            enviadas.push(mensagem);
        }
        assert_eq!(
            enviadas,
            vec![
                Msg::Bin(Bytes::from_static(b"oi")),
                Msg::Bin(Bytes::new()),
                Msg::Bin(Bytes::from_static(b"!")),
            ]
        );
    }
}
