//! The rules that move sessions between the rooms: joining, chatting, pausing, ending, leaving
//! and unanswered chats (rules 1 to 12 and 18 of the [module docs](super)).

use std::time::Duration;

use proto::validacao::{normalizar_departamento_ate, validar_nome_ate, validar_texto_ate};
use proto::{
    Apresentacao, CodigoErro, DoBroker, EstadoAtendente, Fala, Ficha, MotivoFim, NA_ESPERA_MAXIMO,
    Papel, ParaBroker, SessaoId,
};

use super::conversas::Conversa;
use super::estimativas::AvisoFila;
use super::sessoes::{Estado, PapelSessao, Recado, Recados, Retomavel, Sessao, em_ms};
use super::{Efeito, Matchmaker, Registro, retomada};

impl Matchmaker {
    /// A new session presents itself: it is checked (rules 10 and 11), welcomed, and put in its
    /// line or paired (rule 1).
    pub(super) fn entrar(
        &mut self,
        id: SessaoId,
        apresentacao: Apresentacao,
        ficha: Ficha,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.sessoes.get(id).is_some() {
            return;
        }
        let recusa = match validar_nome_ate(&apresentacao.nome, self.parametros.nome_maximo) {
            Ok(nome) => match self.validar_papel(&nome, apresentacao.papel, agora, efeitos) {
                Ok(papel) => return self.registrar(id, nome, papel, ficha, agora, efeitos),
                Err(recusa) => recusa,
            },
            Err(erro) => (CodigoErro::NomeInvalido, erro.to_string()),
        };
        let (codigo, texto) = recusa;
        if codigo == CodigoErro::DepartamentoInvalido {
            let nomes = self.parametros.departamentos.clone();
            let quadro = DoBroker::Departamentos { nomes };
            efeitos.push(Efeito::Enviar { para: id, quadro });
        }
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Erro { codigo, texto },
        });
        efeitos.push(Efeito::Fechar { sessao: id });
    }

    /// The role a new session asked for, with its departments checked and normalized (and, for
    /// a customer, its arrival number), or why it is refused.
    pub(super) fn validar_papel(
        &mut self,
        nome: &str,
        papel: Papel,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) -> Result<PapelSessao, (CodigoErro, String)> {
        let maximo = self.parametros.nome_maximo;
        let invalido = |erro| {
            let texto = format!("departamento inválido: {erro}");
            (CodigoErro::DepartamentoInvalido, texto)
        };
        match papel {
            Papel::Cliente { departamento } => {
                let departamento = normalizar_departamento_ate(&departamento, maximo)
                    .map_err(|erro| invalido(erro.to_string()))?;
                if !self.departamento_conhecido(&departamento) {
                    let texto = self.departamento_desconhecido(&departamento);
                    return Err((CodigoErro::DepartamentoInvalido, texto));
                }
                if self.filas.tamanho(&departamento) >= self.parametros.fila_maxima {
                    let codigo = CodigoErro::FilaCheia;
                    return Err((codigo, codigo.descricao().to_owned()));
                }
                self.ultima_chegada += 1;
                Ok(PapelSessao::Cliente {
                    departamento,
                    chegada: self.ultima_chegada,
                    entrou_em_ms: em_ms(agora),
                    informada: AvisoFila::default(),
                    na_espera: Recados::default(),
                    transferida: None,
                    espera_aberta: true,
                })
            }
            Papel::Supervisor => Err((
                CodigoErro::NaoAutorizado,
                "um supervisor não entra em fila nem em conversa".to_owned(),
            )),
            Papel::Atendente {
                departamentos,
                capacidade,
            } => {
                let mut normalizados: Vec<String> = Vec::with_capacity(departamentos.len());
                for departamento in &departamentos {
                    let departamento = normalizar_departamento_ate(departamento, maximo)
                        .map_err(|erro| invalido(erro.to_string()))?;
                    if !self.departamento_conhecido(&departamento) {
                        let texto = self.departamento_desconhecido(&departamento);
                        return Err((CodigoErro::DepartamentoInvalido, texto));
                    }
                    if !normalizados.contains(&departamento) {
                        normalizados.push(departamento);
                    }
                }
                if normalizados.is_empty() {
                    let texto = "informe ao menos um departamento".to_owned();
                    return Err((CodigoErro::DepartamentoInvalido, texto));
                }
                self.liberar_nome_de_suspenso(nome, agora, efeitos);
                if self.sessoes.nome_em_uso(nome) {
                    let texto = format!("já existe um atendente conectado com o nome {nome}");
                    return Err((CodigoErro::NomeEmUso, texto));
                }
                let maxima = self.parametros.capacidade_maxima.max(1);
                Ok(PapelSessao::Atendente {
                    departamentos: normalizados,
                    capacidade: usize::from(capacidade).clamp(1, maxima),
                    conversas: Vec::new(),
                    pausado: false,
                    espera_informada: 0,
                    estado_desde: (EstadoAtendente::Livre, agora),
                })
            }
        }
    }

    /// Registers a session that passed its checks, welcomes it, and puts it to work.
    fn registrar(
        &mut self,
        id: SessaoId,
        nome: String,
        papel: PapelSessao,
        ficha: Ficha,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        // An all-zero secret means the actor had no randomness: that session is not resumable.
        let chave = retomada::resumo(&ficha);
        let retomavel = self.parametros.tolerancia > Duration::ZERO
            && ficha != [0; 16]
            && !self.sessoes.ficha_em_uso(&chave);
        if let PapelSessao::Atendente { departamentos, .. } = &papel {
            self.filas.servir(departamentos, id);
        }
        let cliente = matches!(papel, PapelSessao::Cliente { .. });
        let sessao = Sessao::nova(nome, papel, retomavel.then(|| Retomavel::new(chave)));
        let ficha = if retomavel { ficha } else { [0; 16] };
        let capacidade = sessao.capacidade();
        let quadro = retomada::bemvindo(&self.parametros, id, ficha, (false, 0), capacidade);
        self.sessoes.inserir(id, sessao);
        efeitos.push(Efeito::Enviar { para: id, quadro });
        if !self.parametros.departamentos.is_empty() {
            let nomes = self.parametros.departamentos.clone();
            let quadro = DoBroker::Departamentos { nomes };
            efeitos.push(Efeito::Enviar { para: id, quadro });
        }
        if cliente {
            self.contar_chegada(id);
            self.colocar_cliente(id, agora, efeitos);
        } else {
            self.informar_espera(id, true, efeitos);
            self.liberar_atendente(id, agora, efeitos);
        }
    }

    /// Handles a frame from a registered session.
    pub(super) fn receber(
        &mut self,
        id: SessaoId,
        quadro: ParaBroker,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get(id) else {
            return;
        };
        let cliente = sessao.cliente();
        match quadro {
            ParaBroker::Apresentacao(_) => erro(efeitos, id, CodigoErro::ApresentacaoRepetida),
            // Heartbeats are the connection's business, acknowledgements are taken before this
            // point: one that reaches here changes nothing.
            ParaBroker::Pong | ParaBroker::Recebidos { .. } => {}
            ParaBroker::Mensagem {
                conversa,
                texto,
                seq,
            } => self.repassar(id, conversa, texto, seq, agora, efeitos),
            ParaBroker::Encerrar { .. } | ParaBroker::Sair { .. } if cliente => {
                self.remover(id, true, agora, efeitos)
            }
            ParaBroker::Encerrar { conversa, .. } => {
                self.encerrar_conversa(id, conversa, agora, efeitos)
            }
            ParaBroker::Sair { .. } => self.remover(id, true, agora, efeitos),
            ParaBroker::Pausar { .. } | ParaBroker::Voltar { .. } if cliente => {
                erro(efeitos, id, CodigoErro::ApenasAtendente)
            }
            ParaBroker::Transferir { .. } if cliente => {
                erro(efeitos, id, CodigoErro::ApenasAtendente)
            }
            ParaBroker::Transferir {
                conversa, destino, ..
            } => self.transferir(id, conversa, destino, agora, efeitos),
            ParaBroker::Avaliar { conversa, nota, .. } => {
                self.avaliar(id, conversa, nota, agora, efeitos)
            }
            ParaBroker::Pausar { .. } => self.pausar(id, efeitos),
            ParaBroker::Voltar { .. } => self.voltar(id, agora, efeitos),
        }
    }

    /// Relays a chat line to the other side of its conversation (rule 6).
    pub(super) fn repassar(
        &mut self,
        id: SessaoId,
        conversa: u64,
        texto: String,
        seq: u64,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get(id) else {
            return;
        };
        if sessao.estado == Estado::Aguardando {
            return self.guardar_na_espera(id, conversa, texto, seq, agora, efeitos);
        }
        // A customer's line for no chat in particular (written while it waited, or before it
        // read its `Conectado`) goes to the one chat it is in.
        let conversa = match sessao.conversa() {
            Some(sua) if conversa == 0 && sessao.cliente() => sua,
            _ => conversa,
        };
        if !sessao.em_conversa() {
            let texto = "você não está em uma conversa; a mensagem não foi entregue";
            return erro_com(efeitos, id, CodigoErro::SemConversa, texto);
        }
        if !sessao.tem_conversa(conversa) {
            let texto = "essa conversa já terminou; a mensagem não foi entregue";
            return erro_com(efeitos, id, CodigoErro::SemConversa, texto);
        }
        if let Err(invalido) = validar_texto_ate(&texto, self.parametros.texto_maximo) {
            let texto = invalido.to_string();
            return erro_com(efeitos, id, CodigoErro::TextoInvalido, &texto);
        }
        let Some(parceiro) = self.parceiro(id, conversa) else {
            return;
        };
        let (nome, do_atendente) = (sessao.nome().to_owned(), !sessao.cliente());
        let fala = Fala {
            de: nome.clone(),
            do_atendente,
            texto: texto.clone(),
        };
        self.anotar_linha(conversa, fala, seq, agora, efeitos);
        efeitos.push(Efeito::Enviar {
            para: parceiro,
            quadro: DoBroker::Mensagem {
                conversa,
                de: nome,
                texto,
            },
        });
    }

    /// The agent ends one of its chats (rule 8): both sides get `Fim`, the customer is asked
    /// to rate it or let go (rule 23), the agent has room again.
    pub(super) fn encerrar_conversa(
        &mut self,
        id: SessaoId,
        conversa: u64,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.get(id) else {
            return;
        };
        if !sessao.tem_conversa(conversa) {
            let texto = if !sessao.em_conversa() {
                "não há conversa para encerrar"
            } else {
                "essa conversa não está aberta com você"
            };
            return erro_com(efeitos, id, CodigoErro::SemConversa, texto);
        }
        let Some(aberta) = self.conversas.fechar(conversa) else {
            return;
        };
        let cliente = aberta.cliente;
        self.anotar_atendimento(cliente, aberta.desde, None, agora);
        let motivo = MotivoFim::AtendenteEncerrou;
        self.registrar_fim(conversa, motivo, agora, efeitos);
        for para in [cliente, id] {
            let quadro = DoBroker::Fim { conversa, motivo };
            efeitos.push(Efeito::Enviar { para, quadro });
        }
        self.pedir_avaliacao(cliente, conversa, agora, efeitos);
        self.soltar_conversa(id, conversa, agora, efeitos);
    }

    /// An agent who has not answered a chat in time loses its customer (rule 18): the chat ends
    /// for the agent (`SemResposta`), who is paused until it comes back, and the customer goes
    /// back to its line at the place its arrival gives it, carrying the chat (its id and lines)
    /// to the next agent, as a chat handed to a department does (rule 19).
    pub(super) fn cobrar_respostas(&mut self, agora: Duration, efeitos: &mut Vec<Efeito>) {
        for conversa in self.conversas.sem_resposta(agora) {
            let Some(aberta) = self.conversas.fechar(conversa) else {
                continue;
            };
            let (atendente, cliente) = (aberta.atendente, aberta.cliente);
            self.anotar_atendimento(cliente, aberta.desde, None, agora);
            self.contar_transferencia(cliente, true);
            self.registrar_sem_resposta(conversa, atendente, cliente, agora, efeitos);
            let motivo = MotivoFim::SemResposta;
            let quadro = DoBroker::Fim { conversa, motivo };
            efeitos.push(Efeito::Enviar {
                para: atendente,
                quadro,
            });
            if let Some(Sessao {
                papel: PapelSessao::Atendente { pausado, .. },
                ..
            }) = self.sessoes.get_mut(atendente)
            {
                *pausado = true;
            }
            self.soltar_conversa(atendente, conversa, agora, efeitos);
            let quadro = DoBroker::Pausa { pausado: true };
            efeitos.push(Efeito::Enviar {
                para: atendente,
                quadro,
            });
            self.devolver_com_a_conversa(cliente, (conversa, aberta), None, agora, efeitos);
            self.mudadas_em_silencio.push(cliente);
        }
    }

    /// The history's record of a chat its agent did not answer: a transfer to the customer's
    /// line, marked as such.
    fn registrar_sem_resposta(
        &self,
        conversa: u64,
        atendente: SessaoId,
        cliente: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if !self.parametros.historico {
            return;
        }
        let de = self.sessoes.get(atendente).map(|s| s.nome().to_owned());
        let para = match self.sessoes.get(cliente).map(|s| &s.papel) {
            Some(PapelSessao::Cliente { departamento, .. }) => departamento.clone(),
            _ => String::new(),
        };
        efeitos.push(Efeito::Registrar(Registro::Transferencia {
            conversa,
            de: de.unwrap_or_default(),
            para,
            sem_resposta: true,
            em: agora,
        }));
    }

    /// By when the agent of a chat starting at `agora` must answer (none: no deadline).
    pub(super) fn prazo_de_resposta(&self, agora: Duration) -> Option<Duration> {
        let prazo = self.parametros.prazo_resposta;
        (!prazo.is_zero()).then(|| agora.saturating_add(prazo))
    }

    /// A chat of an agent's ended: it has room for one more customer.
    fn soltar_conversa(
        &mut self,
        atendente: SessaoId,
        conversa: u64,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        self.tirar_conversa(atendente, conversa);
        self.liberar_atendente(atendente, agora, efeitos);
    }

    /// Takes a chat from an agent's list, and the agent out of the free lines: the caller puts
    /// it back to work ([`Matchmaker::liberar_atendente`]).
    pub(super) fn tirar_conversa(&mut self, atendente: SessaoId, conversa: u64) {
        self.tirar_dos_livres(atendente);
        if let Some(Sessao {
            papel: PapelSessao::Atendente { conversas, .. },
            ..
        }) = self.sessoes.get_mut(atendente)
        {
            conversas.retain(|&c| c != conversa);
        }
    }

    /// A customer goes back to its line carrying its chat (`aberta`, closed meanwhile), to
    /// whoever takes it next (rules 18 and 19); its department becomes `departamento`, if given.
    pub(super) fn devolver_com_a_conversa(
        &mut self,
        cliente: SessaoId,
        (conversa, aberta): (u64, Conversa),
        departamento: Option<String>,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if let Some(Sessao {
            papel:
                PapelSessao::Cliente {
                    departamento: seu,
                    transferida,
                    ..
                },
            ..
        }) = self.sessoes.get_mut(cliente)
        {
            if let Some(departamento) = departamento {
                *seu = departamento;
            }
            *transferida = Some(Box::new((conversa, aberta)));
        }
        self.colocar_cliente(cliente, agora, efeitos);
    }

    /// An agent pauses (rule 12): it leaves the free lines; its chats go on.
    pub(super) fn pausar(&mut self, id: SessaoId, efeitos: &mut Vec<Efeito>) {
        if let Some(Sessao {
            papel: PapelSessao::Atendente { pausado, .. },
            ..
        }) = self.sessoes.get_mut(id)
        {
            *pausado = true;
        }
        self.parar_atendente(id);
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Pausa { pausado: true },
        });
    }

    /// A paused agent comes back (rule 12): it takes customers again, if it has room.
    pub(super) fn voltar(&mut self, id: SessaoId, agora: Duration, efeitos: &mut Vec<Efeito>) {
        let Some(sessao) = self.sessoes.get_mut(id) else {
            return;
        };
        if let PapelSessao::Atendente { pausado, .. } = &mut sessao.papel {
            *pausado = false;
        }
        let parado = sessao.estado == Estado::Parado;
        efeitos.push(Efeito::Enviar {
            para: id,
            quadro: DoBroker::Pausa { pausado: false },
        });
        if parado {
            self.liberar_atendente(id, agora, efeitos);
        }
    }

    /// An agent stops taking customers (it paused, or its connection is gone): out of the free
    /// lines, whatever chats it has.
    pub(super) fn parar_atendente(&mut self, id: SessaoId) {
        self.tirar_dos_livres(id);
        if let Some(sessao) = self.sessoes.get_mut(id)
            && !sessao.cliente()
        {
            sessao.estado = Estado::Parado;
        }
    }

    /// Takes a free agent out of the free lines of all its departments (its state is then the
    /// caller's to set).
    pub(super) fn tirar_dos_livres(&mut self, id: SessaoId) {
        let Some(Sessao {
            papel: PapelSessao::Atendente { departamentos, .. },
            estado,
            ..
        }) = self.sessoes.get_mut(id)
        else {
            return;
        };
        if let Some(vez) = estado.vez(id) {
            self.filas.ocupar(departamentos, vez);
            *estado = Estado::Lotado;
        }
    }

    /// Takes a session out of the machine: it left (`por_vontade`) or its connection was lost.
    /// The other side of each of its chats is told why: an agent has room again (rule 7), a
    /// customer goes back to its line (rule 9); one who left on purpose is told goodbye.
    pub(super) fn remover(
        &mut self,
        id: SessaoId,
        por_vontade: bool,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(sessao) = self.sessoes.esquecer(id) else {
            return;
        };
        let cliente = sessao.cliente();
        let motivo = match (cliente, por_vontade) {
            (true, true) => MotivoFim::ClienteSaiu,
            (true, false) => MotivoFim::ClienteDesconectou,
            (false, true) => MotivoFim::AtendenteSaiu,
            (false, false) => MotivoFim::AtendenteDesconectou,
        };
        match (&sessao.papel, sessao.estado) {
            (
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    transferida,
                    espera_aberta,
                    entrou_em_ms,
                    ..
                },
                Estado::Aguardando,
            ) => {
                self.filas.tirar(departamento, *chegada);
                if *espera_aberta {
                    let espera = (departamento.as_str(), sessao.nome(), *entrou_em_ms);
                    self.terminar_espera(espera, false, agora, efeitos);
                }
                // A chat handed to the line ends with the customer who waited for it.
                if let Some(pendente) = transferida {
                    self.registrar_fim(pendente.0, motivo, agora, efeitos);
                }
            }
            (PapelSessao::Cliente { departamento, .. }, _) => {
                if let Some(conversa) = sessao.conversa() {
                    self.fim_para_o_atendente(conversa, departamento, motivo, agora, efeitos);
                }
            }
            (PapelSessao::Atendente { departamentos, .. }, estado) => {
                self.filas.deixar(departamentos, id, estado.vez(id));
                self.devolver_clientes(&sessao.conversas(), motivo, agora, efeitos);
            }
        }
        if por_vontade {
            let conversa = if cliente { sessao.conversa() } else { None };
            let quadro = DoBroker::Fim {
                conversa: conversa.unwrap_or(0),
                motivo,
            };
            efeitos.push(Efeito::Enviar { para: id, quadro });
        }
        efeitos.push(Efeito::Fechar { sessao: id });
    }

    /// A customer of `departamento` left its chat: the agent is told and has room again (rule
    /// 7).
    fn fim_para_o_atendente(
        &mut self,
        conversa: u64,
        departamento: &str,
        motivo: MotivoFim,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(aberta) = self.conversas.fechar(conversa) else {
            return;
        };
        let atendente = aberta.atendente;
        self.anotar_atendimento(aberta.cliente, aberta.desde, Some(departamento), agora);
        self.registrar_fim(conversa, motivo, agora, efeitos);
        let quadro = DoBroker::Fim { conversa, motivo };
        efeitos.push(Efeito::Enviar {
            para: atendente,
            quadro,
        });
        self.soltar_conversa(atendente, conversa, agora, efeitos);
    }

    /// An agent left its chats: each customer is told and goes back to its line, the one who
    /// arrived first first (rule 9).
    fn devolver_clientes(
        &mut self,
        conversas: &[u64],
        motivo: MotivoFim,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let mut clientes: Vec<(u64, SessaoId, u64)> = Vec::with_capacity(conversas.len());
        for &conversa in conversas {
            let Some(cliente) = self.conversas.fechar(conversa).map(|c| c.cliente) else {
                continue;
            };
            self.registrar_fim(conversa, motivo, agora, efeitos);
            let quadro = DoBroker::Fim { conversa, motivo };
            efeitos.push(Efeito::Enviar {
                para: cliente,
                quadro,
            });
            if let Some(PapelSessao::Cliente { chegada, .. }) =
                self.sessoes.get(cliente).map(|s| &s.papel)
            {
                clientes.push((*chegada, cliente, conversa));
            }
        }
        clientes.sort_unstable();
        for (_, cliente, _) in clientes {
            self.colocar_cliente(cliente, agora, efeitos);
        }
    }

    /// Puts a customer (new, or back after its agent left) into its line, or straight into a
    /// chat with the free agent of its department who has the fewest chats and, of those, was
    /// idle the longest (rules 1, 3 and 9).
    pub(super) fn colocar_cliente(
        &mut self,
        id: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(Sessao {
            papel:
                PapelSessao::Cliente {
                    departamento,
                    chegada,
                    ..
                },
            estado,
            ..
        }) = self.sessoes.get_mut(id)
        else {
            return;
        };
        let Some(atendente) = self.filas.primeiro_livre(departamento) else {
            *estado = Estado::Aguardando;
            let posicao = self.filas.enfileirar(departamento, *chegada, id);
            return self.informar_fila(id, posicao, true, None, efeitos);
        };
        self.tirar_dos_livres(atendente);
        self.parear(id, atendente, agora, efeitos);
        self.liberar_atendente(atendente, agora, efeitos);
    }

    /// Puts an agent who is in no free line to work: while it has room it takes the customer
    /// who has waited longest among its departments, then joins the free lines of all of them
    /// if room is left (rules 1, 3, 7 and 8). A paused agent only stops, and so does a
    /// suspended one: nobody is paired with an agent whose connection is gone.
    pub(super) fn liberar_atendente(
        &mut self,
        id: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        loop {
            let Some(sessao) = self.sessoes.get_mut(id) else {
                return;
            };
            let suspensa = sessao.suspensa();
            let PapelSessao::Atendente {
                departamentos,
                capacidade,
                conversas,
                pausado,
                ..
            } = &sessao.papel
            else {
                return;
            };
            if *pausado || suspensa {
                sessao.estado = Estado::Parado;
                return;
            }
            let carga = conversas.len();
            if carga >= *capacidade {
                sessao.estado = Estado::Lotado;
                return;
            }
            if let Some(cliente) = self.filas.chamar(departamentos) {
                self.parear(cliente, id, agora, efeitos);
                continue;
            }
            self.ultimo_ocio += 1;
            let ocio = self.ultimo_ocio;
            sessao.estado = Estado::Livre { carga, ocio };
            self.filas.livrar(departamentos, (carga, ocio, id));
            return;
        }
    }

    /// Starts a chat between a customer and an agent who are in no line (rule 4), or goes on
    /// with the chat handed to the customer's line (rule 19). Both learn the customer's
    /// department and how long it waited.
    pub(super) fn parear(
        &mut self,
        cliente: SessaoId,
        atendente: SessaoId,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(Sessao {
            papel:
                PapelSessao::Cliente {
                    transferida,
                    espera_aberta,
                    ..
                },
            ..
        }) = self.sessoes.get_mut(cliente)
        else {
            return;
        };
        let transferida = transferida.take();
        if std::mem::take(espera_aberta) {
            self.atender_espera(cliente, agora, efeitos);
        }
        let prazo = self.prazo_de_resposta(agora);
        let (conversa, continuada) = match transferida {
            Some(pendente) => {
                let (id, mut aberta) = *pendente;
                aberta.atendente = atendente;
                aberta.respondida = false;
                aberta.desde = agora;
                self.conversas.reabrir(id, aberta, prazo);
                (id, true)
            }
            None => (
                self.conversas.abrir(cliente, atendente, prazo, agora),
                false,
            ),
        };
        if let Some(sessao) = self.sessoes.get_mut(cliente) {
            sessao.estado = Estado::EmConversa { conversa };
        }
        if let Some(Sessao {
            papel: PapelSessao::Atendente { conversas, .. },
            ..
        }) = self.sessoes.get_mut(atendente)
        {
            conversas.push(conversa);
        }
        self.apresentar(conversa, continuada, agora, efeitos);
    }

    /// Tells both sides of a chat that has just started (or that an agent took over, when
    /// `continuada`) who the other is: `Conectado` to both, the chat so far to an agent who
    /// takes it over, the lookup of the customer's earlier chats, and whether the customer is
    /// away. The history records the start, or who took it over.
    pub(super) fn apresentar(
        &mut self,
        conversa: u64,
        continuada: bool,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some(aberta) = self.conversas.get(conversa) else {
            return;
        };
        let (cliente, atendente) = (aberta.cliente, aberta.atendente);
        let transcricao = continuada.then(|| aberta.transcricao(conversa));
        let Some(Sessao {
            papel:
                PapelSessao::Cliente {
                    departamento,
                    entrou_em_ms,
                    ..
                },
            ..
        }) = self.sessoes.get(cliente)
        else {
            return;
        };
        let (departamento, entrou_em) =
            (departamento.clone(), Duration::from_millis(*entrou_em_ms));
        let (Some(nome_cliente), Some(nome_atendente)) = (
            self.sessoes.get(cliente).map(|s| s.nome().to_owned()),
            self.sessoes.get(atendente).map(|s| s.nome().to_owned()),
        ) else {
            return;
        };
        let espera_ms =
            u64::try_from(agora.saturating_sub(entrou_em).as_millis()).unwrap_or(u64::MAX);
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(if continuada {
                Registro::Assumida {
                    conversa,
                    atendente: nome_atendente.clone(),
                    em: agora,
                }
            } else {
                Registro::Inicio {
                    conversa,
                    departamento: departamento.clone(),
                    cliente: nome_cliente.clone(),
                    atendente: nome_atendente.clone(),
                    entrou_em,
                    conectada_em: agora,
                }
            }));
        }
        let seguintes = transcricao
            .into_iter()
            .chain(self.tomar_na_espera(conversa, &nome_cliente, efeitos))
            .collect();
        let nomes = (nome_cliente, nome_atendente);
        self.apresentar_um_ao_outro(conversa, nomes, departamento, espera_ms, seguintes, efeitos);
    }

    /// A line of a chat, relayed at `em` (its sender's number `seq`): counted, kept for a
    /// transcript, and stored in the history when one is kept.
    fn anotar_linha(
        &mut self,
        conversa: u64,
        fala: Fala,
        seq: u64,
        em: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::Mensagem {
                conversa,
                seq,
                do_atendente: fala.do_atendente,
                autor: fala.de.clone(),
                texto: fala.texto.clone(),
                em,
            }));
        }
        self.conversas.contar_linha(conversa, fala);
    }

    /// The lines the customer of a chat that is starting wrote while it waited (rule 22): they
    /// become the chat's first lines (counted, kept for a transcript, stored with the times
    /// they arrived), and reach the agent as one `NaEspera`.
    fn tomar_na_espera(
        &mut self,
        conversa: u64,
        nome: &str,
        efeitos: &mut Vec<Efeito>,
    ) -> Option<DoBroker> {
        let cliente = self.conversas.get(conversa)?.cliente;
        let recados = match self.sessoes.get_mut(cliente).map(|s| &mut s.papel) {
            Some(PapelSessao::Cliente { na_espera, .. }) if !na_espera.is_empty() => {
                std::mem::take(na_espera)
            }
            _ => return None,
        };
        let mut textos = Vec::with_capacity(recados.len());
        for Recado { texto, em, seq } in recados {
            let fala = Fala {
                de: nome.to_owned(),
                do_atendente: false,
                texto: texto.clone(),
            };
            self.anotar_linha(conversa, fala, seq, em, efeitos);
            textos.push(texto);
        }
        Some(DoBroker::NaEspera { conversa, textos })
    }

    /// A waiting customer's line (rule 22): kept for its agent, if it is for no chat (or for
    /// the chat it waits with), valid, and within [`proto::NA_ESPERA_MAXIMO`] lines and, all
    /// together, the size of one chat text.
    pub(super) fn guardar_na_espera(
        &mut self,
        id: SessaoId,
        conversa: u64,
        texto: String,
        seq: u64,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        let texto_maximo = self.parametros.texto_maximo;
        let Some(PapelSessao::Cliente {
            na_espera,
            transferida,
            ..
        }) = self.sessoes.get_mut(id).map(|s| &mut s.papel)
        else {
            return;
        };
        if conversa != 0 && transferida.as_ref().map(|t| t.0) != Some(conversa) {
            let texto = "essa conversa já terminou; a mensagem não foi entregue";
            return erro_com(efeitos, id, CodigoErro::SemConversa, texto);
        }
        if let Err(invalido) = validar_texto_ate(&texto, texto_maximo) {
            let texto = invalido.to_string();
            return erro_com(efeitos, id, CodigoErro::TextoInvalido, &texto);
        }
        // Together they must fit in one frame, as one chat text does.
        let bytes: usize = na_espera.iter().map(|r| r.texto.len() + 3).sum();
        if na_espera.len() >= NA_ESPERA_MAXIMO || bytes + texto.len() + 3 > texto_maximo {
            return erro(efeitos, id, CodigoErro::EsperaCheia);
        }
        na_espera.push(Recado {
            texto,
            em: agora,
            seq,
        });
        // Only `Confirmada` says so, which the journal does not look at.
        self.mudadas_em_silencio.push(id);
    }

    /// Whether `departamento` (normalized) is one the broker serves (rule 21).
    pub(super) fn departamento_conhecido(&self, departamento: &str) -> bool {
        let conhecidos = &self.parametros.departamentos;
        conhecidos.is_empty() || conhecidos.iter().any(|d| d == departamento)
    }

    /// Why `departamento` is refused, with the list of the known ones.
    pub(super) fn departamento_desconhecido(&self, departamento: &str) -> String {
        let conhecidos = self.parametros.departamentos.join(", ");
        format!("departamento desconhecido: {departamento}; os departamentos são: {conhecidos}")
    }

    /// The frames of [`Matchmaker::apresentar`]: `Conectado` to both sides (`nomes`: the
    /// customer's and the agent's), the chat so far to an agent who takes it over, the lookup
    /// of earlier chats, and whether the customer is away.
    fn apresentar_um_ao_outro(
        &self,
        conversa: u64,
        (nome_cliente, nome_atendente): (String, String),
        departamento: String,
        espera_ms: u64,
        seguintes: Vec<DoBroker>,
        efeitos: &mut Vec<Efeito>,
    ) {
        let Some((cliente, atendente)) = self
            .conversas
            .get(conversa)
            .map(|aberta| (aberta.cliente, aberta.atendente))
        else {
            return;
        };
        for (para, com) in [(cliente, nome_atendente), (atendente, nome_cliente.clone())] {
            let departamento = departamento.clone();
            efeitos.push(Efeito::Enviar {
                para,
                quadro: DoBroker::Conectado {
                    com,
                    conversa,
                    departamento,
                    espera_ms,
                },
            });
        }
        for quadro in seguintes {
            efeitos.push(Efeito::Enviar {
                para: atendente,
                quadro,
            });
        }
        if self.parametros.historico {
            efeitos.push(Efeito::ConsultarAnteriores {
                para: atendente,
                cliente: nome_cliente,
                conversa,
            });
        }
        // A waiting customer may be suspended (its place is kept): its agent should know.
        if self.suspensa(cliente) {
            efeitos.push(Efeito::Enviar {
                para: atendente,
                quadro: DoBroker::Parceiro {
                    conversa,
                    conectado: false,
                },
            });
        }
    }

    /// Records the end of a conversation in the history, when it is kept.
    pub(super) fn registrar_fim(
        &self,
        conversa: u64,
        motivo: MotivoFim,
        agora: Duration,
        efeitos: &mut Vec<Efeito>,
    ) {
        if self.parametros.historico {
            efeitos.push(Efeito::Registrar(Registro::Fim {
                conversa,
                motivo,
                em: agora,
            }));
        }
    }
}

/// Answers a session with an error of the given code and its usual text.
fn erro(efeitos: &mut Vec<Efeito>, para: SessaoId, codigo: CodigoErro) {
    erro_com(efeitos, para, codigo, codigo.descricao());
}

/// Answers a session with an error.
pub(super) fn erro_com(efeitos: &mut Vec<Efeito>, para: SessaoId, codigo: CodigoErro, texto: &str) {
    efeitos.push(Efeito::Enviar {
        para,
        quadro: DoBroker::Erro {
            codigo,
            texto: texto.to_owned(),
        },
    });
}
