//! What a line typed by a person means: a chat text or a `/` command.

use proto::{Destino, ParaBroker};

/// The commands the apps understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comando {
    /// `/sair`: leave the line or the chat and close the app.
    Sair,
    /// `/fim [N]`: (agents) end chat N, or the one meant by default (the chat in view, or the
    /// one opened last).
    Fim(Option<u64>),
    /// `/transferir [N] DESTINO`: (agents) hand chat N (or the one meant by default) to a
    /// department, or to an agent named with `@`.
    Transferir(Option<u64>, Destino),
    /// `/pausa`: (agents) take no new customer after the current chat.
    Pausa,
    /// `/voltar`: (agents) take customers again.
    Voltar,
    /// `/nota N`: (customers) rate the chat the agent ended, 1 to 5.
    Nota(u8),
    /// `/ajuda`: list the commands.
    Ajuda,
    /// `/limpar`: clear the conversation shown on screen.
    Limpar,
    /// A known command used the wrong way: how to use it.
    Invalido(&'static str),
    /// Anything else starting with `/`.
    Desconhecido(String),
}

impl Comando {
    /// The frame this command sends to the broker (`conversa`: the chat a command without one
    /// is about); `None` for the ones the app handles itself.
    pub fn quadro(&self, conversa: u64) -> Option<ParaBroker> {
        match self {
            Comando::Sair => Some(ParaBroker::Sair { seq: 0 }),
            Comando::Fim(numero) => Some(ParaBroker::Encerrar {
                conversa: numero.unwrap_or(conversa),
                seq: 0,
            }),
            Comando::Transferir(numero, destino) => Some(ParaBroker::Transferir {
                conversa: numero.unwrap_or(conversa),
                destino: destino.clone(),
                seq: 0,
            }),
            Comando::Nota(nota) => Some(ParaBroker::Avaliar {
                conversa,
                nota: *nota,
                seq: 0,
            }),
            Comando::Pausa => Some(ParaBroker::Pausar { seq: 0 }),
            Comando::Voltar => Some(ParaBroker::Voltar { seq: 0 }),
            Comando::Ajuda | Comando::Limpar | Comando::Invalido(_) | Comando::Desconhecido(_) => {
                None
            }
        }
    }
}

/// What the apps say about a command they do not know.
pub fn desconhecido(nome: &str) -> String {
    format!(
        "Comando desconhecido: {}. Digite /ajuda para ver os comandos.",
        crate::exibicao::limpar(nome)
    )
}

/// One line of input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entrada {
    /// Text to send to the partner.
    Mensagem(String),
    /// A command.
    Comando(Comando),
    /// Nothing worth sending (a blank line).
    Vazia,
}

/// Reads a typed line. `atendente` tells whether agent-only commands exist. A line starting
/// with `//` sends the rest, starting with `/`, as plain text.
pub fn interpretar(linha: &str, atendente: bool) -> Entrada {
    let linha = linha.trim_end_matches(['\r', '\n']);
    if linha.trim().is_empty() {
        return Entrada::Vazia;
    }
    if let Some(texto) = linha.strip_prefix("//") {
        return Entrada::Mensagem(format!("/{texto}"));
    }
    let Some(resto) = linha.trim_start().strip_prefix('/') else {
        return Entrada::Mensagem(linha.to_owned());
    };
    let mut palavras = resto.split_whitespace();
    let nome = palavras.next().unwrap_or("").to_lowercase();
    let argumentos: Vec<&str> = palavras.collect();
    let argumento = argumentos.first().copied();
    Entrada::Comando(match nome.as_str() {
        "sair" => Comando::Sair,
        "fim" if atendente => match argumento.map(|n| n.trim_start_matches('#').parse()) {
            None => Comando::Fim(None),
            Some(Ok(numero)) => Comando::Fim(Some(numero)),
            Some(Err(_)) => Comando::Invalido("Uso: /fim, ou /fim N para encerrar a conversa #N."),
        },
        "transferir" if atendente => transferir(&argumentos),
        "nota" if !atendente => match argumento.and_then(nota) {
            Some(nota) => Comando::Nota(nota),
            None => Comando::Invalido("Uso: /nota N, com N de 1 a 5."),
        },
        "pausa" | "pausar" if atendente => Comando::Pausa,
        "voltar" | "retomar" if atendente => Comando::Voltar,
        "ajuda" | "?" => Comando::Ajuda,
        "limpar" => Comando::Limpar,
        _ => Comando::Desconhecido(format!("/{nome}")),
    })
}

/// A grade of 1 to 5, as typed (`4`, ` 5 `).
pub fn nota(texto: &str) -> Option<u8> {
    texto.trim().parse().ok().filter(|n| (1..=5).contains(n))
}

/// `/transferir DESTINO` or `/transferir N DESTINO`: DESTINO is a department, or `@nome` for an
/// agent (a name may have spaces).
fn transferir(argumentos: &[&str]) -> Comando {
    const USO: &str = "Uso: /transferir DEPARTAMENTO, ou /transferir @NOME para um atendente \
                       (/transferir N ... para a conversa #N).";
    let (numero, destino) = match argumentos {
        [primeiro, resto @ ..] if !resto.is_empty() => {
            match primeiro.trim_start_matches('#').parse::<u64>() {
                Ok(numero) => (Some(numero), resto.join(" ")),
                Err(_) => (None, argumentos.join(" ")),
            }
        }
        _ => (None, argumentos.join(" ")),
    };
    let destino = match destino.strip_prefix('@') {
        Some(nome) if !nome.trim().is_empty() => Destino::Atendente(nome.trim().to_owned()),
        Some(_) => return Comando::Invalido(USO),
        None if destino.trim().is_empty() => return Comando::Invalido(USO),
        None => Destino::Departamento(destino),
    };
    Comando::Transferir(numero, destino)
}

/// A line of `--json` input that names its chat: `{"conversa": N, "texto": "..."}`. The text
/// goes as it is (a `/` at its start is text, not a command).
pub fn linha_json(linha: &str) -> Option<(u64, String)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Linha {
        conversa: u64,
        texto: String,
    }
    let linha: Linha = serde_json::from_str(linha.trim()).ok()?;
    Some((linha.conversa, linha.texto))
}

/// The `/ajuda` text for a role.
pub fn ajuda(atendente: bool) -> &'static str {
    if atendente {
        "Comandos: /fim encerra o atendimento em vista (/fim N encerra o #N); /transferir \
         vendas passa-o ao departamento vendas, /transferir @Zoe à atendente Zoe; /pausa deixa de \
         receber novos clientes; /voltar volta a receber; /limpar limpa a tela; /sair sai do \
         sistema; /ajuda mostra esta lista. Alt-1…Alt-9 (pela posição) ou Ctrl-←/→ trocam de \
         conversa, e Alt-0 mostra os avisos. Para \
         enviar um texto que começa com /, use //."
    } else {
        "Comandos: /sair sai da fila ou do atendimento; /nota N dá a nota (de 1 a 5) ao \
         atendimento que terminou; /limpar limpa a tela; /ajuda mostra esta lista. Para enviar \
         um texto que começa com /, use //."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nota_so_de_1_a_5_e_so_para_clientes() {
        assert_eq!(
            interpretar("/nota 4", false),
            Entrada::Comando(Comando::Nota(4))
        );
        for ruim in ["/nota", "/nota 0", "/nota 6", "/nota boa"] {
            assert!(
                matches!(
                    interpretar(ruim, false),
                    Entrada::Comando(Comando::Invalido(_))
                ),
                "{ruim}"
            );
        }
        assert!(matches!(
            interpretar("/nota 4", true),
            Entrada::Comando(Comando::Desconhecido(_))
        ));
        assert_eq!(nota(" 5 "), Some(5));
        assert_eq!(nota("5 estrelas"), None);
    }

    #[test]
    fn textos_e_comandos() {
        assert_eq!(interpretar("olá\n", false), Entrada::Mensagem("olá".into()));
        assert_eq!(interpretar("   \n", false), Entrada::Vazia);
        assert_eq!(interpretar("/sair", false), Entrada::Comando(Comando::Sair));
        assert_eq!(
            interpretar(" /SAIR agora", true),
            Entrada::Comando(Comando::Sair)
        );
        assert_eq!(
            interpretar("/fim", true),
            Entrada::Comando(Comando::Fim(None))
        );
        assert_eq!(
            interpretar("/fim #12", true),
            Entrada::Comando(Comando::Fim(Some(12)))
        );
        assert!(matches!(
            interpretar("/fim Ana", true),
            Entrada::Comando(Comando::Invalido(_))
        ));
        assert_eq!(
            interpretar("/fim", false),
            Entrada::Comando(Comando::Desconhecido("/fim".into()))
        );
        assert_eq!(
            interpretar("/ajuda", false),
            Entrada::Comando(Comando::Ajuda)
        );
        assert_eq!(
            interpretar("/xyz 1", false),
            Entrada::Comando(Comando::Desconhecido("/xyz".into()))
        );
        assert_eq!(
            interpretar("//sair é um comando", false),
            Entrada::Mensagem("/sair é um comando".into())
        );
    }

    #[test]
    fn transferir_para_departamento_ou_atendente() {
        let comando = |linha| match interpretar(linha, true) {
            Entrada::Comando(comando) => comando,
            outra => panic!("{linha}: {outra:?}"),
        };
        assert_eq!(
            comando("/transferir vendas"),
            Comando::Transferir(None, Destino::Departamento("vendas".into()))
        );
        assert_eq!(
            comando("/transferir 3 @Zoe"),
            Comando::Transferir(Some(3), Destino::Atendente("Zoe".into()))
        );
        assert_eq!(
            comando("/transferir @Ana Júlia"),
            Comando::Transferir(None, Destino::Atendente("Ana Júlia".into()))
        );
        assert!(matches!(comando("/transferir"), Comando::Invalido(_)));
        assert!(matches!(comando("/transferir @"), Comando::Invalido(_)));
        assert_eq!(
            comando("/transferir 3 @Zoe").quadro(9),
            Some(ParaBroker::Transferir {
                conversa: 3,
                destino: Destino::Atendente("Zoe".into()),
                seq: 0
            })
        );
    }

    #[test]
    fn linhas_json_dizem_a_conversa() {
        assert_eq!(
            linha_json(r#"{"conversa": 3, "texto": "/fim não é comando"}"#),
            Some((3, "/fim não é comando".into()))
        );
        assert_eq!(linha_json(r#"{"texto": "sem conversa"}"#), None);
        assert_eq!(linha_json("olá"), None);
    }
}
