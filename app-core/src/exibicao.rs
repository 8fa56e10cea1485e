//! How broker events are shown: a Portuguese sentence per event for people, or one JSON object
//! per event for scripts (`--json`).

use chrono::TimeZone;
use proto::{Anterior, CodigoErro, DoBroker, Fala, Ligacao, MotivoFim, SessaoId};
use serde::Serialize;

/// One event as a line of JSON, with an `"evento"` key naming it.
#[derive(Debug, Serialize)]
#[serde(tag = "evento", rename_all = "lowercase")]
enum EventoJson<'a> {
    /// The broker accepted the handshake.
    Bemvindo {
        /// The session id.
        sessao: SessaoId,
        /// How many chats the broker gives this session at once.
        capacidade: u8,
    },
    /// Place in line.
    Fila {
        /// 1-based position.
        posicao: u32,
        /// Agents of the department connected and not paused (0: nobody to answer now).
        atendentes: u32,
        /// The estimated wait in seconds, or `null` when it cannot be known.
        estimativa_s: Option<u32>,
    },
    /// A chat started.
    Conectado {
        /// The partner's name.
        com: &'a str,
        /// The conversation id.
        conversa: u64,
        /// The customer's department.
        departamento: &'a str,
        /// How long the customer waited, in milliseconds.
        espera_ms: u64,
    },
    /// A chat line from the partner.
    Mensagem {
        /// The chat it belongs to.
        conversa: u64,
        /// The partner's name.
        de: &'a str,
        /// The text.
        texto: &'a str,
    },
    /// A chat or the session ended.
    Fim {
        /// The chat that ended; `null` when the session itself ends outside any chat.
        conversa: Option<u64>,
        /// Why, in snake_case.
        motivo: MotivoFim,
    },
    /// An error from the broker.
    Erro {
        /// The error code, in snake_case.
        codigo: CodigoErro,
        /// The broker's explanation.
        texto: &'a str,
    },
    /// (Agents) customers waiting in the agent's departments.
    Espera {
        /// How many.
        clientes: u32,
    },
    /// (Agents) paused or not.
    Pausa {
        /// Whether the agent is paused now.
        pausado: bool,
    },
    /// A heartbeat (the client handle answers these itself; never shown in practice).
    Ping,
    /// The broker accepted this person's chat lines up to `seq`.
    Confirmada {
        /// The highest accepted line number.
        seq: u64,
    },
    /// The partner's connection dropped (the broker waits for it) or came back.
    Parceiro {
        /// The chat whose other side this is about.
        conversa: u64,
        /// Whether the partner is connected now.
        conectado: bool,
    },
    /// The connection dropped; the app is reconnecting to resume the session.
    Reconectando,
    /// The session was resumed on a new connection.
    Retomada,
    /// (Customers) the chat was handed over.
    Transferido {
        /// The chat.
        conversa: u64,
        /// The department or agent it went to.
        para: &'a str,
    },
    /// (Agents) the lines so far of a chat another agent handed over.
    Transcricao {
        /// The chat.
        conversa: u64,
        /// Earlier lines left out.
        omitidas: u64,
        /// The lines, oldest first.
        falas: &'a [Fala],
    },
    /// The departments the broker serves (empty: any name).
    Departamentos {
        /// Their names; the first is the default.
        nomes: &'a [String],
    },
    /// (Customers) the agent ended the chat: rate it with `/nota N` within `prazo_s` seconds.
    Avaliacao {
        /// The chat to rate.
        conversa: u64,
        /// Seconds left to answer.
        prazo_s: u32,
    },
    /// (Supervisors only; the apps never get it) the broker's panel.
    Painel(&'a proto::Painel),
    /// (Agents) what the customer wrote while it waited, right after `conectado`.
    #[serde(rename = "na_espera")]
    NaEspera {
        /// The chat.
        conversa: u64,
        /// The lines, oldest first.
        textos: &'a [String],
    },
    /// (Agents) the customer's earlier conversations.
    Anteriores {
        /// The chat this is about.
        conversa: u64,
        /// Newest first.
        conversas: &'a [Anterior],
    },
}

/// The JSON line for an event.
pub fn json(evento: &DoBroker) -> String {
    let evento = match evento {
        DoBroker::BemVindo {
            sessao, capacidade, ..
        } => EventoJson::Bemvindo {
            sessao: *sessao,
            capacidade: *capacidade,
        },
        DoBroker::Ping => EventoJson::Ping,
        DoBroker::Fila {
            posicao,
            atendentes,
            estimativa_s,
        } => EventoJson::Fila {
            posicao: *posicao,
            atendentes: *atendentes,
            estimativa_s: *estimativa_s,
        },
        DoBroker::Departamentos { nomes } => EventoJson::Departamentos { nomes },
        DoBroker::NaEspera { conversa, textos } => EventoJson::NaEspera {
            conversa: *conversa,
            textos,
        },
        DoBroker::Avaliacao { conversa, prazo_s } => EventoJson::Avaliacao {
            conversa: *conversa,
            prazo_s: *prazo_s,
        },
        DoBroker::Painel(painel) => EventoJson::Painel(painel),
        DoBroker::Conectado {
            com,
            conversa,
            departamento,
            espera_ms,
        } => EventoJson::Conectado {
            com,
            conversa: *conversa,
            departamento,
            espera_ms: *espera_ms,
        },
        DoBroker::Mensagem {
            conversa,
            de,
            texto,
        } => EventoJson::Mensagem {
            conversa: *conversa,
            de,
            texto,
        },
        DoBroker::Fim { conversa, motivo } => EventoJson::Fim {
            conversa: (*conversa != 0).then_some(*conversa),
            motivo: *motivo,
        },
        DoBroker::Erro { codigo, texto } => EventoJson::Erro {
            codigo: *codigo,
            texto,
        },
        DoBroker::Espera { clientes } => EventoJson::Espera {
            clientes: *clientes,
        },
        DoBroker::Pausa { pausado } => EventoJson::Pausa { pausado: *pausado },
        DoBroker::Anteriores {
            conversa,
            conversas,
        } => EventoJson::Anteriores {
            conversa: *conversa,
            conversas,
        },
        DoBroker::Confirmada { seq } => EventoJson::Confirmada { seq: *seq },
        DoBroker::Transferido { conversa, para } => EventoJson::Transferido {
            conversa: *conversa,
            para,
        },
        DoBroker::Transcricao {
            conversa,
            omitidas,
            falas,
        } => EventoJson::Transcricao {
            conversa: *conversa,
            omitidas: *omitidas,
            falas,
        },
        DoBroker::Parceiro {
            conversa,
            conectado,
        } => EventoJson::Parceiro {
            conversa: *conversa,
            conectado: *conectado,
        },
    };
    serde_json::to_string(&evento).expect("these events always serialize")
}

/// The JSON line for a change of the link to the broker, if it is one to tell.
pub fn json_da_ligacao(ligacao: Ligacao) -> Option<String> {
    let evento = match ligacao {
        Ligacao::Conectada => return None,
        Ligacao::Reconectando => EventoJson::Reconectando,
        Ligacao::Retomada => EventoJson::Retomada,
    };
    Some(serde_json::to_string(&evento).expect("these events always serialize"))
}

/// The sentence a person reads for a change of the link to the broker, if it is one to tell.
pub fn texto_da_ligacao(ligacao: Ligacao) -> Option<&'static str> {
    match ligacao {
        Ligacao::Conectada => None,
        Ligacao::Reconectando => Some(
            "*** A conexão caiu. Reconectando para retomar a sessão (o que você digitar será \
             enviado ao voltar)... ***",
        ),
        Ligacao::Retomada => Some("*** Conexão retomada: a sessão continua de onde parou. ***"),
    }
}

/// The sentence a person reads for an event. `atendente` picks the agent's point of view.
pub fn texto(evento: &DoBroker, atendente: bool) -> String {
    match evento {
        DoBroker::BemVindo { .. } if atendente => {
            "Você está online. Aguardando clientes...".to_owned()
        }
        DoBroker::BemVindo { .. } => "Conectado. Procurando um atendente...".to_owned(),
        DoBroker::Fila {
            posicao,
            atendentes,
            estimativa_s,
        } => fila(*posicao, *atendentes, *estimativa_s, None),
        DoBroker::Departamentos { nomes } if nomes.is_empty() => {
            "O broker aceita qualquer departamento.".to_owned()
        }
        DoBroker::Departamentos { nomes } => {
            let nomes: Vec<String> = nomes.iter().map(|n| limpar(n)).collect();
            format!("Departamentos: {}.", nomes.join(", "))
        }
        DoBroker::NaEspera { conversa, textos } => {
            let prefixo = format!("[#{conversa}, escrito na espera] ");
            let recuo = " ".repeat(prefixo.chars().count());
            let linhas: Vec<String> = textos
                .iter()
                .map(|texto| format!("{prefixo}{}", limpar(texto).replace('\n', &format!("\n{recuo}"))))
                .collect();
            linhas.join("\n")
        }
        DoBroker::Conectado {
            com,
            conversa,
            departamento,
            espera_ms,
        } if atendente => format!(
            "*** Atendimento #{conversa} iniciado: cliente {} ({}, esperou {}). ***",
            limpar(com),
            limpar(departamento),
            duracao(*espera_ms)
        ),
        DoBroker::Conectado { com, conversa, .. } => format!(
            "*** Atendimento #{conversa} iniciado: você está falando com {}. ***",
            limpar(com)
        ),
        DoBroker::Mensagem {
            conversa, de, texto,
        } => {
            // An agent may be in several chats: its lines say which.
            let prefixo = if atendente {
                format!("[#{conversa} {}] ", limpar(de))
            } else {
                format!("[{}] ", limpar(de))
            };
            let recuo = " ".repeat(prefixo.chars().count());
            let corpo = limpar(texto).replace('\n', &format!("\n{recuo}"));
            format!("{prefixo}{corpo}")
        }
        DoBroker::Fim { conversa, motivo } if atendente && *conversa != 0 => {
            format!("*** #{conversa}: {} ***", fim(*motivo, atendente))
        }
        // After the rating (or its time), the session's own end.
        DoBroker::Fim {
            conversa: 0,
            motivo: MotivoFim::AtendenteEncerrou,
        } if !atendente => "*** Atendimento encerrado. Até logo! ***".to_owned(),
        DoBroker::Fim { motivo, .. } => format!("*** {} ***", fim(*motivo, atendente)),
        DoBroker::Avaliacao { .. } => PEDIDO_DE_NOTA.to_owned(),
        DoBroker::Painel(_) => "(painel do supervisor)".to_owned(),
        DoBroker::Erro { texto, .. } => format!("Erro: {}", limpar(texto)),
        DoBroker::Espera { clientes: 0 } => "Nenhum cliente na fila.".to_owned(),
        DoBroker::Espera { clientes: 1 } => "1 cliente na fila.".to_owned(),
        DoBroker::Espera { clientes } => format!("{clientes} clientes na fila."),
        DoBroker::Pausa { pausado: true } => {
            "Pausa: você não receberá novos clientes até digitar /voltar.".to_owned()
        }
        DoBroker::Pausa { pausado: false } => "Você voltou a receber clientes.".to_owned(),
        DoBroker::Ping => "Ping do broker.".to_owned(),
        DoBroker::Confirmada { seq } => format!("O broker recebeu sua mensagem {seq}."),
        DoBroker::Parceiro {
            conversa,
            conectado: false,
        } if atendente => format!(
            "*** #{conversa}: a conexão do cliente caiu. A conversa continua aberta enquanto ele \
             tenta voltar. ***"
        ),
        DoBroker::Parceiro {
            conectado: false, ..
        } => {
            "*** A conexão do atendente caiu. A conversa continua aberta enquanto ele tenta voltar. ***"
                .to_owned()
        }
        DoBroker::Parceiro {
            conversa,
            conectado: true,
        } if atendente => format!("*** #{conversa}: o cliente voltou. ***"),
        DoBroker::Parceiro {
            conectado: true, ..
        } => "*** O atendente voltou. ***".to_owned(),
        DoBroker::Transferido { para, .. } => format!(
            "*** Sua conversa foi transferida para {}. ***",
            limpar(para)
        ),
        DoBroker::Transcricao {
            conversa,
            omitidas,
            falas,
        } => transcricao(*conversa, *omitidas, falas),
        DoBroker::Anteriores { conversas, .. } if conversas.is_empty() => {
            "Primeiro atendimento deste cliente.".to_owned()
        }
        DoBroker::Anteriores { conversas, .. } => {
            let mut texto = "Atendimentos anteriores deste cliente:".to_owned();
            for anterior in conversas {
                texto += &format!("\n  {}", anterior_em_texto(anterior));
            }
            texto
        }
    }
}

/// What a customer is asked when its agent ends the chat.
pub const PEDIDO_DE_NOTA: &str = "Como foi o atendimento? Dê uma nota de 1 a 5 (digite o \
     número, ou /nota N; /sair sai sem avaliar).";

/// The sentence for a `Fila`: the place, then nobody online (naming the department, when
/// known) or the estimate.
pub fn fila(
    posicao: u32,
    atendentes: u32,
    estimativa_s: Option<u32>,
    departamento: Option<&str>,
) -> String {
    let lugar = lugar_na_fila(posicao);
    match (atendentes, estimativa_s) {
        (0, _) => format!("{lugar}. {}", ninguem_online(departamento)),
        (_, Some(segundos)) => format!("{lugar}. Espera estimada: {}.", estimativa(segundos)),
        (_, None) => format!("{lugar}."),
    }
}

/// "Você é o número 3 na fila", or "o próximo" for the first.
pub fn lugar_na_fila(posicao: u32) -> String {
    match posicao {
        1 => "Você é o próximo da fila".to_owned(),
        n => format!("Você é o número {n} na fila"),
    }
}

/// What a customer is told when no agent of its department can answer now.
pub fn ninguem_online(departamento: Option<&str>) -> String {
    match departamento {
        Some(departamento) => format!(
            "Nenhum atendente online em {} no momento; você continua na fila.",
            limpar(departamento)
        ),
        None => "Nenhum atendente online no momento; você continua na fila.".to_owned(),
    }
}

/// A wait estimate in words: "cerca de 4 min", "menos de 1 min", "cerca de 1 h 20 min".
pub fn estimativa(segundos: u32) -> String {
    let minutos = segundos.div_ceil(60);
    match minutos {
        0 | 1 if segundos < 60 => "menos de 1 min".to_owned(),
        m if m < 60 => format!("cerca de {m} min"),
        m if m % 60 == 0 => format!("cerca de {} h", m / 60),
        m => format!("cerca de {} h {} min", m / 60, m % 60),
    }
}

/// One earlier conversation in a line: "#4, 20/11 14:02, geral, com Yuri: 6 mensagens (o
/// cliente saiu)".
fn anterior_em_texto(anterior: &Anterior) -> String {
    let quando = i64::try_from(anterior.inicio_ms)
        .ok()
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map_or_else(|| "?".to_owned(), |t| t.format("%d/%m %H:%M").to_string());
    let motivo = match anterior.motivo {
        Some(MotivoFim::ClienteSaiu) => "o cliente saiu",
        Some(MotivoFim::ClienteDesconectou) => "a conexão do cliente caiu",
        Some(MotivoFim::AtendenteEncerrou) => "o atendente encerrou",
        Some(MotivoFim::AtendenteSaiu) => "o atendente saiu",
        Some(MotivoFim::AtendenteDesconectou) => "a conexão do atendente caiu",
        Some(MotivoFim::BrokerEncerrando) => "o broker foi desligado",
        Some(MotivoFim::SemResposta) => "o atendente não respondeu a tempo",
        Some(MotivoFim::Transferido) => "transferida",
        None => "fim não registrado",
    };
    let mensagens = match anterior.mensagens {
        1 => "1 mensagem".to_owned(),
        n => format!("{n} mensagens"),
    };
    format!(
        "#{}, {quando}, {}, com {}: {mensagens} ({motivo})",
        anterior.conversa,
        limpar(&anterior.departamento),
        limpar(&anterior.atendente),
    )
}

/// A handed-over chat's lines so far, one per line after a heading.
fn transcricao(conversa: u64, omitidas: u64, falas: &[Fala]) -> String {
    let mut texto = format!("*** #{conversa}: a conversa até aqui ***");
    if omitidas > 0 {
        texto.push_str(&format!("\n({omitidas} linhas anteriores omitidas)"));
    }
    for fala in falas {
        texto.push_str(&format!("\n[{}] {}", limpar(&fala.de), limpar(&fala.texto)));
    }
    texto
}

/// A wait as people say it: "40 s", "3 min 5 s", "1 h 2 min".
pub use cli::duracao;

/// Why a chat ended, from one side's point of view.
pub fn fim(motivo: MotivoFim, atendente: bool) -> &'static str {
    match (motivo, atendente) {
        (MotivoFim::ClienteSaiu, true) => {
            "O cliente encerrou o atendimento. Aguardando o próximo cliente..."
        }
        (MotivoFim::ClienteSaiu, false) => "Você saiu. Até logo!",
        (MotivoFim::ClienteDesconectou, _) => {
            "A conexão do cliente caiu. Aguardando o próximo cliente..."
        }
        (MotivoFim::AtendenteEncerrou, true) => {
            "Atendimento encerrado. Aguardando o próximo cliente..."
        }
        (MotivoFim::AtendenteEncerrou, false) => "O atendente encerrou o atendimento.",
        (MotivoFim::AtendenteSaiu, true) => "Você saiu. Até logo!",
        (MotivoFim::AtendenteSaiu, false) => {
            "O atendente saiu. Você voltou para a fila, no lugar da sua chegada."
        }
        (MotivoFim::AtendenteDesconectou, _) => {
            "A conexão do atendente caiu. Você voltou para a fila, no lugar da sua chegada."
        }
        (MotivoFim::BrokerEncerrando, _) => "O broker está sendo desligado. Até logo!",
        (MotivoFim::Transferido, _) => "Conversa transferida.",
        (MotivoFim::SemResposta, _) => {
            "Você não respondeu a tempo: o cliente voltou para o lugar dele na fila, e você \
             entrou em pausa (/voltar para receber clientes)."
        }
    }
}

/// Replaces control characters (other than line breaks and tabs) so that nothing received can
/// move the cursor, change colours or otherwise take over the terminal.
pub fn limpar(texto: &str) -> String {
    texto
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_dos_eventos() {
        assert_eq!(
            json(&DoBroker::Fila {
                posicao: 2,
                atendentes: 1,
                estimativa_s: None
            }),
            r#"{"evento":"fila","posicao":2,"atendentes":1,"estimativa_s":null}"#
        );
        assert_eq!(
            json(&DoBroker::Fila {
                posicao: 3,
                atendentes: 2,
                estimativa_s: Some(240)
            }),
            r#"{"evento":"fila","posicao":3,"atendentes":2,"estimativa_s":240}"#
        );
        assert_eq!(
            json(&DoBroker::Departamentos {
                nomes: vec!["geral".into(), "vendas".into()]
            }),
            r#"{"evento":"departamentos","nomes":["geral","vendas"]}"#
        );
        assert_eq!(
            json(&DoBroker::NaEspera {
                conversa: 4,
                textos: vec!["oi".into(), "meu pedido".into()]
            }),
            r#"{"evento":"na_espera","conversa":4,"textos":["oi","meu pedido"]}"#
        );
        assert_eq!(
            json(&DoBroker::Conectado {
                com: "Yuri".into(),
                conversa: 3,
                departamento: "geral".into(),
                espera_ms: 1500,
            }),
            r#"{"evento":"conectado","com":"Yuri","conversa":3,"departamento":"geral","espera_ms":1500}"#
        );
        assert_eq!(
            json(&DoBroker::Mensagem {
                conversa: 1,
                de: "Ana".into(),
                texto: "olá \"você\"".into()
            }),
            r#"{"evento":"mensagem","conversa":1,"de":"Ana","texto":"olá \"você\""}"#
        );
        assert_eq!(
            json(&DoBroker::Fim {
                conversa: 1,
                motivo: MotivoFim::AtendenteDesconectou
            }),
            r#"{"evento":"fim","conversa":1,"motivo":"atendente_desconectou"}"#
        );
        assert_eq!(
            json(&DoBroker::Fim {
                conversa: 0,
                motivo: MotivoFim::BrokerEncerrando
            }),
            r#"{"evento":"fim","conversa":null,"motivo":"broker_encerrando"}"#
        );
        assert_eq!(
            json(&DoBroker::Parceiro {
                conversa: 4,
                conectado: false
            }),
            r#"{"evento":"parceiro","conversa":4,"conectado":false}"#
        );
        assert_eq!(
            json(&DoBroker::erro(CodigoErro::SemConversa)),
            r#"{"evento":"erro","codigo":"sem_conversa","texto":"você não está em uma conversa"}"#
        );
        assert_eq!(
            json(&DoBroker::BemVindo {
                sessao: 9,
                batimento_ms: 15_000,
                ficha: [0; 16],
                tolerancia_ms: 0,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo: 10,
                rajada: 20,
                capacidade: 3,
            }),
            r#"{"evento":"bemvindo","sessao":9,"capacidade":3}"#
        );
    }

    #[test]
    fn texto_para_pessoas() {
        assert_eq!(
            texto(
                &DoBroker::Fila {
                    posicao: 3,
                    atendentes: 1,
                    estimativa_s: None
                },
                false
            ),
            "Você é o número 3 na fila."
        );
        assert_eq!(
            texto(
                &DoBroker::Mensagem {
                    conversa: 1,
                    de: "Ana".into(),
                    texto: "oi\ntudo bem?".into()
                },
                true
            ),
            "[#1 Ana] oi\n         tudo bem?"
        );
        assert_eq!(
            texto(
                &DoBroker::Mensagem {
                    conversa: 1,
                    de: "Yuri".into(),
                    texto: "oi".into()
                },
                false
            ),
            "[Yuri] oi"
        );
    }

    #[test]
    fn atendimentos_anteriores() {
        let inicio_ms = chrono::Local
            .with_ymd_and_hms(2026, 11, 20, 14, 2, 0)
            .single()
            .expect("a valid local time")
            .timestamp_millis() as u64;
        let anteriores = DoBroker::Anteriores {
            conversa: 9,
            conversas: vec![Anterior {
                conversa: 4,
                inicio_ms,
                departamento: "geral".into(),
                atendente: "Yuri".into(),
                motivo: Some(MotivoFim::ClienteSaiu),
                mensagens: 6,
            }],
        };
        assert_eq!(
            texto(&anteriores, true),
            "Atendimentos anteriores deste cliente:\n  #4, 20/11 14:02, geral, com Yuri: 6 mensagens (o cliente saiu)"
        );
        assert_eq!(
            json(&anteriores),
            format!(
                r#"{{"evento":"anteriores","conversa":9,"conversas":[{{"conversa":4,"inicio_ms":{inicio_ms},"departamento":"geral","atendente":"Yuri","motivo":"cliente_saiu","mensagens":6}}]}}"#
            )
        );
        let nenhum = DoBroker::Anteriores {
            conversa: 9,
            conversas: vec![],
        };
        assert_eq!(texto(&nenhum, true), "Primeiro atendimento deste cliente.");
    }

    #[test]
    fn duracoes() {
        assert_eq!(duracao(999), "0 s");
        assert_eq!(duracao(59_999), "59 s");
        assert_eq!(duracao(185_000), "3 min 5 s");
        assert_eq!(duracao(3_720_000), "1 h 2 min");
    }

    #[test]
    fn sequencias_de_escape_nao_chegam_ao_terminal() {
        assert_eq!(limpar("a\u{1b}[2Jb\tc"), "a\u{FFFD}[2Jb\tc");
    }
}
