//! The customer's side of the line, end to end over real TCP: a broker's list of departments,
//! being told that nobody can answer, the wait estimate, and what a customer writes while it
//! waits.

use std::time::Duration;

use broker::Config;
use broker::armazenamento::Banco;
use proto::{Apresentacao, CodigoErro, Conexao, DoBroker, ErroConexao, MotivoFim, ParaBroker};
use tests::bancos::banco_sqlite;
use tests::{Participante, config_de_teste, esperar_par, iniciar_broker_com};

fn com_departamentos() -> Config {
    Config {
        departamentos: vec!["geral".into(), "vendas".into(), "suporte".into()],
        ..config_de_teste()
    }
}

/// The next `Fila`, skipping nothing else: (place, agents online, estimate).
async fn proxima_fila(cliente: &mut Participante) -> (u32, u32, Option<u32>) {
    match cliente.proximo().await {
        Some(DoBroker::Fila {
            posicao,
            atendentes,
            estimativa_s,
        }) => (posicao, atendentes, estimativa_s),
        outro => panic!("{}: esperava Fila, chegou {outro:?}", cliente.nome),
    }
}

#[tokio::test]
async fn departamento_desconhecido_e_recusado_com_a_lista() {
    let broker = iniciar_broker_com(com_departamentos()).await;
    let endereco = broker.endereco();
    let recusa = Conexao::conectar(endereco, Apresentacao::cliente("Ana", "ve ndas!")).await;
    let Err(ErroConexao::Recusada {
        codigo,
        texto,
        departamentos,
    }) = recusa
    else {
        panic!("esperava a recusa: {:?}", recusa.map(|_| ()));
    };
    assert_eq!(codigo, CodigoErro::DepartamentoInvalido);
    assert_eq!(departamentos, ["geral", "vendas", "suporte"]);
    assert!(texto.contains("geral, vendas, suporte"), "{texto}");
    // An empty department is how a program asks for the list.
    let pergunta = Conexao::conectar(endereco, Apresentacao::cliente("Ana", "")).await;
    assert!(matches!(
        pergunta,
        Err(ErroConexao::Recusada { departamentos, .. }) if departamentos.len() == 3
    ));
    // An agent naming an unknown department is refused too; a known one, in any case, is in.
    let recusa = Conexao::conectar(
        endereco,
        Apresentacao::atendente("Yuri", vec!["rh".into()], tests::TOKEN_DE_TESTE),
    )
    .await;
    assert!(matches!(
        recusa,
        Err(ErroConexao::Recusada {
            codigo: CodigoErro::DepartamentoInvalido,
            ..
        })
    ));
    let mut bia = Participante::cliente(endereco, "Bia", " Vendas").await;
    assert_eq!(
        bia.proximo().await,
        Some(DoBroker::Departamentos {
            nomes: vec!["geral".into(), "vendas".into(), "suporte".into()]
        })
    );
    assert_eq!(proxima_fila(&mut bia).await, (1, 0, None));
    broker.parar().await;
}

#[tokio::test]
async fn sem_atendente_online_o_cliente_sabe_e_sabe_quando_muda() {
    let broker = iniciar_broker_com(config_de_teste()).await;
    let endereco = broker.endereco();
    let mut ana = Participante::cliente(endereco, "Ana", "vendas").await;
    assert_eq!(proxima_fila(&mut ana).await, (1, 0, None));
    let mut bia = Participante::cliente(endereco, "Bia", "vendas").await;
    assert_eq!(proxima_fila(&mut bia).await, (2, 0, None));
    // An agent of another department changes nothing for them.
    let _zoe = Participante::atendente(endereco, "Zoe", &["suporte"]).await;
    // Yuri arrives and takes Ana: Bia is next, and one agent can answer.
    let mut yuri = Participante::atendente(endereco, "Yuri", &["vendas"]).await;
    esperar_par(&mut ana, &mut yuri).await;
    assert_eq!(proxima_fila(&mut bia).await, (1, 1, None));
    // Yuri pauses: nobody can answer again; back from the pause, one can.
    yuri.enviar(ParaBroker::Pausar { seq: 0 }).await;
    assert_eq!(proxima_fila(&mut bia).await, (1, 0, None));
    yuri.enviar(ParaBroker::Voltar { seq: 0 }).await;
    assert_eq!(proxima_fila(&mut bia).await, (1, 1, None));
    broker.parar().await;
}

/// Yuri holds one chat of `geral` for about `duracao`, then ends it.
async fn atender_por(endereco: std::net::SocketAddr, yuri: &mut Participante, duracao: Duration) {
    let mut cliente = Participante::cliente(endereco, "Primeira", "geral").await;
    esperar_par(&mut cliente, yuri).await;
    tokio::time::sleep(duracao).await;
    yuri.encerrar(yuri.conversa).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
}

#[tokio::test]
async fn a_estimativa_vem_do_historico_e_cai_quando_a_fila_anda() {
    let url = banco_sqlite("estimativa");
    let config = Config {
        banco: Some(url.clone()),
        ..config_de_teste()
    };
    // A first broker sees one chat of about 1.5 s.
    let broker = iniciar_broker_com(config.clone()).await;
    let mut yuri = Participante::atendente(broker.endereco(), "Yuri", &["geral"]).await;
    atender_por(broker.endereco(), &mut yuri, Duration::from_millis(1500)).await;
    drop(yuri);
    broker.parar().await;

    // A second one estimates from the history: no agent, no estimate; then one busy agent.
    let broker = iniciar_broker_com(config).await;
    let endereco = broker.endereco();
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    assert_eq!(proxima_fila(&mut ana).await, (1, 0, None));
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    esperar_par(&mut ana, &mut yuri).await;
    let mut clientes = Vec::new();
    let mut estimativas = Vec::new();
    for nome in ["Bia", "Caio", "Duda"] {
        let mut cliente = Participante::cliente(endereco, nome, "geral").await;
        let (posicao, atendentes, estimativa) = proxima_fila(&mut cliente).await;
        assert_eq!((posicao, atendentes), (clientes.len() as u32 + 1, 1));
        estimativas.push(estimativa.expect("an estimate from the history"));
        clientes.push(cliente);
    }
    // About 1.5 s a place: 2, 3 and 5 s (rounded up), growing with the place.
    assert!(
        estimativas[0] >= 2 && estimativas[0] <= 3,
        "{estimativas:?}"
    );
    assert!(estimativas[0] < estimativas[1] && estimativas[1] < estimativas[2]);
    // The line moves: the estimates fall.
    yuri.encerrar(yuri.conversa).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    esperar_par(&mut clientes[0], &mut yuri).await;
    for (indice, cliente) in clientes.iter_mut().enumerate().skip(1) {
        let (posicao, _, estimativa) = proxima_fila(cliente).await;
        assert_eq!(posicao, indice as u32);
        assert!(
            estimativa.expect("an estimate") < estimativas[indice],
            "{estimativa:?} depois de {estimativas:?}"
        );
    }
    broker.parar().await;
}

#[tokio::test]
async fn o_que_se_escreve_na_fila_chega_primeiro_e_fica_no_historico() {
    let url = banco_sqlite("na_espera");
    let config = Config {
        banco: Some(url.clone()),
        ..config_de_teste()
    };
    let broker = iniciar_broker_com(config).await;
    let endereco = broker.endereco();
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    let linhas = ["Oi!", "Meu pedido 123 não chegou", "Podem ver? 📦"];
    for (seq, texto) in (1..).zip(linhas) {
        ana.enviar(ParaBroker::Mensagem {
            conversa: 0,
            texto: texto.into(),
            seq,
        })
        .await;
    }
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let conversa = yuri.esperar_conexao_com("Ana").await;
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::NaEspera {
            conversa,
            textos: linhas.iter().map(|t| t.to_string()).collect()
        }
    );
    // Each was confirmed (kept, not refused) before the chat started.
    ana.esperar_conexao_com("Yuri").await;
    assert_eq!(ana.confirmada, 3);
    ana.dizer("Alguém aí?").await;
    yuri.esperar_mensagem("Ana", "Alguém aí?").await;
    broker.parar().await;

    let banco = Banco::abrir(&url).await.expect("opens");
    let id = i64::try_from(conversa).expect("fits");
    let (_, mensagens) = banco.transcricao(id).await.expect("reads").expect("stored");
    let textos: Vec<&str> = mensagens.iter().map(|m| m.texto.as_str()).collect();
    assert_eq!(textos, [linhas[0], linhas[1], linhas[2], "Alguém aí?"]);
}

#[tokio::test]
async fn a_nota_do_cliente_fica_no_historico_e_filtra_a_listagem() {
    let url = banco_sqlite("avaliacao");
    let config = Config {
        banco: Some(url.clone()),
        prazo_avaliacao: Duration::from_secs(120),
        ..config_de_teste()
    };
    let broker = iniciar_broker_com(config).await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut notas = Vec::new();
    for (nome, nota) in [("Ana", Some(4)), ("Bia", None), ("Caio", Some(9))] {
        let mut cliente = Participante::cliente(endereco, nome, "geral").await;
        let conversa = esperar_par(&mut cliente, &mut yuri).await;
        yuri.encerrar(conversa).await;
        yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
        cliente.esperar_fim(MotivoFim::AtendenteEncerrou).await;
        assert_eq!(
            cliente.proximo_evento().await,
            DoBroker::Avaliacao {
                conversa,
                prazo_s: 120
            }
        );
        // Still there: a line now has no chat to go to.
        cliente.dizer_em(0, "obrigada!").await;
        assert!(matches!(
            cliente.proximo_evento().await,
            DoBroker::Erro {
                codigo: CodigoErro::SemConversa,
                ..
            }
        ));
        let sair = match nota {
            // 9 is refused, and the customer may try again or leave.
            Some(9) => {
                let avaliar = ParaBroker::Avaliar {
                    conversa,
                    nota: 9,
                    seq: 0,
                };
                cliente.enviar(avaliar).await;
                assert!(matches!(
                    cliente.proximo_evento().await,
                    DoBroker::Erro {
                        codigo: CodigoErro::AvaliacaoInvalida,
                        ..
                    }
                ));
                ParaBroker::Sair { seq: 0 }
            }
            Some(nota) => ParaBroker::Avaliar {
                conversa,
                nota,
                seq: 0,
            },
            None => ParaBroker::Sair { seq: 0 },
        };
        cliente.enviar(sair).await;
        cliente.esperar_fim(MotivoFim::ClienteSaiu).await;
        cliente.esperar_fechamento().await;
        notas.push((conversa, nota.filter(|&n| n <= 5)));
    }
    broker.parar().await;

    let banco = Banco::abrir(&url).await.expect("opens");
    let filtro = |nota| broker::armazenamento::Filtro {
        nota,
        limite: 10,
        ..Default::default()
    };
    let todas = banco.conversas(&filtro(None)).await.expect("lists");
    let guardadas: Vec<(u64, Option<u8>)> = todas
        .iter()
        .map(|c| (c.id as u64, c.nota.map(|n| n as u8)))
        .collect();
    assert_eq!(guardadas, notas);
    let com_quatro = banco.conversas(&filtro(Some(4))).await.expect("lists");
    assert_eq!(com_quatro.len(), 1);
    assert_eq!(com_quatro[0].cliente, "Ana");
    assert!(broker::relatorio::linha(&com_quatro[0]).ends_with("; nota 4)"));
}

#[tokio::test]
async fn sem_resposta_a_tempo_a_sessao_termina() {
    let config = Config {
        prazo_avaliacao: Duration::from_secs(1),
        ..config_de_teste()
    };
    let broker = iniciar_broker_com(config).await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    yuri.encerrar(conversa).await;
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    assert!(matches!(
        ana.proximo_evento().await,
        DoBroker::Avaliacao { prazo_s: 1, .. }
    ));
    assert_eq!(
        ana.proximo_evento().await,
        DoBroker::Fim {
            conversa: 0,
            motivo: MotivoFim::AtendenteEncerrou
        }
    );
    ana.esperar_fechamento().await;
    broker.parar().await;
}
