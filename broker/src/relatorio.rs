//! How `broker conversas` and `broker conversa ID` print the history (and `broker cluster` the
//! clusters on the same database), in Portuguese, with times in the machine's local time zone.
//! Pure text from what [`crate::armazenamento`] read.

use chrono::{DateTime, Local, NaiveDate, TimeZone};

use crate::armazenamento::lideranca::Grupo;
use crate::armazenamento::{Conversa, Mensagem, Transferencia};

/// A stored end reason, as a person reads it.
pub fn descrever_motivo(motivo: Option<&str>) -> &'static str {
    match motivo {
        None => "em andamento",
        Some("cliente_saiu") => "o cliente saiu",
        Some("cliente_desconectou") => "o cliente desconectou",
        Some("atendente_encerrou") => "o atendente encerrou",
        Some("atendente_saiu") => "o atendente saiu",
        Some("atendente_desconectou") => "o atendente desconectou",
        Some("broker_encerrando") => "o broker foi encerrado",
        Some("sem_resposta") => "o atendente não respondeu a tempo",
        Some(_) => "motivo desconhecido",
    }
}

fn local(ms: i64) -> Option<DateTime<Local>> {
    Local.timestamp_millis_opt(ms).single()
}

fn data_e_hora(ms: i64) -> String {
    local(ms).map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn hora(ms: i64) -> String {
    local(ms).map_or_else(|| "?".into(), |t| t.format("%H:%M:%S").to_string())
}

/// A difference of stored times in milliseconds, as [`cli::duracao`] says it (a negative one,
/// from a clock set back, as zero).
pub fn duracao(ms: i64) -> String {
    cli::duracao(u64::try_from(ms).unwrap_or(0))
}

/// One line of `broker cluster`: a cluster, its active (or last active) and how long ago it
/// was last heard from; one silent for longer than `prazo_ms` is said to be so.
pub fn linha_do_cluster(grupo: &Grupo, prazo_ms: i64) -> String {
    let silencio = grupo.silencio_ms;
    let estado = if silencio > prazo_ms {
        format!("sem sinal há {}: nenhum ativo agora", duracao(silencio))
    } else {
        format!("último sinal há {}", duracao(silencio))
    };
    format!(
        "{}: época {}, ativo {} desde {}; {estado}",
        grupo.grupo,
        grupo.epoca,
        grupo.ativo,
        data_e_hora(grupo.desde)
    )
}

/// One line of `broker conversas`.
pub fn linha(conversa: &Conversa) -> String {
    let duracao = conversa.encerrada_em.map_or_else(String::new, |fim| {
        format!(", {}", duracao(fim - conversa.conectada_em))
    });
    let mensagens = match conversa.mensagens {
        1 => "1 mensagem".to_owned(),
        n => format!("{n} mensagens"),
    };
    let nota = conversa
        .nota
        .map_or_else(String::new, |nota| format!("; nota {nota}"));
    format!(
        "#{}  {}  {}: {} com {}  ({mensagens}{duracao}; {}{nota})",
        conversa.id,
        data_e_hora(conversa.conectada_em),
        conversa.departamento,
        conversa.cliente,
        conversa.atendente,
        descrever_motivo(conversa.motivo.as_deref()),
    )
}

/// The transcript printed by `broker conversa ID`: the lines, with the transfers among them.
pub fn transcricao(
    conversa: &Conversa,
    mensagens: &[Mensagem],
    transferencias: &[Transferencia],
) -> String {
    let mut texto = format!(
        "Conversa #{} · departamento {}\nCliente: {} · Atendente: {}\n\
         Entrou na fila: {} · Início: {} (esperou {})\n",
        conversa.id,
        conversa.departamento,
        conversa.cliente,
        conversa.atendente,
        data_e_hora(conversa.entrou_em),
        hora(conversa.conectada_em),
        duracao(conversa.conectada_em - conversa.entrou_em),
    );
    match conversa.encerrada_em {
        Some(fim) => {
            texto += &format!(
                "Fim: {} ({}; durou {})\n",
                hora(fim),
                descrever_motivo(conversa.motivo.as_deref()),
                duracao(fim - conversa.conectada_em),
            );
        }
        None => texto += "Em andamento.\n",
    }
    if let Some(nota) = conversa.nota {
        texto += &format!("Nota do cliente: {nota} de 5\n");
    }
    texto += "\n";
    if mensagens.is_empty() {
        texto += "(nenhuma mensagem)\n";
    }
    let mut linhas: Vec<(i64, String)> = mensagens
        .iter()
        .map(|m| {
            // What the customer wrote while it waited came before the chat started.
            let na_fila = if m.enviada_em < conversa.conectada_em {
                " (escrito na fila)"
            } else {
                ""
            };
            (m.enviada_em, format!("{}{na_fila}: {}", m.autor, m.texto))
        })
        .collect();
    for t in transferencias {
        let passagem = if t.sem_resposta != 0 {
            format!(
                "— {} não respondeu a tempo; a conversa voltou para a fila de {}",
                t.de, t.para
            )
        } else {
            format!("— {} transferiu a conversa para {}", t.de, t.para)
        };
        linhas.push((t.em, passagem));
        if let (Some(quem), Some(em)) = (&t.assumida_por, t.assumida_em) {
            linhas.push((em, format!("— {quem} assumiu a conversa")));
        }
    }
    // Stable: lines keep their order within a millisecond.
    linhas.sort_by_key(|&(em, _)| em);
    for (em, linha) in linhas {
        texto += &format!("{} {linha}\n", hora(em));
    }
    texto
}

/// A date given as AAAA-MM-DD, as milliseconds since the epoch at local midnight.
pub fn inicio_do_dia(data: &str) -> Result<i64, String> {
    let dia = NaiveDate::parse_from_str(data.trim(), "%Y-%m-%d")
        .map_err(|_| format!("data inválida: {data:?} (use AAAA-MM-DD)"))?;
    let meia_noite = dia
        .and_hms_opt(0, 0, 0)
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .ok_or_else(|| format!("data inválida: {data:?}"))?;
    Ok(meia_noite.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversa() -> Conversa {
        let inicio = inicio_do_dia("2026-11-22").expect("valid date");
        Conversa {
            id: 7,
            departamento: "vendas".into(),
            cliente: "Ana".into(),
            atendente: "Yuri".into(),
            entrou_em: inicio,
            conectada_em: inicio + 12_000,
            encerrada_em: Some(inicio + 12_000 + 185_000),
            motivo: Some("cliente_saiu".into()),
            mensagens: 2,
            nota: None,
        }
    }

    #[test]
    fn duracoes_legiveis() {
        assert_eq!(duracao(999), "0 s");
        assert_eq!(duracao(45_000), "45 s");
        assert_eq!(duracao(185_000), "3 min 5 s");
        assert_eq!(duracao(7_800_000), "2 h 10 min");
    }

    #[test]
    fn linha_da_listagem() {
        assert_eq!(
            linha(&conversa()),
            "#7  2026-11-22 00:00:12  vendas: Ana com Yuri  (2 mensagens, 3 min 5 s; o cliente saiu)"
        );
        let uma = Conversa {
            mensagens: 1,
            encerrada_em: None,
            motivo: None,
            ..conversa()
        };
        assert_eq!(
            linha(&uma),
            "#7  2026-11-22 00:00:12  vendas: Ana com Yuri  (1 mensagem; em andamento)"
        );
    }

    #[test]
    fn transcricao_com_cabecalho_e_linhas() {
        let c = conversa();
        let mensagens = [
            Mensagem {
                seq: 1,
                papel: "cliente".into(),
                autor: "Ana".into(),
                texto: "olá".into(),
                enviada_em: c.conectada_em + 1_000,
            },
            Mensagem {
                seq: 2,
                papel: "atendente".into(),
                autor: "Yuri".into(),
                texto: "bom dia!".into(),
                enviada_em: c.conectada_em + 2_000,
            },
        ];
        assert_eq!(
            transcricao(&c, &mensagens, &[]),
            "Conversa #7 · departamento vendas\nCliente: Ana · Atendente: Yuri\n\
             Entrou na fila: 2026-11-22 00:00:00 · Início: 00:00:12 (esperou 12 s)\n\
             Fim: 00:03:17 (o cliente saiu; durou 3 min 5 s)\n\n\
             00:00:13 Ana: olá\n00:00:14 Yuri: bom dia!\n"
        );
        let transferencia = Transferencia {
            de: "Yuri".into(),
            para: "suporte".into(),
            em: c.conectada_em + 1_500,
            sem_resposta: 0,
            assumida_por: Some("Zoe".into()),
            assumida_em: Some(c.conectada_em + 1_800),
        };
        assert!(transcricao(&c, &mensagens, &[transferencia]).ends_with(
            "00:00:13 Ana: olá\n00:00:13 — Yuri transferiu a conversa para suporte\n\
                 00:00:13 — Zoe assumiu a conversa\n00:00:14 Yuri: bom dia!\n"
        ));
    }

    #[test]
    fn datas_invalidas_sao_recusadas() {
        assert!(inicio_do_dia("22/11/2026").is_err());
        assert!(inicio_do_dia("2026-13-01").is_err());
    }

    #[test]
    fn um_cluster_com_e_sem_sinal() {
        let grupo = Grupo {
            grupo: "loja".into(),
            epoca: 3,
            ativo: "a (pid 7), protocolo 10.0.0.1:7878".into(),
            desde: 1_000_000,
            silencio_ms: 400,
        };
        let vivo = linha_do_cluster(&grupo, 5_000);
        assert!(vivo.starts_with("loja: época 3, ativo a (pid 7)"), "{vivo}");
        assert!(vivo.contains("último sinal há"), "{vivo}");
        let calado = linha_do_cluster(
            &Grupo {
                silencio_ms: 60_000,
                ..grupo
            },
            5_000,
        );
        assert!(calado.contains("nenhum ativo agora"), "{calado}");
    }
}
