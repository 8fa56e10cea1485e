//! `drain`: N customers wait in one line; then M agents arrive and serve them (each chat is
//! ended by its agent as soon as it starts) until the line is empty. Measures the time to serve
//! everyone and counts every `Fila` frame the customers received, against the bound that keeps
//! position updates from growing with customers x pairings: at most one per customer per tick,
//! plus each customer's first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use proto::{Apresentacao, Conexao, DoBroker, ParaBroker};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use super::{barra, conectar_de};

/// The shape of a drain run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forma {
    /// Customers waiting when the agents arrive.
    pub clientes: usize,
    /// Agents serving them.
    pub atendentes: usize,
    /// Customer connections being opened at once.
    pub simultaneos: usize,
    /// The broker's position tick (in milliseconds in JSON).
    #[serde(rename = "tick_ms", serialize_with = "em_milissegundos")]
    pub tick: Duration,
}

fn em_milissegundos<S: serde::Serializer>(
    duracao: &Duration,
    serializador: S,
) -> Result<S::Ok, S::Error> {
    serializador.serialize_f64(duracao.as_secs_f64() * 1000.0)
}

/// What a drain run found.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resultado {
    /// The workload.
    pub forma: Forma,
    /// From the first agent connecting to the last customer being served.
    pub segundos_para_esvaziar: f64,
    /// Customers served per second.
    pub clientes_por_segundo: f64,
    /// `Fila` frames received by all customers, from their first to their last.
    pub quadros_fila: u64,
    /// customers x drain time / tick + customers.
    pub limite_quadros_fila: f64,
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        let dentro = if self.quadros_fila as f64 <= self.limite_quadros_fila {
            "dentro do limite"
        } else {
            "ACIMA do limite"
        };
        format!(
            "drain: {} clientes, {} atendentes | esvaziada em {:.2} s ({:.0} clientes/s) \
             | {} quadros Fila, limite {:.0} (clientes x tempo / tick {} ms + clientes): {dentro} \
             | {:.1} por cliente",
            self.forma.clientes,
            self.forma.atendentes,
            self.segundos_para_esvaziar,
            self.clientes_por_segundo,
            self.quadros_fila,
            self.limite_quadros_fila,
            self.forma.tick.as_millis(),
            self.quadros_fila as f64 / self.forma.clientes.max(1) as f64,
        )
    }
}

/// Fills the line of the broker at `endereco`, then lets `forma.atendentes` agents (logged in
/// with `token`) empty it.
pub async fn executar(
    endereco: SocketAddr,
    token: &str,
    forma: Forma,
) -> Result<Resultado, String> {
    let quadros_fila = Arc::new(AtomicU64::new(0));
    let (na_fila_tx, mut na_fila_rx) = mpsc::channel::<()>(forma.clientes.max(1));
    let (atendido_tx, mut atendido_rx) = mpsc::channel::<Result<(), String>>(forma.clientes.max(1));
    let vagas = Arc::new(Semaphore::new(forma.simultaneos.max(1)));
    let progresso = barra(forma.clientes as u64, "na fila");
    {
        let quadros_fila = Arc::clone(&quadros_fila);
        tokio::spawn(async move {
            for i in 0..forma.clientes {
                let vaga = Arc::clone(&vagas)
                    .acquire_owned()
                    .await
                    .expect("never closed");
                let (na_fila, atendido) = (na_fila_tx.clone(), atendido_tx.clone());
                let quadros_fila = Arc::clone(&quadros_fila);
                tokio::spawn(async move {
                    let resultado = cliente(endereco, i, vaga, na_fila, &quadros_fila).await;
                    let _ = atendido.send(resultado).await;
                });
            }
        });
    }
    for _ in 0..forma.clientes {
        tokio::select! {
            Some(()) = na_fila_rx.recv() => progresso.inc(1),
            Some(Err(erro)) = atendido_rx.recv() => return Err(erro),
            else => return Err("os clientes sumiram antes de entrar na fila".into()),
        }
    }
    progresso.finish_and_clear();

    let progresso = barra(forma.clientes as u64, "atendidos");
    let inicio = Instant::now();
    let mut atendentes = Vec::with_capacity(forma.atendentes);
    for a in 0..forma.atendentes {
        let apresentacao =
            Apresentacao::atendente(format!("drain-a{a}"), vec!["drain".into()], token);
        let conexao = conectar_de(forma.clientes + a, endereco, apresentacao).await?;
        atendentes.push(tokio::spawn(atender(conexao)));
    }
    for _ in 0..forma.clientes {
        match atendido_rx.recv().await {
            Some(Ok(())) => progresso.inc(1),
            Some(Err(erro)) => return Err(erro),
            None => return Err("os clientes sumiram antes de serem atendidos".into()),
        }
    }
    let segundos = inicio.elapsed().as_secs_f64();
    progresso.finish_and_clear();
    for atendente in atendentes {
        atendente.abort();
    }
    let clientes = forma.clientes as f64;
    Ok(Resultado {
        forma,
        segundos_para_esvaziar: segundos,
        clientes_por_segundo: clientes / segundos,
        quadros_fila: quadros_fila.load(Ordering::Relaxed),
        limite_quadros_fila: clientes * segundos / forma.tick.as_secs_f64() + clientes,
    })
}

/// Customer `i`: joins, says when it is in line (and frees its connection slot), counts its
/// position updates, and leaves when its chat ends.
async fn cliente(
    endereco: SocketAddr,
    i: usize,
    vaga: tokio::sync::OwnedSemaphorePermit,
    na_fila: mpsc::Sender<()>,
    quadros_fila: &AtomicU64,
) -> Result<(), String> {
    let apresentacao = Apresentacao::cliente(format!("drain-c{i}"), "drain");
    let mut conexao: Conexao = conectar_de(i, endereco, apresentacao).await?;
    let mut vaga = Some(vaga);
    let mut conectado = false;
    while let Some(evento) = conexao.eventos.next().await {
        match evento.map_err(|e| format!("cliente {i}: {e}"))? {
            DoBroker::Fila { .. } => {
                quadros_fila.fetch_add(1, Ordering::Relaxed);
                if vaga.take().is_some() {
                    let _ = na_fila.send(()).await;
                }
            }
            DoBroker::Conectado { .. } => conectado = true,
            DoBroker::Fim { .. } if conectado => return Ok(()),
            outro => return Err(format!("cliente {i}: {outro:?} inesperado")),
        }
    }
    Err(format!(
        "cliente {i}: conexão encerrada antes do atendimento"
    ))
}

/// An agent that ends every chat as soon as it starts, so the line drains as fast as the broker
/// can pair.
async fn atender(mut conexao: Conexao) {
    while let Some(Ok(quadro)) = conexao.eventos.next().await {
        if let DoBroker::Conectado { conversa, .. } = quadro
            && conexao
                .envio
                .enviar(ParaBroker::Encerrar { conversa, seq: 0 })
                .await
                .is_err()
        {
            return;
        }
    }
}
