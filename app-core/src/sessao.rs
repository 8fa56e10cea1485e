//! The session loop both apps run: connect, then show broker events and send what is typed,
//! until the session ends.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use proto::{
    Apresentacao, CodigoErro, Conexao, DoBroker, ErroConexao, NA_ESPERA_MAXIMO, Papel, ParaBroker,
    VERSAO_PROTOCOLO,
};

use crate::comando::{Comando, Entrada, ajuda, desconhecido, interpretar, linha_json, nota};
use crate::exibicao;
use crate::terminal::{Linha, Terminal};

/// What `--json` says of a line that starts like an object but is not a chat line's.
const LINHA_JSON_INVALIDA: &str = "Linha JSON inválida, não enviada: use {\"conversa\": N, \"texto\": \"...\"} \
     (N, o número da conversa; para um texto que começa com {, escreva-o nesse formato).";

/// After asking to leave, how long to wait for the broker's goodbye before closing anyway.
const PRAZO_DESPEDIDA: Duration = Duration::from_secs(5);

/// Everything a session needs to start.
#[derive(Debug, Clone)]
pub struct Opcoes {
    /// The broker's address (`host:porta`).
    pub servidor: String,
    /// The person's name (already validated).
    pub nome: String,
    /// Customer or agent, with department(s).
    pub papel: Papel,
    /// Print events as JSON lines instead of sentences.
    pub json: bool,
    /// The agent credential (agents only).
    pub token: Option<String>,
    /// Whether to connect with TLS.
    pub tls: bool,
    /// The CA certificate to trust for TLS (else the public roots).
    pub ca: Option<PathBuf>,
}

/// Connects and performs the handshake.
pub async fn abrir(opcoes: &Opcoes) -> Result<Conexao, ErroConexao> {
    let apresentacao = Apresentacao {
        versao: VERSAO_PROTOCOLO,
        nome: opcoes.nome.clone(),
        papel: opcoes.papel.clone(),
        token: opcoes.token.clone(),
        retomar: None,
    };
    if opcoes.tls {
        Conexao::conectar_tls(&opcoes.servidor, opcoes.ca.as_deref(), apresentacao).await
    } else {
        Conexao::conectar_em(&opcoes.servidor, apresentacao).await
    }
}

/// Connects and performs the handshake, explaining any failure in Portuguese on stderr (and,
/// for a refusal in `--json` mode, as an `erro` event on stdout).
pub async fn conectar(opcoes: &Opcoes) -> Result<Conexao, ExitCode> {
    match abrir(opcoes).await {
        Ok(conexao) => Ok(conexao),
        Err(ErroConexao::Recusada { codigo, texto, .. }) => {
            if opcoes.json {
                println!(
                    "{}",
                    exibicao::json(&DoBroker::Erro {
                        codigo,
                        texto: texto.clone()
                    })
                );
            }
            eprintln!("O broker recusou a conexão: {}.", exibicao::limpar(&texto));
            if codigo == CodigoErro::NaoAutorizado {
                eprintln!(
                    "Informe o token de atendente com --token ou na variável FILA_TOKEN \
                     (o broker mostra onde ele está na primeira execução)."
                );
            }
            Err(ExitCode::FAILURE)
        }
        Err(erro) => {
            eprintln!(
                "Não foi possível conectar ao broker em {}: {}",
                opcoes.servidor,
                explicar(&erro)
            );
            Err(ExitCode::FAILURE)
        }
    }
}

/// The departments the broker serves (empty: any name), asked with a handshake that names
/// none: the broker answers such a handshake with its list and a refusal. `None` if the broker
/// cannot be reached or does not answer so; the session's own connection then says why.
pub async fn consultar_departamentos(opcoes: &Opcoes) -> Option<Vec<String>> {
    let pergunta = Opcoes {
        papel: Papel::Cliente {
            departamento: String::new(),
        },
        ..opcoes.clone()
    };
    match abrir(&pergunta).await {
        Err(ErroConexao::Recusada {
            codigo: CodigoErro::DepartamentoInvalido,
            departamentos,
            ..
        }) => Some(departamentos),
        _ => None,
    }
}

/// A connection failure in words a person understands.
pub fn explicar(erro: &ErroConexao) -> String {
    match erro {
        ErroConexao::Recusada { texto, .. } => exibicao::limpar(texto),
        ErroConexao::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => {
                "nenhum broker está ouvindo nesse endereço (ele está rodando?)".to_owned()
            }
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => {
                "a conexão foi interrompida".to_owned()
            }
            io::ErrorKind::TimedOut => "o broker não respondeu a tempo".to_owned(),
            io::ErrorKind::InvalidInput | io::ErrorKind::NotFound => {
                "endereço inválido (use host:porta, por exemplo 127.0.0.1:7878)".to_owned()
            }
            _ => format!("falha de rede ({io})"),
        },
        outro => outro.to_string(),
    }
}

/// Runs an accepted session to its end and tells how the app should exit.
pub async fn conduzir(conexao: Conexao, opcoes: &Opcoes, terminal: &mut Terminal) -> ExitCode {
    let atendente = matches!(opcoes.papel, Papel::Atendente { .. });
    let departamento = match &opcoes.papel {
        Papel::Cliente { departamento } => Some(departamento.as_str()),
        Papel::Atendente { .. } | Papel::Supervisor => None,
    };
    let mostrar = |terminal: &mut Terminal, evento: &DoBroker| {
        let linha = match evento {
            _ if opcoes.json => exibicao::json(evento),
            DoBroker::Fila {
                posicao,
                atendentes,
                estimativa_s,
            } => exibicao::fila(*posicao, *atendentes, *estimativa_s, departamento),
            _ => exibicao::texto(evento, atendente),
        };
        terminal.mostrar(&linha);
    };
    mostrar(terminal, &conexao.bemvindo());
    let Conexao {
        mut envio,
        mut eventos,
        mut ligacao,
        ..
    } = conexao;
    if !opcoes.json {
        terminal.avisar("Digite /ajuda para ver os comandos.");
    }

    let mut saindo = false;
    let mut depois_de_fim = false;
    // The open chats, oldest first: a plain line goes to the last (none: 0, and the broker
    // says so).
    let mut abertas: Vec<u64> = Vec::new();
    // (Customers) lines written while waiting: the broker keeps the first few for the agent,
    // the app the rest, sent once the chat starts.
    let mut espera = Espera::default();
    // (Customers) the chat the agent ended, while it may be rated.
    let mut avaliando: Option<u64> = None;
    let despedida = tokio::time::sleep(Duration::MAX);
    tokio::pin!(despedida);
    loop {
        tokio::select! {
            evento = eventos.next() => match evento {
                Some(Ok(DoBroker::Confirmada { .. })) if !opcoes.json => {}
                Some(Ok(evento)) => {
                    depois_de_fim = matches!(evento, DoBroker::Fim { .. });
                    match evento {
                        DoBroker::Conectado { conversa, .. } => {
                            abertas.push(conversa);
                            mostrar(terminal, &evento);
                            for quadro in espera.soltar(conversa) {
                                if let Err(erro) = envio.enviar(quadro).await {
                                    terminal.avisar(&format!("*** Conexão com o broker perdida: {erro} ***"));
                                    return ExitCode::FAILURE;
                                }
                            }
                            continue;
                        }
                        DoBroker::Avaliacao { conversa, .. } => avaliando = Some(conversa),
                        // A customer in line (sent back, or its chat handed over) is in no
                        // chat: what it writes waits for the next agent.
                        DoBroker::Fila { .. } | DoBroker::Transferido { .. } if !atendente => {
                            abertas.clear()
                        }
                        DoBroker::Fim { conversa: 0, .. } => abertas.clear(),
                        DoBroker::Fim { conversa, .. } => abertas.retain(|&c| c != conversa),
                        _ => {}
                    }
                    mostrar(terminal, &evento);
                }
                Some(Err(erro)) => {
                    terminal.avisar(&format!("*** Conexão com o broker perdida: {erro} ***"));
                    return ExitCode::FAILURE;
                }
                None if saindo || depois_de_fim => return ExitCode::SUCCESS,
                None => {
                    terminal.avisar("*** O broker fechou a conexão. ***");
                    return ExitCode::FAILURE;
                }
            },
            linha = terminal.proxima(), if !saindo => {
                let ultima = abertas.last().copied().unwrap_or(0);
                let quadro = match linha {
                    // In --json, a line that looks like an object must be a well-formed one:
                    // never sent to a customer as text.
                    Linha::Texto(texto) if opcoes.json && texto.trim_start().starts_with('{') => {
                        match linha_json(&texto) {
                            Some((conversa, texto)) => Some(ParaBroker::Mensagem {
                                conversa,
                                texto,
                                seq: 0,
                            }),
                            None => {
                                terminal.avisar(LINHA_JSON_INVALIDA);
                                None
                            }
                        }
                    }
                    Linha::Texto(texto) => match interpretar(&texto, atendente) {
                        Entrada::Vazia => None,
                        // While rating, a bare number is the grade.
                        Entrada::Mensagem(texto) if avaliando.is_some() && nota(&texto).is_some() => {
                            Some(ParaBroker::Avaliar {
                                conversa: avaliando.unwrap_or(0),
                                nota: nota(&texto).unwrap_or(0),
                                seq: 0,
                            })
                        }
                        Entrada::Comando(Comando::Nota(valor)) => Some(ParaBroker::Avaliar {
                            conversa: avaliando.unwrap_or(0),
                            nota: valor,
                            seq: 0,
                        }),
                        Entrada::Mensagem(texto) => Some(ParaBroker::Mensagem {
                            conversa: ultima,
                            texto,
                            seq: 0,
                        }),
                        Entrada::Comando(Comando::Ajuda) => {
                            terminal.avisar(ajuda(atendente));
                            None
                        }
                        Entrada::Comando(Comando::Desconhecido(nome)) => {
                            terminal.avisar(&desconhecido(&nome));
                            None
                        }
                        Entrada::Comando(Comando::Invalido(uso)) => {
                            terminal.avisar(uso);
                            None
                        }
                        // Nothing on screen to clear in line mode.
                        Entrada::Comando(comando) => comando.quadro(ultima),
                    },
                    Linha::Fim => Some(ParaBroker::Sair { seq: 0 }),
                };
                let quadro = match quadro {
                    Some(ParaBroker::Mensagem { conversa: 0, texto, .. })
                        if !atendente && abertas.is_empty() =>
                    {
                        espera.escrever(texto, terminal)
                    }
                    outro => outro,
                };
                if let Some(quadro) = quadro {
                    if matches!(quadro, ParaBroker::Sair { .. }) {
                        saindo = true;
                        despedida.as_mut().reset(tokio::time::Instant::now() + PRAZO_DESPEDIDA);
                    }
                    if let Err(erro) = envio.enviar(quadro).await {
                        terminal.avisar(&format!("*** Conexão com o broker perdida: {erro} ***"));
                        return ExitCode::FAILURE;
                    }
                }
            },
            Ok(()) = ligacao.changed() => {
                let estado = *ligacao.borrow_and_update();
                let aviso = if opcoes.json {
                    exibicao::json_da_ligacao(estado)
                } else {
                    exibicao::texto_da_ligacao(estado).map(str::to_owned)
                };
                if let Some(aviso) = aviso {
                    terminal.mostrar(&aviso);
                }
            },
            _ = &mut despedida, if saindo => return ExitCode::SUCCESS,
        }
    }
}

/// A waiting customer's lines: the broker keeps up to [`NA_ESPERA_MAXIMO`] for the agent; the
/// app holds the rest, in order, until the chat starts, so a script writing ahead loses none.
#[derive(Debug, Default)]
struct Espera {
    /// Lines sent while waiting since the last chat started.
    enviadas: usize,
    /// Lines held back, oldest first.
    retidas: Vec<String>,
}

impl Espera {
    /// A line written while waiting: the frame to send now, or `None` if the app holds it.
    fn escrever(&mut self, texto: String, terminal: &mut Terminal) -> Option<ParaBroker> {
        if self.enviadas < NA_ESPERA_MAXIMO && self.retidas.is_empty() {
            self.enviadas += 1;
            return Some(ParaBroker::Mensagem {
                conversa: 0,
                texto,
                seq: 0,
            });
        }
        self.retidas.push(texto);
        terminal.avisar(&format!(
            "Mensagem guardada: o atendente recebe as {NA_ESPERA_MAXIMO} primeiras ao começar; \
             esta será enviada logo depois."
        ));
        None
    }

    /// The chat `conversa` started: the lines held back, to send now, in order.
    fn soltar(&mut self, conversa: u64) -> Vec<ParaBroker> {
        self.enviadas = 0;
        std::mem::take(&mut self.retidas)
            .into_iter()
            .map(|texto| ParaBroker::Mensagem {
                conversa,
                texto,
                seq: 0,
            })
            .collect()
    }
}
