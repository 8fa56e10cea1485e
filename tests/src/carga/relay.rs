//! `relay`: fixed pairs ping-ponging chat lines through the broker as fast as they can; the
//! customer of each pair times every round trip. The floor runs the same workload through the
//! splice.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use proto::{Apresentacao, Conexao, DoBroker};

use super::{TEXTO, Vazao, barra, novo_histograma};

/// What a relay run found, with the floor measured in the same run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Resultado {
    /// Pairs.
    pub pares: usize,
    /// Seconds of ping-pong.
    pub segundos: f64,
    /// Through the broker.
    pub broker: Vazao,
    /// Through the splice.
    pub piso: Vazao,
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        let b = &self.broker;
        let p = &self.piso;
        format!(
            "relay: {} pares, {:.0} s | broker {:.0} msg/s, ida e volta p50 {} µs p99 {} µs p999 {} µs \
             | piso {:.0} msg/s, p50 {} µs p99 {} µs p999 {} µs \
             | razão msg/s {:.2}, p99 {:.2}x, p50 +{} µs",
            self.pares,
            self.segundos,
            b.mensagens_por_segundo,
            b.ida_e_volta.p50_us,
            b.ida_e_volta.p99_us,
            b.ida_e_volta.p999_us,
            p.mensagens_por_segundo,
            p.ida_e_volta.p50_us,
            p.ida_e_volta.p99_us,
            p.ida_e_volta.p999_us,
            b.mensagens_por_segundo / p.mensagens_por_segundo,
            b.ida_e_volta.p99_us as f64 / p.ida_e_volta.p99_us.max(1) as f64,
            b.ida_e_volta.p50_us.saturating_sub(p.ida_e_volta.p50_us),
        )
    }
}

/// Runs the relay workload against the broker at `endereco` (agents log in with `token`), then
/// the same through the floor.
pub async fn executar(
    endereco: SocketAddr,
    token: &str,
    pares: usize,
    duracao: Duration,
) -> Result<Resultado, String> {
    let broker = com_relogio(
        "broker",
        duracao,
        pelo_broker(endereco, token, pares, duracao),
    )
    .await?;
    let piso = com_relogio("piso", duracao, super::piso::relay(pares, duracao))
        .await
        .map_err(|erro| format!("piso: {erro}"))?;
    Ok(Resultado {
        pares,
        segundos: duracao.as_secs_f64(),
        broker,
        piso,
    })
}

/// Runs `fase` with a progress bar that fills, second by second, over `duracao`.
async fn com_relogio<T>(nome: &str, duracao: Duration, fase: impl Future<Output = T>) -> T {
    let progresso = barra(duracao.as_secs().max(1), nome);
    let ponteiro = progresso.clone();
    let relogio = tokio::spawn(async move {
        let mut segundo = tokio::time::interval(Duration::from_secs(1));
        segundo.tick().await;
        loop {
            segundo.tick().await;
            ponteiro.inc(1);
        }
    });
    let resultado = fase.await;
    relogio.abort();
    progresso.finish_and_clear();
    resultado
}

async fn proximo_conectado(conexao: &mut Conexao) -> Result<u64, String> {
    while let Some(quadro) = conexao.eventos.next().await {
        match quadro.map_err(|e| e.to_string())? {
            DoBroker::Conectado { conversa, .. } => return Ok(conversa),
            DoBroker::Erro { texto, .. } => return Err(texto),
            _ => {}
        }
    }
    Err("o broker fechou a conexão".into())
}

async fn pelo_broker(
    endereco: SocketAddr,
    token: &str,
    pares: usize,
    duracao: Duration,
) -> Result<Vazao, String> {
    let mut lados = Vec::with_capacity(pares);
    for i in 0..pares {
        // Each pair in a department of its own, so the pairing is exactly this one.
        let departamento = format!("carga-{i}");
        let apresentacao =
            Apresentacao::atendente(format!("carga-a{i}"), vec![departamento.clone()], token);
        let mut atendente = Conexao::conectar(endereco, apresentacao)
            .await
            .map_err(|e| format!("atendente {i}: {e}"))?;
        let apresentacao = Apresentacao::cliente(format!("carga-c{i}"), departamento);
        let mut cliente = Conexao::conectar(endereco, apresentacao)
            .await
            .map_err(|e| format!("cliente {i}: {e}"))?;
        let conversa = proximo_conectado(&mut cliente).await?;
        proximo_conectado(&mut atendente).await?;
        lados.push((conversa, cliente, atendente));
    }
    let fim = Instant::now() + duracao;
    let mut tarefas = Vec::with_capacity(pares);
    for (conversa, mut cliente, mut atendente) in lados {
        tokio::spawn(async move {
            while let Some(Ok(quadro)) = atendente.eventos.next().await {
                if let DoBroker::Mensagem { texto, .. } = quadro
                    && atendente.envio.mensagem(conversa, texto).await.is_err()
                {
                    return;
                }
            }
        });
        tarefas.push(tokio::spawn(async move {
            let mut histograma: Histogram<u64> = novo_histograma();
            let mut n = 0;
            'rodadas: while Instant::now() < fim {
                let inicio = Instant::now();
                if cliente.envio.mensagem(conversa, TEXTO).await.is_err() {
                    break;
                }
                loop {
                    match cliente.eventos.next().await {
                        Some(Ok(DoBroker::Mensagem { .. })) => break,
                        Some(Ok(_)) => continue,
                        _ => break 'rodadas,
                    }
                }
                let _ = histograma.record(inicio.elapsed().as_micros().max(1) as u64);
                n += 1;
            }
            (n, histograma)
        }));
    }
    let mut resultados = Vec::with_capacity(pares);
    for tarefa in tarefas {
        resultados.push(tarefa.await.map_err(|e| e.to_string())?);
    }
    Ok(Vazao::somar(resultados, duracao))
}
