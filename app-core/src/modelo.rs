//! The full-screen apps' state and how it changes: the "model" and "update" of a
//! model/update/view split. Nothing here draws or does I/O; the view ([`crate::visao`]) reads a
//! [`Modelo`], and the runtime ([`crate::tela`]) feeds it [`Msg`]s and carries out the
//! [`Acao`]s it returns.
//!
//! A customer has one stream of entries. An agent may be in several chats: each has a tab
//! ([`Aba`]) with its own lines, beside the general log of notices; Alt-1…Alt-9 and Ctrl-←/→
//! choose the one in view, and what is typed goes to the chat in view.

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
    /// (Customers) the agent ended the chat, and the customer may rate it.
    Avaliando {
        /// The chat to rate.
        conversa: u64,
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

/// One of an agent's chats, in a tab of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aba {
    /// The conversation's id.
    pub conversa: u64,
    /// The customer's name.
    pub com: String,
    /// The customer's department.
    pub departamento: String,
    /// How long the customer waited, in milliseconds.
    pub espera_ms: u64,
    /// The chat's lines and notices, oldest first.
    pub registros: Vec<Registro>,
    /// Whether something arrived since the agent last looked.
    pub nao_lida: bool,
    /// Whether the customer's connection is down and the broker waits for it to come back.
    pub parceiro_ausente: bool,
    /// Whether the chat has ended (the tab stays until the agent looks elsewhere).
    pub encerrada: bool,
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
    /// The general log (for a customer, everything): conversation and notices, oldest first.
    pub conversa: Vec<Registro>,
    /// (Agents) one tab per chat, in the order they started.
    pub abas: Vec<Aba>,
    /// What is in view: 0 the general log, `i` the tab `abas[i - 1]`.
    pub em_vista: usize,
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
    /// How many chats the broker gives this session at once.
    pub capacidade: u8,
    /// (Customers, in line) agents of the department able to answer now, once told.
    pub atendentes_online: Option<u32>,
    /// (Customers, in line) the estimated wait in seconds, when the broker can tell.
    pub estimativa_s: Option<u32>,
    /// (Customers) lines sent while waiting since the last chat started: the broker keeps up
    /// to [`proto::NA_ESPERA_MAXIMO`] for the agent.
    na_espera: usize,
    /// (Customers) whether a rating was sent for the chat that ended.
    avaliou: bool,
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
            abas: Vec::new(),
            em_vista: 0,
            rolagem: 0,
            editor: Editor::default(),
            clientes_na_fila: None,
            parceiro_ausente: false,
            pausado: false,
            capacidade: 1,
            atendentes_online: None,
            estimativa_s: None,
            na_espera: 0,
            avaliou: false,
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
        // Moving between chats works even once the connection is gone: they can still be read.
        if self.navegar(&tecla) {
            return Vec::new();
        }
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

    /// The keys that choose what is in view (Alt-0…Alt-9, Ctrl-←/→); whether it was one.
    fn navegar(&mut self, tecla: &KeyEvent) -> bool {
        let ctrl = tecla.modifiers.contains(KeyModifiers::CONTROL);
        let alt = tecla.modifiers.contains(KeyModifiers::ALT);
        let total = self.abas.len() + 1;
        let alvo = match tecla.code {
            KeyCode::Char(digito @ '0'..='9') if alt => digito as usize - '0' as usize,
            KeyCode::Left if ctrl => (self.em_vista + total - 1) % total,
            KeyCode::Right if ctrl => (self.em_vista + 1) % total,
            _ => return false,
        };
        if alvo < total {
            self.ver(alvo);
        }
        true
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
                let limite = self.registros_em_vista().len().saturating_sub(1);
                self.rolagem = (self.rolagem + PASSO_DE_ROLAGEM).min(limite);
            }
            KeyCode::PageDown => self.rolagem = self.rolagem.saturating_sub(PASSO_DE_ROLAGEM),
            _ => {}
        }
    }

    /// The tab in view, if a chat's is.
    pub fn aba_em_vista(&self) -> Option<&Aba> {
        self.em_vista.checked_sub(1).and_then(|i| self.abas.get(i))
    }

    /// The entries in view: the chat's in view, or the general log.
    pub fn registros_em_vista(&self) -> &[Registro] {
        self.aba_em_vista()
            .map_or(&self.conversa, |aba| &aba.registros)
    }

    /// The open (not ended) chats.
    pub fn abertas(&self) -> impl Iterator<Item = &Aba> {
        self.abas.iter().filter(|aba| !aba.encerrada)
    }

    /// Puts the general log (0) or a tab (`indice`, from 1) in view. A tab whose chat ended is
    /// closed once the agent looks elsewhere.
    fn ver(&mut self, indice: usize) {
        let alvo = indice
            .checked_sub(1)
            .and_then(|i| self.abas.get(i))
            .map(|aba| aba.conversa);
        let anterior = self.aba_em_vista().map(|aba| (aba.conversa, aba.encerrada));
        if let Some((conversa, true)) = anterior
            && alvo != Some(conversa)
        {
            self.abas.retain(|aba| aba.conversa != conversa);
        }
        self.em_vista = alvo
            .and_then(|conversa| self.indice_da_aba(conversa))
            .map_or(0, |i| i + 1);
        if let Some(i) = self.em_vista.checked_sub(1) {
            self.abas[i].nao_lida = false;
        }
        self.rolagem = 0;
    }

    /// The index in `abas` of a chat's tab.
    fn indice_da_aba(&self, conversa: u64) -> Option<usize> {
        self.abas.iter().position(|aba| aba.conversa == conversa)
    }

    /// The chat a line or a `/fim` without a number is for: the chat in view, or an agent's
    /// only open chat; `None` when there is no telling (several chats, none in view).
    fn conversa_padrao(&self) -> Option<u64> {
        if !self.atendente() {
            return Some(match self.situacao {
                Situacao::EmConversa { conversa, .. } => conversa,
                _ => 0,
            });
        }
        if let Some(aba) = self.aba_em_vista() {
            return Some(aba.conversa);
        }
        let mut abertas = self.abertas();
        match (abertas.next(), abertas.next()) {
            (Some(unica), None) => Some(unica.conversa),
            (None, _) => Some(0),
            _ => None,
        }
    }

    fn enviar_linha(&mut self, hora: &str) -> Vec<Acao> {
        let linha = self.editor.enviar();
        let entrada = interpretar(&linha, self.atendente());
        if let Some(acoes) = self.avaliar(&entrada, &linha, hora) {
            return acoes;
        }
        let precisa_de_conversa = matches!(
            entrada,
            Entrada::Mensagem(_)
                | Entrada::Comando(Comando::Fim(None) | Comando::Transferir(None, _))
        );
        let Some(conversa) = self
            .conversa_padrao()
            .filter(|_| precisa_de_conversa)
            .or((!precisa_de_conversa).then_some(0))
        else {
            // Several chats and none in view: keep what was typed, and say how to choose.
            self.editor.inserir(&linha);
            let texto = "Escolha a conversa com Alt-1…Alt-9 (ou Ctrl-←/→), ou use /fim N.";
            self.registrar(hora, Autor::Erro, texto.to_owned());
            return Vec::new();
        };
        let quadro = match entrada {
            Entrada::Vazia => return Vec::new(),
            Entrada::Mensagem(texto) => {
                // A line the broker would refuse stays in the input line, with the reason.
                if let Some(recusa) = self.recusa_local(&texto) {
                    self.editor.inserir(&linha);
                    self.registrar(hora, Autor::Erro, recusa);
                    return Vec::new();
                }
                // A waiting customer's lines are kept for its agent, up to a limit; beyond it
                // the line stays in the input line.
                if conversa == 0 && !self.atendente() {
                    if self.na_espera >= proto::NA_ESPERA_MAXIMO {
                        self.editor.inserir(&linha);
                        let texto = format!(
                            "Você já deixou {} mensagens para o atendente; escreva mais quando \
                             o atendimento começar.",
                            proto::NA_ESPERA_MAXIMO
                        );
                        self.registrar(hora, Autor::Erro, texto);
                        return Vec::new();
                    }
                    if self.na_espera == 0 {
                        let texto = "O que você escrever agora chega ao atendente assim que o \
                                     atendimento começar.";
                        self.avisar(hora, texto);
                    }
                    self.na_espera += 1;
                }
                // An agent's line outside any chat goes with no conversation, and the broker
                // says so.
                if conversa != 0 || !self.atendente() {
                    self.registrar(hora, Autor::Eu, exibicao::limpar(&texto));
                }
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
            Entrada::Comando(Comando::Invalido(uso)) => {
                self.registrar(hora, Autor::Erro, uso.to_owned());
                return Vec::new();
            }
            Entrada::Comando(Comando::Desconhecido(nome)) => {
                self.registrar(hora, Autor::Erro, desconhecido(&nome));
                return Vec::new();
            }
            Entrada::Comando(comando) => match comando.quadro(conversa) {
                Some(quadro) => quadro,
                None => return Vec::new(),
            },
        };
        // Sending means wanting to see the newest lines again.
        self.rolagem = 0;
        vec![Acao::Enviar(quadro)]
    }

    /// (Customers) a grade typed after the agent ended the chat (a number, or `/nota N`), or
    /// text typed then, which stays in the input line: the chat is over. `None` for anything
    /// else, which the caller handles.
    fn avaliar(&mut self, entrada: &Entrada, linha: &str, hora: &str) -> Option<Vec<Acao>> {
        let avaliando = match self.situacao {
            Situacao::Avaliando { conversa } => Some(conversa),
            _ => None,
        };
        let nota = match (entrada, avaliando) {
            (Entrada::Comando(Comando::Nota(nota)), _) => Some(*nota),
            (Entrada::Mensagem(texto), Some(_)) => crate::comando::nota(texto),
            _ => return None,
        };
        let (Some(conversa), Some(nota)) = (avaliando, nota) else {
            self.editor.inserir(linha);
            let texto = if avaliando.is_some() {
                "O atendimento terminou: digite uma nota de 1 a 5, ou /sair."
            } else {
                "Não há atendimento para avaliar agora."
            };
            self.registrar(hora, Autor::Erro, texto.to_owned());
            return Some(Vec::new());
        };
        self.avaliou = true;
        self.registrar(hora, Autor::Eu, format!("Nota {nota} de 5"));
        Some(vec![Acao::Enviar(ParaBroker::Avaliar {
            conversa,
            nota,
            seq: 0,
        })])
    }

    /// Why a chat line would be refused, if it would: the chat in view ended, or the text is
    /// not valid (checked against the default limit).
    fn recusa_local(&self, texto: &str) -> Option<String> {
        if self.aba_em_vista().is_some_and(|aba| aba.encerrada) {
            return Some("Esta conversa terminou; escolha outra com Alt-1…Alt-9.".to_owned());
        }
        let erro = proto::validacao::validar_texto(texto).err()?;
        let maximo = proto::validacao::TEXTO_MAXIMO;
        Some(match erro {
            proto::validacao::TextoInvalido::Longo => format!(
                "A mensagem não foi enviada: tem {} bytes, e o limite é {maximo}.",
                texto.len()
            ),
            erro => format!("A mensagem não foi enviada: {erro}."),
        })
    }

    fn sair(&mut self) -> Vec<Acao> {
        self.saindo = true;
        vec![Acao::Enviar(ParaBroker::Sair { seq: 0 })]
    }

    fn limpar(&mut self) {
        match self.em_vista.checked_sub(1) {
            Some(i) => self.abas[i].registros.clear(),
            None => self.conversa.clear(),
        }
        self.rolagem = 0;
    }

    fn broker(&mut self, quadro: DoBroker, hora: &str) {
        let atendente = self.atendente();
        let texto = || exibicao::texto(&quadro, atendente);
        match &quadro {
            DoBroker::BemVindo { capacidade, .. } => self.bemvindo(*capacidade, &texto(), hora),
            DoBroker::Fila {
                posicao,
                atendentes,
                estimativa_s,
            } => self.fila(*posicao, *atendentes, *estimativa_s, hora),
            DoBroker::Departamentos { .. } if atendente => self.avisar(hora, &texto()),
            DoBroker::Departamentos { .. } => {}
            DoBroker::NaEspera { conversa, textos } => self.na_espera(*conversa, textos, hora),
            DoBroker::Conectado { .. } if atendente => self.nova_aba(&quadro, hora),
            DoBroker::Conectado { .. } => self.conectado(&quadro, hora),
            DoBroker::Mensagem {
                conversa,
                de,
                texto,
            } => {
                let registro = Registro {
                    hora: hora.to_owned(),
                    autor: Autor::Parceiro(exibicao::limpar(de)),
                    texto: exibicao::limpar(texto),
                };
                self.na_conversa(*conversa, registro);
            }
            DoBroker::Fim { conversa, motivo } if atendente && *conversa != 0 => {
                self.fim_de_conversa(*conversa, *motivo, &texto(), hora)
            }
            DoBroker::Fim { conversa, motivo } => self.fim(*conversa, *motivo, hora),
            DoBroker::Avaliacao { conversa, .. } => {
                self.situacao = Situacao::Avaliando {
                    conversa: *conversa,
                };
                self.avisar(hora, &texto());
            }
            DoBroker::Erro { texto, .. } => {
                self.registrar(hora, Autor::Erro, exibicao::limpar(texto));
            }
            DoBroker::Espera { clientes } => self.clientes_na_fila = Some(*clientes),
            DoBroker::Ping | DoBroker::Confirmada { .. } | DoBroker::Painel(_) => {}
            DoBroker::Transferido { conversa, .. } => {
                self.avisar_na(*conversa, hora, &texto());
                // The chat is on its way to someone else: what comes next (a place in line, the
                // new agent's Conectado) is the transfer, not an agent that failed to answer.
                if !atendente {
                    self.situacao = Situacao::Procurando;
                }
            }
            DoBroker::Transcricao {
                conversa, falas, ..
            } => self.transcricao(*conversa, falas, hora),
            DoBroker::Parceiro {
                conversa,
                conectado,
            } => {
                match self.indice_da_aba(*conversa) {
                    Some(i) => self.abas[i].parceiro_ausente = !*conectado,
                    None => self.parceiro_ausente = !*conectado,
                }
                self.avisar_na(*conversa, hora, &texto());
            }
            // Only about a chat still open: one that already ended is past news.
            DoBroker::Anteriores { conversa, .. } if self.aberta(*conversa) => {
                self.avisar_na(*conversa, hora, &texto());
            }
            DoBroker::Anteriores { .. } => {}
            DoBroker::Pausa { pausado } => {
                self.pausado = *pausado;
                match self.situacao {
                    Situacao::Livre if *pausado => self.situacao = Situacao::Pausado,
                    Situacao::Pausado if !*pausado => self.situacao = Situacao::Livre,
                    _ => {}
                }
                self.avisar(hora, &texto());
            }
        }
    }

    /// A session accepted: everything starts afresh. An agent whose capacity the broker cut
    /// is told so.
    fn bemvindo(&mut self, capacidade: u8, texto: &str, hora: &str) {
        let atendente = self.atendente();
        self.ligacao = Ligacao::Conectado;
        self.saindo = false;
        self.broker_saiu = false;
        self.pausado = false;
        self.abas.clear();
        self.em_vista = 0;
        self.capacidade = capacidade;
        self.na_espera = 0;
        self.atendentes_online = None;
        self.estimativa_s = None;
        self.situacao = if atendente {
            Situacao::Livre
        } else {
            Situacao::Procurando
        };
        self.avisar(hora, texto);
        if let Papel::Atendente {
            capacidade: pedida, ..
        } = self.papel
            && pedida > capacidade
        {
            let texto = format!(
                "O broker limita cada atendente a {capacidade} conversas ao mesmo tempo \
                 (você pediu {pedida})."
            );
            self.avisar(hora, &texto);
        }
    }

    /// (Customers) a place in line, with who can answer and the estimate; in the middle of a
    /// chat, its agent did not answer in time. That nobody can answer is said when it starts
    /// and when it ends.
    fn fila(&mut self, posicao: u32, atendentes: u32, estimativa_s: Option<u32>, hora: &str) {
        if let Situacao::EmConversa { com, .. } = &self.situacao {
            let texto = format!(
                "{com} não respondeu a tempo; você voltou para a fila, no lugar da sua chegada."
            );
            self.avisar(hora, &texto);
        }
        let departamento = match &self.papel {
            Papel::Cliente { departamento } => Some(departamento.clone()),
            Papel::Atendente { .. } | Papel::Supervisor => None,
        };
        match (self.atendentes_online, atendentes) {
            (Some(0), 0) => {}
            (_, 0) => self.avisar(hora, &exibicao::ninguem_online(departamento.as_deref())),
            (Some(0), _) => {
                let onde = departamento.map(|d| format!(" em {d}")).unwrap_or_default();
                let texto = format!("Um atendente ficou online{onde}; você continua na fila.");
                self.avisar(hora, &texto);
            }
            _ => {}
        }
        self.atendentes_online = Some(atendentes);
        self.estimativa_s = estimativa_s;
        self.situacao = Situacao::NaFila(posicao);
    }

    /// (Agents) what the customer wrote while it waited, in the chat's tab.
    fn na_espera(&mut self, conversa: u64, textos: &[String], hora: &str) {
        let Some(com) = self
            .indice_da_aba(conversa)
            .map(|i| self.abas[i].com.clone())
        else {
            return;
        };
        self.avisar_na(conversa, hora, "Escrito pelo cliente enquanto esperava:");
        for texto in textos {
            let registro = Registro {
                hora: hora.to_owned(),
                autor: Autor::Parceiro(com.clone()),
                texto: exibicao::limpar(texto),
            };
            self.na_conversa(conversa, registro);
        }
    }

    /// (Customers) a chat started, or went on with another agent: in the middle of a chat, its
    /// agent did not answer in time (a transfer was already told, and set the chat aside).
    fn conectado(&mut self, quadro: &DoBroker, hora: &str) {
        let DoBroker::Conectado {
            com,
            conversa,
            departamento,
            espera_ms,
        } = quadro
        else {
            return;
        };
        if let Situacao::EmConversa { com: antes, .. } = &self.situacao {
            let texto = format!("{antes} não respondeu a tempo.");
            self.avisar(hora, &texto);
        }
        self.situacao = Situacao::EmConversa {
            conversa: *conversa,
            com: exibicao::limpar(com),
            departamento: exibicao::limpar(departamento),
            espera_ms: *espera_ms,
        };
        self.parceiro_ausente = false;
        self.na_espera = 0;
        self.atendentes_online = None;
        self.estimativa_s = None;
        self.avisar(hora, &exibicao::texto(quadro, false));
    }

    /// (Agents) one of its chats ended: told in its tab, which stays until the agent looks
    /// elsewhere, and in the log of notices (a new chat may take the view first). Losing a
    /// customer for not answering pauses the agent: that is also said where it looks.
    fn fim_de_conversa(&mut self, conversa: u64, motivo: MotivoFim, aviso: &str, hora: &str) {
        self.avisar_na(conversa, hora, aviso);
        let em_vista = self
            .aba_em_vista()
            .is_some_and(|aba| aba.conversa == conversa);
        self.conversa.push(Registro {
            hora: hora.to_owned(),
            autor: Autor::Aviso,
            texto: aviso.trim_matches('*').trim().to_owned(),
        });
        if motivo == MotivoFim::SemResposta && !em_vista && self.em_vista != 0 {
            self.avisar(hora, aviso);
        }
        if let Some(i) = self.indice_da_aba(conversa) {
            self.abas[i].encerrada = true;
            self.abas[i].parceiro_ausente = false;
        }
        self.situacao = if self.pausado {
            Situacao::Pausado
        } else {
            Situacao::Livre
        };
    }

    /// (Agents) the lines so far of a chat handed over, in its tab.
    fn transcricao(&mut self, conversa: u64, falas: &[proto::Fala], hora: &str) {
        self.avisar_na(conversa, hora, "A conversa até aqui:");
        for fala in falas {
            let registro = Registro {
                hora: hora.to_owned(),
                autor: Autor::Parceiro(exibicao::limpar(&fala.de)),
                texto: exibicao::limpar(&fala.texto),
            };
            self.na_conversa(conversa, registro);
        }
    }

    /// Whether `conversa` is a chat this person is in now.
    fn aberta(&self, conversa: u64) -> bool {
        if self.atendente() {
            self.abertas().any(|aba| aba.conversa == conversa)
        } else {
            matches!(self.situacao, Situacao::EmConversa { conversa: atual, .. } if atual == conversa)
        }
    }

    /// (Agents) a new chat gets a tab; it comes into view unless another open chat is.
    fn nova_aba(&mut self, quadro: &DoBroker, hora: &str) {
        let DoBroker::Conectado {
            com,
            conversa,
            departamento,
            espera_ms,
        } = quadro
        else {
            return;
        };
        self.abas.push(Aba {
            conversa: *conversa,
            com: exibicao::limpar(com),
            departamento: exibicao::limpar(departamento),
            espera_ms: *espera_ms,
            registros: Vec::new(),
            nao_lida: true,
            parceiro_ausente: false,
            encerrada: false,
        });
        self.avisar_na(*conversa, hora, &exibicao::texto(quadro, true));
        // Not while something is being typed: it was meant for the chat in view.
        let livre = self.aba_em_vista().is_none_or(|aba| aba.encerrada);
        if livre && self.editor.texto().is_empty() {
            self.ver(self.abas.len());
        }
    }

    /// The end of a customer's chat (a rating may be asked next) or of a session.
    fn fim(&mut self, conversa: u64, motivo: MotivoFim, hora: &str) {
        let atendente = self.atendente();
        self.parceiro_ausente = false;
        self.broker_saiu = motivo == MotivoFim::BrokerEncerrando;
        let avaliou = std::mem::take(&mut self.avaliou);
        let texto = match motivo {
            MotivoFim::ClienteSaiu if avaliou => {
                "*** Obrigado pela sua nota! Até logo. ***".to_owned()
            }
            _ => exibicao::texto(&DoBroker::Fim { conversa, motivo }, atendente),
        };
        self.avisar(hora, &texto);
        self.situacao = match (motivo, atendente) {
            (MotivoFim::AtendenteSaiu | MotivoFim::AtendenteDesconectou, false) => {
                Situacao::Procurando
            }
            (MotivoFim::ClienteSaiu, false) if avaliou => {
                Situacao::Encerrada("Obrigado pela sua nota!".to_owned())
            }
            _ => Situacao::Encerrada(exibicao::fim(motivo, atendente).to_owned()),
        };
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

    /// Shows a notice about a chat: in its tab (an agent's), else where the person looks.
    fn avisar_na(&mut self, conversa: u64, hora: &str, texto: &str) {
        let registro = Registro {
            hora: hora.to_owned(),
            autor: Autor::Aviso,
            texto: texto.trim_matches('*').trim().to_owned(),
        };
        self.na_conversa(conversa, registro);
    }

    /// Adds an entry of a chat: to its tab (an agent's, marked unread when not in view), else
    /// where the person looks.
    fn na_conversa(&mut self, conversa: u64, registro: Registro) {
        let Some(i) = self.indice_da_aba(conversa) else {
            return self.registrar(&registro.hora, registro.autor, registro.texto);
        };
        let em_vista = self.em_vista == i + 1;
        let aba = &mut self.abas[i];
        aba.registros.push(registro);
        aba.nao_lida |= !em_vista;
        if em_vista && self.rolagem > 0 {
            self.rolagem += 1;
        }
    }

    fn avisar(&mut self, hora: &str, texto: &str) {
        self.registrar(
            hora,
            Autor::Aviso,
            texto.trim_matches('*').trim().to_owned(),
        );
    }

    /// Adds an entry where the person looks: the chat in view, or the general log.
    fn registrar(&mut self, hora: &str, autor: Autor, texto: String) {
        let registro = Registro {
            hora: hora.to_owned(),
            autor,
            texto,
        };
        match self.em_vista.checked_sub(1) {
            Some(i) => self.abas[i].registros.push(registro),
            None => self.conversa.push(registro),
        }
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
            capacidade: 1,
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
                capacidade: 1,
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
        let antes = modelo.registros_em_vista().len();
        let anteriores = |conversa| {
            Msg::Broker(DoBroker::Anteriores {
                conversa,
                conversas: vec![],
            })
        };
        // About a chat that is already over: past news, not shown.
        modelo.atualizar(anteriores(7), "10:02");
        assert_eq!(modelo.registros_em_vista().len(), antes);
        modelo.atualizar(anteriores(1), "10:02");
        assert_eq!(modelo.registros_em_vista().len(), antes + 1);
        assert_eq!(
            modelo.registros_em_vista().last().unwrap().texto,
            "Primeiro atendimento deste cliente."
        );
    }

    #[test]
    fn cliente_ve_a_fila_e_conversa() {
        let mut modelo = cliente();
        assert_eq!(modelo.situacao, Situacao::Procurando);
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 3,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:01",
        );
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
                conversa: 1,
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
                conversa: 1,
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
    fn cliente_avalia_o_atendimento_encerrado() {
        let mut modelo = cliente();
        modelo.atualizar(conectado("Yuri"), "10:02");
        let fim = |conversa, motivo| Msg::Broker(DoBroker::Fim { conversa, motivo });
        modelo.atualizar(fim(1, MotivoFim::AtendenteEncerrou), "10:05");
        let pedido = DoBroker::Avaliacao {
            conversa: 1,
            prazo_s: 120,
        };
        modelo.atualizar(Msg::Broker(pedido), "10:05");
        assert_eq!(modelo.situacao, Situacao::Avaliando { conversa: 1 });
        // Text is not a grade: it stays in the input line.
        assert!(digitar(&mut modelo, "valeu").is_empty());
        assert_eq!(modelo.editor.texto(), "valeu");
        modelo.atualizar(tecla(KeyCode::Home), "10:05");
        modelo.atualizar(
            Msg::Tecla(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
            "10:05",
        );
        for _ in 0..5 {
            modelo.atualizar(tecla(KeyCode::Delete), "10:05");
        }
        assert_eq!(
            digitar(&mut modelo, "4"),
            vec![Acao::Enviar(ParaBroker::Avaliar {
                conversa: 1,
                nota: 4,
                seq: 0
            })]
        );
        modelo.atualizar(fim(0, MotivoFim::ClienteSaiu), "10:05");
        assert_eq!(
            modelo.situacao,
            Situacao::Encerrada("Obrigado pela sua nota!".into())
        );
    }

    #[test]
    fn cliente_na_fila_escreve_ate_dez_linhas_para_o_atendente() {
        let mut modelo = cliente();
        let fila = DoBroker::Fila {
            posicao: 2,
            atendentes: 0,
            estimativa_s: None,
        };
        modelo.atualizar(Msg::Broker(fila), "10:00");
        assert!(
            modelo
                .ultimo_aviso()
                .unwrap()
                .contains("Nenhum atendente online em geral")
        );
        for i in 1..=proto::NA_ESPERA_MAXIMO {
            let acoes = digitar(&mut modelo, &format!("linha {i}"));
            assert!(matches!(
                &acoes[..],
                [Acao::Enviar(ParaBroker::Mensagem { conversa: 0, .. })]
            ));
        }
        assert!(digitar(&mut modelo, "mais uma").is_empty());
        assert_eq!(modelo.editor.texto(), "mais uma");
        // Once the chat starts, it can be sent.
        modelo.atualizar(conectado("Yuri"), "10:02");
        modelo.atualizar(tecla(KeyCode::Enter), "10:02");
        assert_eq!(modelo.editor.texto(), "");
    }

    #[test]
    fn queda_do_atendente_volta_para_a_fila() {
        let mut modelo = cliente();
        modelo.atualizar(conectado("Yuri"), "10:02");
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                conversa: 1,
                motivo: MotivoFim::AtendenteDesconectou,
            }),
            "10:03",
        );
        assert_eq!(modelo.situacao, Situacao::Procurando);
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 1,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:03",
        );
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
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 2,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:01",
        );
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
                conversa: 1,
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
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(1));
        assert_eq!(
            digitar(&mut modelo, "/fim"),
            vec![Acao::Enviar(ParaBroker::Encerrar {
                conversa: 1,
                seq: 0
            })]
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                conversa: 1,
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
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 1,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:00",
        );
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

    fn conectado_em(com: &str, conversa: u64) -> Msg {
        Msg::Broker(DoBroker::Conectado {
            com: com.into(),
            conversa,
            departamento: "geral".into(),
            espera_ms: 1_000,
        })
    }

    fn linha_de(conversa: u64, de: &str, texto: &str) -> Msg {
        Msg::Broker(DoBroker::Mensagem {
            conversa,
            de: de.into(),
            texto: texto.into(),
        })
    }

    fn alt(digito: char) -> Msg {
        Msg::Tecla(KeyEvent::new(KeyCode::Char(digito), KeyModifiers::ALT))
    }

    #[test]
    fn atendente_com_varias_conversas_tem_uma_aba_para_cada() {
        let mut modelo = atendente();
        modelo.atualizar(conectado_em("Ana", 1), "10:00");
        modelo.atualizar(conectado_em("Bia", 2), "10:00");
        // The first chat came into view; the second waits, unread.
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(1));
        assert!(modelo.abas[1].nao_lida);
        modelo.atualizar(linha_de(2, "Bia", "oi?"), "10:01");
        modelo.atualizar(linha_de(1, "Ana", "olá"), "10:01");
        assert_eq!(modelo.abas[0].registros.last().unwrap().texto, "olá");
        assert_eq!(modelo.abas[1].registros.last().unwrap().texto, "oi?");
        // What is typed goes to the chat in view.
        assert_eq!(
            digitar(&mut modelo, "bom dia, Ana"),
            vec![Acao::Enviar(ParaBroker::Mensagem {
                conversa: 1,
                texto: "bom dia, Ana".into(),
                seq: 0,
            })]
        );
        modelo.atualizar(alt('2'), "10:02");
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(2));
        assert!(!modelo.abas[1].nao_lida);
        assert_eq!(
            digitar(&mut modelo, "/fim"),
            vec![Acao::Enviar(ParaBroker::Encerrar {
                conversa: 2,
                seq: 0
            })]
        );
        let ctrl_esquerda = KeyEvent::new(KeyCode::Left, KeyModifiers::CONTROL);
        modelo.atualizar(Msg::Tecla(ctrl_esquerda), "10:02");
        assert_eq!(modelo.em_vista, 1);
        modelo.atualizar(Msg::Tecla(ctrl_esquerda), "10:02");
        assert_eq!(
            modelo.em_vista, 0,
            "the general log is left of the first tab"
        );
    }

    #[test]
    fn sem_conversa_em_vista_o_texto_fica_e_o_app_pede_a_escolha() {
        let mut modelo = atendente();
        modelo.atualizar(conectado_em("Ana", 1), "10:00");
        modelo.atualizar(conectado_em("Bia", 2), "10:00");
        modelo.atualizar(alt('0'), "10:01");
        assert!(digitar(&mut modelo, "para quem?").is_empty());
        assert_eq!(modelo.editor.texto(), "para quem?", "nothing typed is lost");
        assert_eq!(modelo.conversa.last().unwrap().autor, Autor::Erro);
        // A numbered /fim needs no chat in view.
        modelo.editor.enviar();
        assert_eq!(
            digitar(&mut modelo, "/fim 2"),
            vec![Acao::Enviar(ParaBroker::Encerrar {
                conversa: 2,
                seq: 0
            })]
        );
    }

    #[test]
    fn aba_encerrada_fica_ate_o_atendente_olhar_outra() {
        let mut modelo = atendente();
        modelo.atualizar(conectado_em("Ana", 1), "10:00");
        modelo.atualizar(conectado_em("Bia", 2), "10:00");
        let fim = |conversa| {
            Msg::Broker(DoBroker::Fim {
                conversa,
                motivo: MotivoFim::ClienteSaiu,
            })
        };
        modelo.atualizar(fim(1), "10:01");
        assert!(modelo.abas[0].encerrada, "still there, to be read");
        assert!(
            modelo.abas[0]
                .registros
                .last()
                .unwrap()
                .texto
                .contains("#1"),
            "the end is told in its tab"
        );
        modelo.atualizar(alt('2'), "10:02");
        assert_eq!(modelo.abas.len(), 1, "closed once left");
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(2));
        // A new chat comes into view when the one in view has ended.
        modelo.atualizar(fim(2), "10:03");
        modelo.atualizar(conectado_em("Caio", 3), "10:04");
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(3));
        assert_eq!(modelo.abas.len(), 1);
    }

    #[test]
    fn cliente_passado_adiante_quando_o_atendente_nao_responde() {
        let mut modelo = cliente();
        modelo.atualizar(conectado_em("Yuri", 1), "10:00");
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 1,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:02",
        );
        assert_eq!(modelo.situacao, Situacao::NaFila(1));
        assert!(
            modelo
                .ultimo_aviso()
                .unwrap()
                .contains("Yuri não respondeu a tempo")
        );
        modelo.atualizar(conectado_em("Zoe", 1), "10:02");
        // Straight to another agent, with no place in line between.
        modelo.atualizar(conectado_em("Caio", 1), "10:04");
        assert!(modelo.ultimo_aviso().unwrap().contains("falando com Caio"));
        assert!(
            modelo
                .conversa
                .iter()
                .any(|registro| registro.texto.contains("Zoe não respondeu a tempo"))
        );
    }

    #[test]
    fn cliente_transferido_para_um_departamento_espera_sem_falso_aviso() {
        let mut modelo = cliente();
        modelo.atualizar(conectado_em("Yuri", 4), "10:00");
        let transferido = DoBroker::Transferido {
            conversa: 4,
            para: "suporte".into(),
        };
        modelo.atualizar(Msg::Broker(transferido), "10:01");
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 1,
                atendentes: 1,
                estimativa_s: None,
            }),
            "10:01",
        );
        modelo.atualizar(conectado_em("Zoe", 4), "10:02");
        let textos: Vec<&str> = modelo.conversa.iter().map(|r| r.texto.as_str()).collect();
        assert!(
            textos
                .iter()
                .any(|t| t.contains("transferida para suporte")),
            "{textos:?}"
        );
        assert!(
            !textos.iter().any(|t| t.contains("não respondeu")),
            "{textos:?}"
        );
        assert!(matches!(modelo.situacao, Situacao::EmConversa { ref com, .. } if com == "Zoe"));
    }

    #[test]
    fn conversas_continuam_legiveis_sem_conexao() {
        let mut modelo = atendente();
        modelo.atualizar(conectado_em("Ana", 1), "10:00");
        modelo.atualizar(conectado_em("Bia", 2), "10:00");
        modelo.atualizar(Msg::ConexaoEncerrada, "10:01");
        assert_eq!(modelo.ligacao, Ligacao::Perdida);
        modelo.atualizar(alt('2'), "10:02");
        assert_eq!(modelo.aba_em_vista().map(|aba| aba.conversa), Some(2));
        // Enter still offers to reconnect.
        assert_eq!(
            modelo.atualizar(tecla(KeyCode::Enter), "10:02"),
            vec![Acao::Reconectar]
        );
    }
}
