//! The full-screen apps' state and how it changes: the "model" and "update" of a
//! model/update/view split. Nothing here draws or does I/O; the view ([`crate::visao`]) reads a
//! [`Modelo`], and the runtime ([`crate::tela`]) feeds it [`Msg`]s and carries out the
//! [`Acao`]s it returns.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use proto::{DoBroker, MotivoFim, Papel, ParaBroker};

use crate::comando::{Comando, Entrada, ajuda, desconhecido, interpretar};
use crate::editor::Editor;
use crate::exibicao;

/// How many conversation entries PageUp and PageDown move by.
const PASSO_DE_ROLAGEM: usize = 5;

/// Something that happened, for the model to take in.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Tecla(KeyEvent),
    /// Text was pasted.
    Colar(String),
    /// A frame arrived from the broker.
    Broker(DoBroker),
    /// The connection to the broker ended (closed or failed).
    ConexaoEncerrada,
    /// An attempt to reconnect failed, and why.
    ReconexaoFalhou(String),
    /// The client handle lost the connection and is resuming the session, or has resumed it.
    Religacao(proto::Ligacao),
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acao {
    /// Send a frame to the broker.
    Enviar(ParaBroker),
    /// Open a new session with the broker.
    Reconectar,
    /// Close the app.
    Sair,
}

/// The connection as the person sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ligacao {
    /// Connected and in a session.
    Conectado,
    /// The connection dropped and the session is being resumed; typing goes on.
    Reconectando,
    /// Lost without the session having ended: offer to reconnect.
    Perdida,
    /// The session ended normally: offer a new one.
    Encerrada,
}

/// Where this person stands, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Situacao {
    /// A customer that has not been told its place yet.
    Procurando,
    /// A customer waiting at this 1-based place.
    NaFila(u32),
    /// An agent waiting for a customer.
    Livre,
    /// An agent in pause.
    Pausado,
    /// In a chat.
    EmConversa {
        /// The conversation's id (chat lines are sent for it).
        conversa: u64,
        /// The partner's name.
        com: String,
        /// The customer's department.
        departamento: String,
        /// How long the customer waited, in milliseconds.
        espera_ms: u64,
    },
    /// The session ended, and why (in words).
    Encerrada(String),
}

/// Who wrote a line of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Autor {
    /// This person.
    Eu,
    /// The partner, by name.
    Parceiro(String),
    /// The app or the broker, telling what happened.
    Aviso,
    /// An error.
    Erro,
}

/// One entry of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registro {
    /// Local time it was shown, `HH:MM`.
    pub hora: String,
    /// Who wrote it.
    pub autor: Autor,
    /// What it says (already safe to show).
    pub texto: String,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct Modelo {
    /// This person's name.
    pub nome: String,
    /// Customer or agent, with department(s).
    pub papel: Papel,
    /// The state of the connection.
    pub ligacao: Ligacao,
    /// Where this person stands.
    pub situacao: Situacao,
    /// The conversation and notices, oldest first.
    pub conversa: Vec<Registro>,
    /// How many entries back from the newest the view is scrolled.
    pub rolagem: usize,
    /// The input line.
    pub editor: Editor,
    /// (Agents) customers waiting in their departments, once known.
    pub clientes_na_fila: Option<u32>,
    /// Whether the chat partner's connection is down and the broker waits for it to come back.
    pub parceiro_ausente: bool,
    /// (Agents) whether a pause is on.
    pub pausado: bool,
    /// Whether this person asked to leave (the app closes when the broker lets go).
    saindo: bool,
    /// Whether the broker said it is shutting down (its going away is then a lost connection,
    /// not the end of an attendance).
    broker_saiu: bool,
}

impl Modelo {
    /// A fresh screen for a session that has just been accepted.
    pub fn new(nome: String, papel: Papel, bemvindo: DoBroker, hora: &str) -> Modelo {
        let mut modelo = Modelo {
            nome,
            papel,
            ligacao: Ligacao::Conectado,
            situacao: Situacao::Procurando,
            conversa: Vec::new(),
            rolagem: 0,
            editor: Editor::default(),
            clientes_na_fila: None,
            parceiro_ausente: false,
            pausado: false,
            saindo: false,
            broker_saiu: false,
        };
        modelo.atualizar(Msg::Broker(bemvindo), hora);
        modelo.avisar(hora, "Digite /ajuda para ver os comandos.");
        modelo
    }

    /// Whether this is an agent's screen.
    pub fn atendente(&self) -> bool {
        matches!(self.papel, Papel::Atendente { .. })
    }

    /// The newest notice or error shown (what the app last had to say).
    pub fn ultimo_aviso(&self) -> Option<String> {
        self.conversa
            .iter()
            .rev()
            .find(|r| matches!(r.autor, Autor::Aviso | Autor::Erro))
            .map(|r| r.texto.clone())
    }

    /// Takes in one message at local time `hora` (`HH:MM`) and says what to do.
    pub fn atualizar(&mut self, msg: Msg, hora: &str) -> Vec<Acao> {
        match msg {
            Msg::Tecla(tecla) if tecla.kind != KeyEventKind::Release => self.tecla(tecla, hora),
            Msg::Tecla(_) => Vec::new(),
            Msg::Colar(texto) => {
                self.editor.inserir(&texto);
                Vec::new()
            }
            Msg::Broker(quadro) => {
                self.broker(quadro, hora);
                Vec::new()
            }
            Msg::ConexaoEncerrada => self.conexao_encerrada(hora),
            Msg::Religacao(estado) => {
                match estado {
                    proto::Ligacao::Reconectando => self.ligacao = Ligacao::Reconectando,
                    proto::Ligacao::Retomada | proto::Ligacao::Conectada => {
                        self.ligacao = Ligacao::Conectado
                    }
                }
                if let Some(texto) = exibicao::texto_da_ligacao(estado) {
                    self.avisar(hora, texto);
                }
                Vec::new()
            }
            Msg::ReconexaoFalhou(motivo) => {
                let texto = format!("Não foi possível conectar: {motivo}");
                self.registrar(hora, Autor::Erro, texto);
                Vec::new()
            }
        }
    }

    fn tecla(&mut self, tecla: KeyEvent, hora: &str) -> Vec<Acao> {
        let ctrl = tecla.modifiers.contains(KeyModifiers::CONTROL);
        if matches!(self.ligacao, Ligacao::Perdida | Ligacao::Encerrada) {
            return match tecla.code {
                KeyCode::Enter => vec![Acao::Reconectar],
                KeyCode::Esc => vec![Acao::Sair],
                KeyCode::Char('c' | 'd') if ctrl => vec![Acao::Sair],
                _ => Vec::new(),
            };
        }
        match tecla.code {
            KeyCode::Char('c') if ctrl => self.sair(),
            KeyCode::Char('d') if ctrl && self.editor.texto().is_empty() => self.sair(),
            KeyCode::Enter => self.enviar_linha(hora),
            _ => {
                self.editar(tecla.code, ctrl);
                Vec::new()
            }
        }
    }

    /// Keys that only edit the input line or move the view.
    fn editar(&mut self, codigo: KeyCode, ctrl: bool) {
        match codigo {
            KeyCode::Char('a') if ctrl => self.editor.inicio(),
            KeyCode::Char('e') if ctrl => self.editor.fim(),
            KeyCode::Char('l') if ctrl => self.limpar(),
            KeyCode::Char('u') if ctrl => self.editor.apagar_ate_o_inicio(),
            KeyCode::Char(c) if !ctrl => self.editor.inserir(c.encode_utf8(&mut [0; 4])),
            KeyCode::Backspace => self.editor.apagar_atras(),
            KeyCode::Delete => self.editor.apagar_frente(),
            KeyCode::Left => self.editor.esquerda(),
            KeyCode::Right => self.editor.direita(),
            KeyCode::Home => self.editor.inicio(),
            KeyCode::End => self.editor.fim(),
            KeyCode::Up => self.editor.anterior(),
            KeyCode::Down => self.editor.proximo(),
            KeyCode::PageUp => {
                let limite = self.conversa.len().saturating_sub(1);
                self.rolagem = (self.rolagem + PASSO_DE_ROLAGEM).min(limite);
            }
            KeyCode::PageDown => self.rolagem = self.rolagem.saturating_sub(PASSO_DE_ROLAGEM),
            _ => {}
        }
    }

    fn enviar_linha(&mut self, hora: &str) -> Vec<Acao> {
        let linha = self.editor.enviar();
        let quadro = match interpretar(&linha, self.atendente()) {
            Entrada::Vazia => return Vec::new(),
            Entrada::Mensagem(texto) => {
                // Outside a chat the line goes with no conversation, and the broker says so.
                let conversa = match self.situacao {
                    Situacao::EmConversa { conversa, .. } => {
                        self.registrar(hora, Autor::Eu, exibicao::limpar(&texto));
                        conversa
                    }
                    _ => 0,
                };
                ParaBroker::Mensagem {
                    conversa,
                    texto,
                    seq: 0,
                }
            }
            Entrada::Comando(Comando::Sair) => return self.sair(),
            Entrada::Comando(Comando::Ajuda) => {
                self.avisar(hora, ajuda(self.atendente()));
                return Vec::new();
            }
            Entrada::Comando(Comando::Limpar) => {
                self.limpar();
                return Vec::new();
            }
            Entrada::Comando(Comando::Desconhecido(nome)) => {
                self.registrar(hora, Autor::Erro, desconhecido(&nome));
                return Vec::new();
            }
            Entrada::Comando(comando) => match comando.quadro() {
                Some(quadro) => quadro,
                None => return Vec::new(),
            },
        };
        // Sending means wanting to see the newest lines again.
        self.rolagem = 0;
        vec![Acao::Enviar(quadro)]
    }

    fn sair(&mut self) -> Vec<Acao> {
        self.saindo = true;
        vec![Acao::Enviar(ParaBroker::Sair { seq: 0 })]
    }

    fn limpar(&mut self) {
        self.conversa.clear();
        self.rolagem = 0;
    }

    fn broker(&mut self, quadro: DoBroker, hora: &str) {
        let atendente = self.atendente();
        match &quadro {
            DoBroker::BemVindo { .. } => {
                self.ligacao = Ligacao::Conectado;
                self.saindo = false;
                self.broker_saiu = false;
                self.pausado = false;
                self.situacao = if atendente {
                    Situacao::Livre
                } else {
                    Situacao::Procurando
                };
                self.avisar(hora, &exibicao::texto(&quadro, atendente));
            }
            DoBroker::Fila { posicao } => self.situacao = Situacao::NaFila(*posicao),
            DoBroker::Conectado {
                com,
                conversa,
                departamento,
                espera_ms,
            } => {
                self.situacao = Situacao::EmConversa {
                    conversa: *conversa,
                    com: exibicao::limpar(com),
                    departamento: exibicao::limpar(departamento),
                    espera_ms: *espera_ms,
                };
                self.parceiro_ausente = false;
                self.avisar(hora, &exibicao::texto(&quadro, atendente));
            }
            DoBroker::Mensagem { de, texto } => self.registrar(
                hora,
                Autor::Parceiro(exibicao::limpar(de)),
                exibicao::limpar(texto),
            ),
            DoBroker::Fim { motivo } => {
                self.parceiro_ausente = false;
                self.broker_saiu = *motivo == MotivoFim::BrokerEncerrando;
                self.avisar(hora, &exibicao::texto(&quadro, atendente));
                self.situacao = match (motivo, atendente) {
                    (MotivoFim::AtendenteSaiu | MotivoFim::AtendenteDesconectou, false) => {
                        Situacao::Procurando
                    }
                    (
                        MotivoFim::ClienteSaiu
                        | MotivoFim::ClienteDesconectou
                        | MotivoFim::AtendenteEncerrou,
                        true,
                    ) if self.pausado => Situacao::Pausado,
                    (
                        MotivoFim::ClienteSaiu
                        | MotivoFim::ClienteDesconectou
                        | MotivoFim::AtendenteEncerrou,
                        true,
                    ) => Situacao::Livre,
                    _ => Situacao::Encerrada(exibicao::fim(*motivo, atendente).to_owned()),
                };
            }
            DoBroker::Erro { texto, .. } => {
                self.registrar(hora, Autor::Erro, exibicao::limpar(texto));
            }
            DoBroker::Espera { clientes } => self.clientes_na_fila = Some(*clientes),
            DoBroker::Ping | DoBroker::Confirmada { .. } => {}
            DoBroker::Parceiro { conectado } => {
                self.parceiro_ausente = !*conectado;
                self.avisar(hora, &exibicao::texto(&quadro, atendente));
            }
            // Only about the chat on screen: one that already ended is past news.
            DoBroker::Anteriores { conversa, .. } => {
                if matches!(self.situacao, Situacao::EmConversa { conversa: atual, .. } if atual == *conversa)
                {
                    self.avisar(hora, &exibicao::texto(&quadro, atendente));
                }
            }
            DoBroker::Pausa { pausado } => {
                self.pausado = *pausado;
                match self.situacao {
                    Situacao::Livre if *pausado => self.situacao = Situacao::Pausado,
                    Situacao::Pausado if !*pausado => self.situacao = Situacao::Livre,
                    _ => {}
                }
                self.avisar(hora, &exibicao::texto(&quadro, atendente));
            }
        }
    }

    fn conexao_encerrada(&mut self, hora: &str) -> Vec<Acao> {
        if self.saindo {
            return vec![Acao::Sair];
        }
        if matches!(self.situacao, Situacao::Encerrada(_)) && !self.broker_saiu {
            self.ligacao = Ligacao::Encerrada;
        } else if self.broker_saiu {
            self.ligacao = Ligacao::Perdida;
        } else {
            self.ligacao = Ligacao::Perdida;
            self.situacao = Situacao::Encerrada("A conexão com o broker caiu.".to_owned());
            self.registrar(
                hora,
                Autor::Erro,
                "A conexão com o broker caiu. Enter tenta de novo; Esc sai.".to_owned(),
            );
        }
        Vec::new()
    }

    fn avisar(&mut self, hora: &str, texto: &str) {
        self.registrar(
            hora,
            Autor::Aviso,
            texto.trim_matches('*').trim().to_owned(),
        );
    }

    fn registrar(&mut self, hora: &str, autor: Autor, texto: String) {
        self.conversa.push(Registro {
            hora: hora.to_owned(),
            autor,
            texto,
        });
        // Keep the view where the person scrolled it to.
        if self.rolagem > 0 {
            self.rolagem += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bemvindo(sessao: u64) -> DoBroker {
        DoBroker::BemVindo {
            sessao,
            batimento_ms: 15_000,
            ficha: [0; 16],
            tolerancia_ms: 0,
            retomada: false,
            ultima_aceita: 0,
            mensagens_por_segundo: 10,
            rajada: 20,
        }
    }

    fn tecla(code: KeyCode) -> Msg {
        Msg::Tecla(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn digitar(modelo: &mut Modelo, texto: &str) -> Vec<Acao> {
        for c in texto.chars() {
            modelo.atualizar(tecla(KeyCode::Char(c)), "10:00");
        }
        modelo.atualizar(tecla(KeyCode::Enter), "10:00")
    }

    fn cliente() -> Modelo {
        Modelo::new(
            "Ana".into(),
            Papel::Cliente {
                departamento: "geral".into(),
            },
            bemvindo(1),
            "10:00",
        )
    }

    fn atendente() -> Modelo {
        Modelo::new(
            "Yuri".into(),
            Papel::Atendente {
                departamentos: vec!["geral".into()],
            },
            bemvindo(2),
            "10:00",
        )
    }

    fn conectado(com: &str) -> Msg {
        Msg::Broker(DoBroker::Conectado {
            com: com.into(),
            conversa: 1,
            departamento: "geral".into(),
            espera_ms: 65_000,
        })
    }

    #[test]
    fn atendente_ve_os_atendimentos_anteriores_so_da_conversa_atual() {
        let mut modelo = atendente();
        modelo.atualizar(conectado("Ana"), "10:02");
        let antes = modelo.conversa.len();
        let anteriores = |conversa| {
            Msg::Broker(DoBroker::Anteriores {
                conversa,
                conversas: vec![],
            })
        };
        // About a chat that is already over: past news, not shown.
        modelo.atualizar(anteriores(7), "10:02");
        assert_eq!(modelo.conversa.len(), antes);
        modelo.atualizar(anteriores(1), "10:02");
        assert_eq!(modelo.conversa.len(), antes + 1);
        assert_eq!(
            modelo.conversa.last().unwrap().texto,
            "Primeiro atendimento deste cliente."
        );
    }

    #[test]
    fn cliente_ve_a_fila_e_conversa() {
        let mut modelo = cliente();
        assert_eq!(modelo.situacao, Situacao::Procurando);
        modelo.atualizar(Msg::Broker(DoBroker::Fila { posicao: 3 }), "10:01");
        assert_eq!(modelo.situacao, Situacao::NaFila(3));
        modelo.atualizar(conectado("Yuri"), "10:02");
        assert!(matches!(modelo.situacao, Situacao::EmConversa { ref com, .. } if com == "Yuri"));
        assert_eq!(
            digitar(&mut modelo, "olá, ação 👍"),
            vec![Acao::Enviar(ParaBroker::Mensagem {
                conversa: 1,
                texto: "olá, ação 👍".into(),
                seq: 0,
            })]
        );
        let ultima = modelo.conversa.last().unwrap();
        assert_eq!(
            (ultima.autor.clone(), ultima.texto.as_str()),
            (Autor::Eu, "olá, ação 👍")
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Mensagem {
                de: "Yuri".into(),
                texto: "oi\u{1b}[2J".into(),
            }),
            "10:03",
        );
        let ultima = modelo.conversa.last().unwrap();
        assert_eq!(ultima.autor, Autor::Parceiro("Yuri".into()));
        assert_eq!(ultima.texto, "oi\u{FFFD}[2J");
        assert_eq!(ultima.hora, "10:03");
    }

    #[test]
    fn fim_pelo_atendente_encerra_e_oferece_nova_sessao() {
        let mut modelo = cliente();
        modelo.atualizar(conectado("Yuri"), "10:02");
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                motivo: MotivoFim::AtendenteEncerrou,
            }),
            "10:05",
        );
        assert!(matches!(modelo.situacao, Situacao::Encerrada(_)));
        assert!(modelo.atualizar(Msg::ConexaoEncerrada, "10:05").is_empty());
        assert_eq!(modelo.ligacao, Ligacao::Encerrada);
        assert_eq!(
            modelo.atualizar(tecla(KeyCode::Enter), "10:06"),
            vec![Acao::Reconectar]
        );
        assert_eq!(
            modelo.atualizar(tecla(KeyCode::Esc), "10:06"),
            vec![Acao::Sair]
        );
    }

    #[test]
    fn queda_do_atendente_volta_para_a_fila() {
        let mut modelo = cliente();
        modelo.atualizar(conectado("Yuri"), "10:02");
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                motivo: MotivoFim::AtendenteDesconectou,
            }),
            "10:03",
        );
        assert_eq!(modelo.situacao, Situacao::Procurando);
        modelo.atualizar(Msg::Broker(DoBroker::Fila { posicao: 1 }), "10:03");
        assert_eq!(modelo.situacao, Situacao::NaFila(1));
    }

    #[test]
    fn sair_fecha_quando_o_broker_solta() {
        let mut modelo = cliente();
        assert_eq!(
            digitar(&mut modelo, "/sair"),
            vec![Acao::Enviar(ParaBroker::Sair { seq: 0 })]
        );
        assert_eq!(
            modelo.atualizar(Msg::ConexaoEncerrada, "10:00"),
            vec![Acao::Sair]
        );
        let mut modelo = cliente();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            modelo.atualizar(Msg::Tecla(ctrl_c), "10:00"),
            vec![Acao::Enviar(ParaBroker::Sair { seq: 0 })]
        );
    }

    #[test]
    fn queda_do_broker_oferece_reconectar() {
        let mut modelo = cliente();
        modelo.atualizar(Msg::Broker(DoBroker::Fila { posicao: 2 }), "10:01");
        assert!(modelo.atualizar(Msg::ConexaoEncerrada, "10:02").is_empty());
        assert_eq!(modelo.ligacao, Ligacao::Perdida);
        assert_eq!(modelo.conversa.last().unwrap().autor, Autor::Erro);
        // Typing does nothing while disconnected; Enter reconnects.
        assert!(
            modelo
                .atualizar(tecla(KeyCode::Char('x')), "10:02")
                .is_empty()
        );
        assert_eq!(
            modelo.atualizar(tecla(KeyCode::Enter), "10:02"),
            vec![Acao::Reconectar]
        );
        modelo.atualizar(Msg::ReconexaoFalhou("recusada".into()), "10:03");
        modelo.atualizar(Msg::Broker(bemvindo(9)), "10:04");
        assert_eq!(modelo.ligacao, Ligacao::Conectado);
        assert_eq!(modelo.situacao, Situacao::Procurando);
    }

    #[test]
    fn broker_desligado_e_conexao_perdida() {
        let mut modelo = atendente();
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                motivo: MotivoFim::BrokerEncerrando,
            }),
            "10:00",
        );
        modelo.atualizar(Msg::ConexaoEncerrada, "10:00");
        assert_eq!(modelo.ligacao, Ligacao::Perdida);
        assert_eq!(
            modelo.atualizar(tecla(KeyCode::Enter), "10:01"),
            vec![Acao::Reconectar]
        );
    }

    #[test]
    fn atendente_livre_em_conversa_e_em_pausa() {
        let mut modelo = atendente();
        assert_eq!(modelo.situacao, Situacao::Livre);
        modelo.atualizar(Msg::Broker(DoBroker::Espera { clientes: 4 }), "10:00");
        assert_eq!(modelo.clientes_na_fila, Some(4));
        modelo.atualizar(conectado("Ana"), "10:01");
        assert_eq!(
            digitar(&mut modelo, "/pausa"),
            vec![Acao::Enviar(ParaBroker::Pausar { seq: 0 })]
        );
        modelo.atualizar(Msg::Broker(DoBroker::Pausa { pausado: true }), "10:01");
        assert!(matches!(modelo.situacao, Situacao::EmConversa { .. }));
        assert_eq!(
            digitar(&mut modelo, "/fim"),
            vec![Acao::Enviar(ParaBroker::Encerrar { seq: 0 })]
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                motivo: MotivoFim::AtendenteEncerrou,
            }),
            "10:02",
        );
        assert_eq!(modelo.situacao, Situacao::Pausado);
        assert_eq!(
            digitar(&mut modelo, "/voltar"),
            vec![Acao::Enviar(ParaBroker::Voltar { seq: 0 })]
        );
        modelo.atualizar(Msg::Broker(DoBroker::Pausa { pausado: false }), "10:03");
        assert_eq!(modelo.situacao, Situacao::Livre);
    }

    #[test]
    fn comandos_locais() {
        let mut modelo = cliente();
        assert!(digitar(&mut modelo, "/ajuda").is_empty());
        assert!(modelo.conversa.last().unwrap().texto.contains("/sair"));
        assert!(digitar(&mut modelo, "/xyz").is_empty());
        assert!(modelo.conversa.last().unwrap().texto.contains("/xyz"));
        assert_eq!(modelo.conversa.last().unwrap().autor, Autor::Erro);
        assert!(digitar(&mut modelo, "/limpar").is_empty());
        assert!(modelo.conversa.is_empty());
        assert!(
            digitar(&mut modelo, "/fim").is_empty(),
            "customers have no /fim"
        );
    }

    #[test]
    fn rolagem_com_page_up_e_page_down() {
        let mut modelo = cliente();
        for i in 0..20 {
            modelo.atualizar(
                Msg::Broker(DoBroker::Erro {
                    codigo: proto::CodigoErro::SemConversa,
                    texto: format!("{i}"),
                }),
                "10:00",
            );
        }
        modelo.atualizar(tecla(KeyCode::PageUp), "10:00");
        assert_eq!(modelo.rolagem, PASSO_DE_ROLAGEM);
        // New lines do not move what the person is reading.
        modelo.atualizar(Msg::Broker(DoBroker::Fila { posicao: 1 }), "10:00");
        modelo.atualizar(
            Msg::Broker(DoBroker::Erro {
                codigo: proto::CodigoErro::SemConversa,
                texto: "novo".into(),
            }),
            "10:00",
        );
        assert_eq!(modelo.rolagem, PASSO_DE_ROLAGEM + 1);
        for _ in 0..10 {
            modelo.atualizar(tecla(KeyCode::PageUp), "10:00");
        }
        assert_eq!(modelo.rolagem, modelo.conversa.len() - 1);
        for _ in 0..10 {
            modelo.atualizar(tecla(KeyCode::PageDown), "10:00");
        }
        assert_eq!(modelo.rolagem, 0);
    }
}
