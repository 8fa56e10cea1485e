//! The floor: a minimal in-process TCP splice. It pairs each two consecutive connections and
//! copies bytes between them, nothing more; clients speak the same 4-byte length-delimited
//! frames as the protocol. Whatever the broker achieves is compared with this, measured in the
//! same run on the same machine.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::{TEXTO, Vazao, novo_histograma};

/// Starts the splice on a free port and returns its address.
pub async fn iniciar() -> std::io::Result<SocketAddr> {
    let ouvinte = TcpListener::bind("127.0.0.1:0").await?;
    let endereco = ouvinte.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut primeiro, _)) = ouvinte.accept().await else {
                return;
            };
            let Ok((mut segundo, _)) = ouvinte.accept().await else {
                return;
            };
            let _ = primeiro.set_nodelay(true);
            let _ = segundo.set_nodelay(true);
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut primeiro, &mut segundo).await;
            });
        }
    });
    Ok(endereco)
}

async fn conectar(
    endereco: SocketAddr,
) -> std::io::Result<Framed<TcpStream, LengthDelimitedCodec>> {
    let socket = TcpStream::connect(endereco).await?;
    socket.set_nodelay(true)?;
    Ok(Framed::new(socket, LengthDelimitedCodec::new()))
}

/// `pares` pairs ping-ponging through the splice for `duracao`.
pub async fn relay(pares: usize, duracao: Duration) -> std::io::Result<Vazao> {
    let endereco = iniciar().await?;
    let mut lados = Vec::with_capacity(pares);
    for _ in 0..pares {
        // The splice pairs connections in the order it accepts them.
        let ping = conectar(endereco).await?;
        let pong = conectar(endereco).await?;
        lados.push((ping, pong));
    }
    let fim = Instant::now() + duracao;
    let corpo = Bytes::from_static(TEXTO.as_bytes());
    let mut tarefas = Vec::with_capacity(pares);
    for (mut ping, mut pong) in lados {
        tokio::spawn(async move {
            while let Some(Ok(quadro)) = pong.next().await {
                if pong.send(quadro.freeze()).await.is_err() {
                    return;
                }
            }
        });
        let corpo = corpo.clone();
        tarefas.push(tokio::spawn(async move {
            let mut histograma: Histogram<u64> = novo_histograma();
            let mut n = 0;
            while Instant::now() < fim {
                let inicio = Instant::now();
                if ping.send(corpo.clone()).await.is_err() {
                    break;
                }
                match ping.next().await {
                    Some(Ok(_)) => {}
                    _ => break,
                }
                let _ = histograma.record(inicio.elapsed().as_micros().max(1) as u64);
                n += 1;
            }
            (n, histograma)
        }));
    }
    let mut resultados = Vec::with_capacity(pares);
    for tarefa in tarefas {
        resultados.push(tarefa.await.expect("the pair's task ends"));
    }
    Ok(Vazao::somar(resultados, duracao))
}
