//! The conversation history, on both of its databases: SQLite (a file, the default) and the
//! machine's PostgreSQL server (each test in a schema of its own).

use broker::Config;
use broker::armazenamento::{Banco, Conversa, Filtro};
use proto::{CodigoErro, Destino, DoBroker, MotivoFim, ParaBroker};
use tests::bancos::{banco_postgres, banco_sqlite, largar_esquema};
use tests::{Par, Participante, config_de_teste, esperar_par, iniciar_broker_com};

/// The conversations that pass `filtro`.
async fn listar(historico: &Banco, filtro: Filtro) -> Vec<Conversa> {
    historico.conversas(&filtro).await.expect("lists")
}

fn config_com_banco(url: &str) -> Config {
    Config {
        banco: Some(url.to_owned()),
        ..config_de_teste()
    }
}

/// Three conversations: Ana with Yuri (two round trips, then Ana leaves), then Bia with Yuri
/// (ended by Yuri), then Caio, still chatting when the broker is stopped (which stores
/// everything queued). Yuri must be told of `anteriores_de_ana` earlier chats of Ana's.
async fn atender_tres_clientes(url: &str, anteriores_de_ana: usize) {
    let broker = iniciar_broker_com(config_com_banco(url)).await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "vendas").await;
    let (sobre, anteriores) = par.atendente.esperar_anteriores().await;
    assert_eq!(sobre, par.atendente.conversa);
    let ja_houve: Vec<_> = anteriores.iter().map(|a| a.conversa).collect();
    assert!(
        ja_houve.iter().all(|&c| c < sobre),
        "only earlier conversations: {anteriores:?}"
    );
    assert_eq!(anteriores.len(), anteriores_de_ana, "{anteriores:?}");
    if let Some(ultima) = anteriores.first() {
        // Ana's previous chat: with Yuri, four lines, ended by her.
        assert_eq!(ultima.atendente, "Yuri");
        assert_eq!(ultima.departamento, "vendas");
        assert_eq!(ultima.mensagens, 4);
        assert_eq!(ultima.motivo, Some(MotivoFim::ClienteSaiu));
    }
    par.conversar().await;
    par.conversar().await;
    par.cliente.enviar(ParaBroker::Sair { seq: 0 }).await;
    par.atendente.esperar_fim(MotivoFim::ClienteSaiu).await;
    let mut yuri = par.atendente;
    let mut bia = Participante::cliente(endereco, "Bia", "vendas").await;
    esperar_par(&mut bia, &mut yuri).await;
    bia.dizer("ção 🎉").await;
    yuri.esperar_mensagem("Bia", "ção 🎉").await;
    yuri.encerrar(yuri.conversa).await;
    bia.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    // Caio is still chatting when the broker shuts down.
    let mut caio = Participante::cliente(endereco, "Caio", "vendas").await;
    esperar_par(&mut caio, &mut yuri).await;
    broker.parar().await;
}

async fn grava_e_le_de_volta(url: &str) {
    atender_tres_clientes(url, 0).await;
    let historico = Banco::abrir(url).await.expect("the history opens");
    let conversas = listar(
        &historico,
        Filtro {
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(conversas.len(), 3, "{conversas:?}");
    let (ana, bia, caio) = (&conversas[0], &conversas[1], &conversas[2]);
    assert_eq!(caio.cliente, "Caio");
    assert_eq!(caio.motivo.as_deref(), Some("broker_encerrando"));
    assert_eq!(caio.mensagens, 0);
    assert_eq!(
        (
            ana.cliente.as_str(),
            ana.atendente.as_str(),
            ana.departamento.as_str()
        ),
        ("Ana", "Yuri", "vendas")
    );
    assert_eq!(ana.motivo.as_deref(), Some("cliente_saiu"));
    assert_eq!(ana.mensagens, 4);
    assert!(ana.entrou_em <= ana.conectada_em);
    assert!(ana.encerrada_em.is_some_and(|fim| fim >= ana.conectada_em));
    assert_eq!(bia.cliente, "Bia");
    assert_eq!(bia.motivo.as_deref(), Some("atendente_encerrou"));
    assert!(bia.id > ana.id);

    let (_, linhas) = historico
        .transcricao(ana.id)
        .await
        .expect("reads")
        .expect("the conversation is there");
    let lidas: Vec<_> = linhas
        .iter()
        .map(|m| (m.seq, m.papel.as_str(), m.autor.as_str(), m.texto.as_str()))
        .collect();
    assert_eq!(
        lidas,
        [
            (1, "cliente", "Ana", "pergunta 1"),
            (2, "atendente", "Yuri", "resposta 1"),
            (3, "cliente", "Ana", "pergunta 2"),
            (4, "atendente", "Yuri", "resposta 2"),
        ]
    );
    let (_, linhas) = historico
        .transcricao(bia.id)
        .await
        .expect("reads")
        .expect("there");
    assert_eq!(linhas.len(), 1);
    assert_eq!(linhas[0].texto, "ção 🎉");

    // Filters.
    let so_bia = listar(
        &historico,
        Filtro {
            cliente: Some("Bia".into()),
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(so_bia.len(), 1);
    let outro_departamento = listar(
        &historico,
        Filtro {
            departamento: Some("suporte".into()),
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert!(outro_departamento.is_empty());
    let so_a_ultima = listar(
        &historico,
        Filtro {
            limite: 1,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(so_a_ultima.len(), 1);
    assert_eq!(so_a_ultima[0].id, caio.id);
    assert!(
        historico
            .transcricao(bia.id + 100)
            .await
            .expect("reads")
            .is_none()
    );

    // A restarted broker numbers new conversations after the stored ones, and tells the agent
    // about the customer's earlier chats when a new one starts.
    atender_tres_clientes(url, 1).await;
    let todas = listar(
        &historico,
        Filtro {
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(todas.len(), 6);
    let ids: Vec<i64> = todas.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            ana.id,
            bia.id,
            caio.id,
            caio.id + 1,
            caio.id + 2,
            caio.id + 3
        ]
    );
}

#[tokio::test]
async fn historico_no_sqlite() {
    grava_e_le_de_volta(&banco_sqlite("grava")).await;
}

#[tokio::test]
async fn historico_no_postgres() {
    grava_e_le_de_volta(&banco_postgres("grava").await).await;
    // Leave the server as it was (on failure the schema stays, for a look).
    largar_esquema("grava").await;
}

/// Yuri hands Ana's chat to Zoe, who sees the lines so far and goes on with it; Zoe hands it to
/// `suporte`, where Ana waits until Caio arrives and takes it over. One conversation id
/// throughout; the history tells who served it and when.
async fn transferencias_ficam_no_historico(url: &str) {
    let broker = iniciar_broker_com(config_com_banco(url)).await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    yuri.esperar_anteriores().await;
    ana.dizer("meu pedido não chegou").await;
    yuri.esperar_mensagem("Ana", "meu pedido não chegou").await;
    yuri.dizer("vou passar para a Zoe").await;
    ana.esperar_mensagem("Yuri", "vou passar para a Zoe").await;

    // Nobody by that name: refused, and the chat goes on.
    let para = |destino| ParaBroker::Transferir {
        conversa,
        destino,
        seq: 0,
    };
    yuri.enviar(para(Destino::Atendente("ninguém".into())))
        .await;
    match yuri.proximo_evento().await {
        DoBroker::Erro { codigo, .. } => assert_eq!(codigo, CodigoErro::TransferenciaRecusada),
        outro => panic!("esperava a recusa, chegou {outro:?}"),
    }
    let mut zoe = Participante::atendente(endereco, "Zoe", &["suporte"]).await;
    yuri.enviar(para(Destino::Atendente("@zoe".into()))).await;
    yuri.esperar_fim(MotivoFim::Transferido).await;
    assert_eq!(
        ana.proximo_evento().await,
        DoBroker::Transferido {
            conversa,
            para: "Zoe".into()
        }
    );
    assert_eq!(
        esperar_par(&mut ana, &mut zoe).await,
        conversa,
        "the same chat"
    );
    match zoe.proximo_evento().await {
        DoBroker::Transcricao { falas, .. } => {
            let linhas: Vec<_> = falas
                .iter()
                .map(|f| (f.de.as_str(), f.texto.as_str()))
                .collect();
            assert_eq!(
                linhas,
                [
                    ("Ana", "meu pedido não chegou"),
                    ("Yuri", "vou passar para a Zoe")
                ]
            );
        }
        outro => panic!("esperava a conversa até aqui, chegou {outro:?}"),
    }
    zoe.dizer("Oi Ana, vejo aqui o seu pedido.").await;
    ana.esperar_mensagem("Zoe", "Oi Ana, vejo aqui o seu pedido.")
        .await;

    // To a department with nobody free: Ana waits in its line, then Caio takes the chat.
    zoe.enviar(ParaBroker::Transferir {
        conversa,
        destino: Destino::Departamento("Entregas".into()),
        seq: 0,
    })
    .await;
    zoe.esperar_fim(MotivoFim::Transferido).await;
    assert_eq!(
        ana.proximo_evento().await,
        DoBroker::Transferido {
            conversa,
            para: "entregas".into()
        }
    );
    ana.esperar_posicao(1).await;
    let mut caio = Participante::atendente(endereco, "Caio", &["entregas"]).await;
    assert_eq!(esperar_par(&mut ana, &mut caio).await, conversa);
    match caio.proximo_evento().await {
        DoBroker::Transcricao { falas, .. } => assert_eq!(falas.len(), 3, "{falas:?}"),
        outro => panic!("esperava a conversa até aqui, chegou {outro:?}"),
    }
    caio.dizer("Sou o Caio, das entregas.").await;
    ana.esperar_mensagem("Caio", "Sou o Caio, das entregas.")
        .await;
    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    caio.esperar_fim(MotivoFim::ClienteSaiu).await;
    broker.parar().await;

    let historico = Banco::abrir(url).await.expect("opens");
    let id = i64::try_from(conversa).expect("small id");
    let (guardada, mensagens) = historico
        .transcricao(id)
        .await
        .expect("reads")
        .expect("stored");
    assert_eq!(guardada.atendente, "Yuri", "the first agent");
    assert_eq!(guardada.motivo.as_deref(), Some("cliente_saiu"));
    assert_eq!(mensagens.len(), 4, "every line, in one conversation");
    let transferencias = historico.transferencias(id).await.expect("reads");
    let passos: Vec<_> = transferencias
        .iter()
        .map(|t| (t.de.as_str(), t.para.as_str(), t.assumida_por.as_deref()))
        .collect();
    assert_eq!(
        passos,
        [
            ("Yuri", "Zoe", Some("Zoe")),
            ("Zoe", "entregas", Some("Caio"))
        ]
    );
    assert!(transferencias.iter().all(|t| t.assumida_em >= Some(t.em)));
}

#[tokio::test]
async fn transferencias_no_sqlite() {
    transferencias_ficam_no_historico(&banco_sqlite("transferencias")).await;
}

#[tokio::test]
async fn transferencias_no_postgres() {
    let url = banco_postgres("transferencias").await;
    transferencias_ficam_no_historico(&url).await;
    largar_esquema("transferencias").await;
}

/// A chat its agent does not answer goes on with the next agent: one conversation, and the
/// history says who did not answer and who took it over.
#[tokio::test]
async fn conversa_sem_resposta_continua_no_historico() {
    let url = banco_sqlite("sem_resposta");
    let broker = iniciar_broker_com(Config {
        prazo_resposta: std::time::Duration::from_millis(300),
        ..config_com_banco(&url)
    })
    .await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    ana.dizer("alô?").await;
    yuri.esperar_mensagem("Ana", "alô?").await;
    yuri.esperar_fim(MotivoFim::SemResposta).await;
    let mut zoe = Participante::atendente(endereco, "Zoe", &["geral"]).await;
    assert_eq!(esperar_par(&mut ana, &mut zoe).await, conversa);
    zoe.dizer("Oi, Ana!").await;
    ana.esperar_mensagem("Zoe", "Oi, Ana!").await;
    broker.parar().await;

    let historico = Banco::abrir(&url).await.expect("opens");
    let id = i64::try_from(conversa).expect("small id");
    let (_, mensagens) = historico
        .transcricao(id)
        .await
        .expect("reads")
        .expect("stored");
    assert_eq!(mensagens.len(), 2, "both lines in the one conversation");
    let transferencias = historico.transferencias(id).await.expect("reads");
    let passos: Vec<_> = transferencias
        .iter()
        .map(|t| {
            (
                t.de.as_str(),
                t.para.as_str(),
                t.sem_resposta,
                t.assumida_por.as_deref(),
            )
        })
        .collect();
    assert_eq!(passos, [("Yuri", "geral", 1, Some("Zoe"))]);
}
