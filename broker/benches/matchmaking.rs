//! The state machine alone: how many events per second one core applies, on a help desk's mix
//! of joins, pairings, chat lines, endings and position ticks.
//!
//! `cargo bench -p broker --bench matchmaking`; criterion prints the time per round, and the
//! throughput line gives events per second.

use std::hint::black_box;
use std::time::Duration;

use broker::matchmaking::{Evento, Matchmaker, Parametros};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proto::{Apresentacao, ParaBroker};

/// Agents in the desk, customers per round, chat lines per conversation.
const ATENDENTES: u64 = 50;
const CLIENTES: u64 = 1_000;
const LINHAS: u64 = 10;

/// One round: every customer joins (most wait), then each agent in turn chats with its
/// customer and ends it (taking the next), with a tick every 50 events. Returns the events
/// applied.
fn rodada(maquina: &mut Matchmaker, primeira_sessao: u64) -> u64 {
    let mut eventos = 0;
    let mut agora = Duration::ZERO;
    let mut aplicar = |maquina: &mut Matchmaker, evento: Evento, eventos: &mut u64| {
        agora += Duration::from_micros(10);
        let efeitos = maquina.aplicar(evento, agora);
        // The round must exercise the intended path, not error replies.
        debug_assert!(!efeitos.iter().any(|e| matches!(
            e,
            broker::matchmaking::Efeito::Enviar {
                quadro: proto::DoBroker::Erro { .. },
                ..
            }
        )));
        black_box(efeitos);
        *eventos += 1;
        if *eventos % 50 == 0 {
            black_box(maquina.tick(agora));
        }
    };
    let clientes = primeira_sessao..primeira_sessao + CLIENTES;
    for sessao in clientes.clone() {
        let evento = Evento::Entrou {
            sessao,
            apresentacao: Apresentacao::cliente(format!("c{sessao}"), "geral"),
            ficha: ficha(sessao),
        };
        aplicar(maquina, evento, &mut eventos);
    }
    // Agents are sessions 1..=ATENDENTES; on a fresh machine conversations are numbered from 1
    // in pairing order, which is arrival order here.
    for (conversa, sessao) in (1..).zip(clientes) {
        let atendente = 1 + (sessao - primeira_sessao) % ATENDENTES;
        for linha in 0..LINHAS {
            let quem = if linha % 2 == 0 { sessao } else { atendente };
            let quadro = ParaBroker::Mensagem {
                conversa,
                texto: "uma linha de conversa".into(),
                seq: 0,
            };
            aplicar(
                maquina,
                Evento::Recebeu {
                    sessao: quem,
                    quadro,
                },
                &mut eventos,
            );
        }
        let fim = Evento::Recebeu {
            sessao: atendente,
            quadro: ParaBroker::Encerrar { conversa, seq: 0 },
        };
        aplicar(maquina, fim, &mut eventos);
    }
    eventos
}

fn desk(c: &mut Criterion) {
    let eventos_por_rodada = CLIENTES * (1 + LINHAS + 1);
    let mut grupo = c.benchmark_group("matchmaking");
    grupo.throughput(Throughput::Elements(eventos_por_rodada));
    grupo.bench_function("entra_conversa_encerra", |b| {
        b.iter_batched_ref(
            || {
                // As the broker runs by default: sessions can be resumed, so every chat line is
                // also kept until acknowledged.
                let mut maquina = Matchmaker::com_parametros(Parametros {
                    tolerancia: Duration::from_secs(60),
                    ..Parametros::default()
                });
                for sessao in 1..=ATENDENTES {
                    let apresentacao =
                        Apresentacao::atendente(format!("a{sessao}"), vec!["geral".into()], "");
                    maquina.aplicar(
                        Evento::Entrou {
                            sessao,
                            apresentacao,
                            ficha: ficha(sessao),
                        },
                        Duration::ZERO,
                    );
                }
                maquina
            },
            |maquina| {
                let eventos = rodada(maquina, ATENDENTES + 1);
                assert_eq!(eventos, eventos_por_rodada);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    grupo.finish();
}

criterion_group!(benches, desk);
criterion_main!(benches);

/// A distinct, non-zero resume secret per session.
fn ficha(sessao: u64) -> proto::Ficha {
    let mut ficha = [0xff; 16];
    ficha[..8].copy_from_slice(&sessao.to_le_bytes());
    ficha
}
