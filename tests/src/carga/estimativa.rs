//! `estimativa`: how honest the wait estimate is. Customers arrive at random (a Poisson
//! process), a fixed group of agents holds each chat for a random time (exponential), and every
//! customer who had to wait compares the estimate of its first `Fila` with the wait that
//! followed. There is no floor here: the figure is the error, not a speed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use proto::{Apresentacao, DoBroker, ParaBroker};
use serde::Serialize;

use super::conectar_de;

/// The department the scenario's sessions use.
const DEPARTAMENTO: &str = "estimativa";

/// The shape of a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forma {
    /// Agents, one chat at a time each.
    pub atendentes: usize,
    /// Customers in all.
    pub clientes: usize,
    /// Mean time an agent holds a chat (exponentially distributed).
    pub atendimento: Duration,
    /// Agents' target occupancy (arrival rate = occupancy × agents / mean handling time).
    pub ocupacao: f64,
}

/// One customer: the estimate it was given on joining (`None`: none, or paired at once), and
/// how long it waited.
#[derive(Debug, Clone, Copy)]
struct Amostra {
    estimativa_s: Option<u32>,
    esperou_fila: bool,
    espera: Duration,
}

/// What a run measured, in seconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resultado {
    /// The workload.
    pub forma: Forma,
    /// Customers paired on arrival (no `Fila`, nothing to estimate).
    pub atendidos_na_hora: usize,
    /// Customers who waited without an estimate (no chat handled yet, or no agent free).
    pub sem_estimativa: usize,
    /// Customers who waited with an estimate.
    pub com_estimativa: usize,
    /// The waits of those customers: median and 90th percentile.
    pub espera_p50_s: f64,
    /// 90th percentile of those waits.
    pub espera_p90_s: f64,
    /// |estimate − wait|: median.
    pub erro_p50_s: f64,
    /// |estimate − wait|: 90th percentile.
    pub erro_p90_s: f64,
    /// estimate − wait, median: positive means the estimates run long.
    pub vies_p50_s: f64,
}

impl Resultado {
    /// The one summary line.
    pub fn resumo(&self) -> String {
        format!(
            "estimativa: {} atendentes, atendimento médio {:?}, ocupação {:.2}, {} clientes | {} atendidos na hora, \
             {} esperaram sem estimativa, {} com | espera p50 {:.1} s p90 {:.1} s | erro |estimativa − espera| \
             p50 {:.1} s p90 {:.1} s | viés p50 {:+.1} s",
            self.forma.atendentes,
            self.forma.atendimento,
            self.forma.ocupacao,
            self.forma.clientes,
            self.atendidos_na_hora,
            self.sem_estimativa,
            self.com_estimativa,
            self.espera_p50_s,
            self.espera_p90_s,
            self.erro_p50_s,
            self.erro_p90_s,
            self.vies_p50_s,
        )
    }
}

/// A small deterministic generator (xorshift), so that two runs of the same shape see the same
/// arrivals and handling times.
struct Sorteio(u64);

impl Sorteio {
    fn novo(semente: u64) -> Sorteio {
        Sorteio(semente.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in (0, 1].
    fn uniforme(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Exponential with the given mean.
    fn exponencial(&mut self, media: Duration) -> Duration {
        media.mul_f64(-self.uniforme().ln())
    }
}

/// Runs the scenario against the broker at `endereco`.
pub async fn executar(
    endereco: SocketAddr,
    token: &str,
    forma: Forma,
) -> Result<Resultado, String> {
    let mut agentes = Vec::with_capacity(forma.atendentes);
    for i in 0..forma.atendentes {
        let apresentacao =
            Apresentacao::atendente(format!("est-a{i}"), vec![DEPARTAMENTO.into()], token);
        let conexao = conectar_de(i, endereco, apresentacao).await?;
        agentes.push(tokio::spawn(atender(conexao, i as u64, forma.atendimento)));
    }
    let taxa = forma.ocupacao * forma.atendentes as f64 / forma.atendimento.as_secs_f64();
    let entre_chegadas = Duration::from_secs_f64(1.0 / taxa);
    let mut sorteio = Sorteio::novo(u64::MAX);
    let mut clientes = Vec::with_capacity(forma.clientes);
    for i in 0..forma.clientes {
        tokio::time::sleep(sorteio.exponencial(entre_chegadas)).await;
        let indice = forma.atendentes + i;
        clientes.push(tokio::spawn(cliente(endereco, indice)));
    }
    let mut amostras = Vec::with_capacity(forma.clientes);
    for cliente in clientes {
        amostras.push(cliente.await.map_err(|e| e.to_string())??);
    }
    for agente in agentes {
        agente.abort();
    }
    Ok(resumir(forma, &amostras))
}

/// An agent: answers each chat at once, holds it for a random time, then ends it.
async fn atender(mut conexao: proto::Conexao, semente: u64, media: Duration) {
    let mut sorteio = Sorteio::novo(semente);
    while let Some(Ok(quadro)) = conexao.eventos.next().await {
        let DoBroker::Conectado { conversa, .. } = quadro else {
            continue;
        };
        let ola = ParaBroker::Mensagem {
            conversa,
            texto: "olá".into(),
            seq: 0,
        };
        if conexao.envio.enviar(ola).await.is_err() {
            return;
        }
        tokio::time::sleep(sorteio.exponencial(media)).await;
        let fim = ParaBroker::Encerrar { conversa, seq: 0 };
        if conexao.envio.enviar(fim).await.is_err() {
            return;
        }
    }
}

/// A customer: notes its first estimate and its wait, then rates the chat when it ends.
async fn cliente(endereco: SocketAddr, i: usize) -> Result<Amostra, String> {
    let apresentacao = Apresentacao::cliente(format!("est-c{i}"), DEPARTAMENTO);
    let mut conexao = conectar_de(i, endereco, apresentacao).await?;
    let inicio = Instant::now();
    let mut amostra = Amostra {
        estimativa_s: None,
        esperou_fila: false,
        espera: Duration::ZERO,
    };
    while let Some(evento) = conexao.eventos.next().await {
        match evento.map_err(|e| format!("cliente {i}: {e}"))? {
            DoBroker::Fila { estimativa_s, .. } if !amostra.esperou_fila => {
                amostra.esperou_fila = true;
                amostra.estimativa_s = estimativa_s;
            }
            DoBroker::Conectado { .. } => amostra.espera = inicio.elapsed(),
            DoBroker::Avaliacao { conversa, .. } => {
                let nota = ParaBroker::Avaliar {
                    conversa,
                    nota: 5,
                    seq: 0,
                };
                conexao
                    .envio
                    .enviar(nota)
                    .await
                    .map_err(|e| format!("cliente {i}: {e}"))?;
            }
            DoBroker::Fim { conversa: 0, .. } => return Ok(amostra),
            _ => {}
        }
    }
    Err(format!("cliente {i}: a conexão terminou antes do fim"))
}

/// The percentile `p` (0 to 1) of sorted values.
fn percentil(ordenados: &[f64], p: f64) -> f64 {
    if ordenados.is_empty() {
        return 0.0;
    }
    let indice = ((ordenados.len() - 1) as f64 * p).round() as usize;
    ordenados[indice]
}

fn ordenados(mut valores: Vec<f64>) -> Vec<f64> {
    valores.sort_by(f64::total_cmp);
    valores
}

fn resumir(forma: Forma, amostras: &[Amostra]) -> Resultado {
    let atendidos_na_hora = amostras.iter().filter(|a| !a.esperou_fila).count();
    let estimadas: Vec<(f64, f64)> = amostras
        .iter()
        .filter_map(|a| Some((f64::from(a.estimativa_s?), a.espera.as_secs_f64())))
        .collect();
    let esperas = ordenados(estimadas.iter().map(|&(_, espera)| espera).collect());
    let erros = ordenados(
        estimadas
            .iter()
            .map(|&(e, espera)| (e - espera).abs())
            .collect(),
    );
    let vieses = ordenados(estimadas.iter().map(|&(e, espera)| e - espera).collect());
    Resultado {
        forma,
        atendidos_na_hora,
        sem_estimativa: amostras.len() - atendidos_na_hora - estimadas.len(),
        com_estimativa: estimadas.len(),
        espera_p50_s: percentil(&esperas, 0.5),
        espera_p90_s: percentil(&esperas, 0.9),
        erro_p50_s: percentil(&erros, 0.5),
        erro_p90_s: percentil(&erros, 0.9),
        vies_p50_s: percentil(&vieses, 0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_sorteio_tem_a_media_pedida() {
        let mut sorteio = Sorteio::novo(7);
        let media = Duration::from_secs(2);
        let total: f64 = (0..20_000)
            .map(|_| sorteio.exponencial(media).as_secs_f64())
            .sum();
        let observada = total / 20_000.0;
        assert!((observada - 2.0).abs() < 0.1, "{observada}");
    }

    #[test]
    fn erros_e_vies_das_amostras() {
        let forma = Forma {
            atendentes: 1,
            clientes: 4,
            atendimento: Duration::from_secs(1),
            ocupacao: 0.9,
        };
        let amostra = |estimativa_s, esperou_fila, espera_s| Amostra {
            estimativa_s,
            esperou_fila,
            espera: Duration::from_secs(espera_s),
        };
        let resultado = resumir(
            forma,
            &[
                amostra(None, false, 0),
                amostra(None, true, 3),
                amostra(Some(10), true, 8),
                amostra(Some(4), true, 7),
            ],
        );
        assert_eq!(resultado.atendidos_na_hora, 1);
        assert_eq!(resultado.sem_estimativa, 1);
        assert_eq!(resultado.com_estimativa, 2);
        // Errors 2 and 3, biases +2 and −3.
        assert_eq!(resultado.erro_p90_s, 3.0);
        assert_eq!(resultado.vies_p50_s, 2.0);
    }
}
